"""pysparsegraph: sparse graphs and sparse weights made cheap for deep learning on CPUs.

``import pysparsegraph`` needs only numpy and threadpoolctl; scipy and other
optional packages are imported inside the functions that use them.
"""
__version__ = "0.1.0"

from pysparsegraph import errors, generate, gnn, io, reorder
from pysparsegraph.config import show_config
from pysparsegraph.gnn import (edge_softmax, edge_softmax_backward, sddmm, sddmm_backward, spmm_backward,
                               spmm_transpose)
from pysparsegraph.io import load, read, save, write
from pysparsegraph.matrix import CSRMatrix
from pysparsegraph.ops import spmm
from pysparsegraph.plan import Plan, plan_spmm, spmm_bf16, to_bfloat16

from_scipy = CSRMatrix.from_scipy
from_edges = CSRMatrix.from_edges

__all__ = ["CSRMatrix", "errors", "from_edges", "from_scipy", "show_config", "spmm", "__version__",
           "Plan", "generate", "plan_spmm", "spmm_bf16", "to_bfloat16",
           "io", "load", "read", "reorder", "save", "write",
           "gnn", "edge_softmax", "edge_softmax_backward", "sddmm", "sddmm_backward", "spmm_backward",
           "spmm_transpose"]
