/* pysparsegraph — umbrella header of the public C API. */
#ifndef PYSPARSEGRAPH_H
#define PYSPARSEGRAPH_H
#include "pysparsegraph/status.h"
#include "pysparsegraph/threads.h"
#include "pysparsegraph/csr.h"
#include "pysparsegraph/spmm.h"
#include "pysparsegraph/io.h"
#endif
