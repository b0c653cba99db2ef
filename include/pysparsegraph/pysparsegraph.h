/* pysparsegraph — umbrella header of the public C API. */
#ifndef PYSPARSEGRAPH_H
#define PYSPARSEGRAPH_H
#include "pysparsegraph/status.h"
#include "pysparsegraph/threads.h"
#include "pysparsegraph/csr.h"
#include "pysparsegraph/spmm.h"
#include "pysparsegraph/gnn.h"
#include "pysparsegraph/io.h"
#include "pysparsegraph/isa.h"
#include "pysparsegraph/sparse_linear.h"
#include "pysparsegraph/generate.h"
#include "pysparsegraph/probe.h"
#endif
