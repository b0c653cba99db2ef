"""pysparsegraph: sparse graphs and sparse weights made cheap for deep learning on CPUs.

``import pysparsegraph`` needs only numpy and threadpoolctl; scipy and other
optional packages are imported inside the functions that use them.
"""
__version__ = "0.1.0"


def _use_installed_core():
    """Lets ``python -m pysparsegraph`` work from an unbuilt source checkout.

    ``python -m`` puts the current folder first on sys.path, so inside a
    checkout this package is the source folder, which has no compiled
    ``_core``. When that is the case, the compiled module of the installed copy
    (``pip install .``) is found by adding that copy's folder to this package's
    search path; the Python modules still come from the checkout (same code).
    """
    import importlib.machinery
    import os
    import sys

    here = os.path.dirname(os.path.abspath(__file__))
    if any(os.path.exists(os.path.join(here, "_core" + s)) for s in importlib.machinery.EXTENSION_SUFFIXES):
        return
    for entry in sys.path:
        cand = os.path.join(os.path.abspath(entry or os.curdir), "pysparsegraph")
        if cand != here and any(os.path.exists(os.path.join(cand, "_core" + s))
                                for s in importlib.machinery.EXTENSION_SUFFIXES):
            __path__.append(cand)
            return


_use_installed_core()

from pysparsegraph import errors, generate, gnn, io, reorder
from pysparsegraph.config import show_config
from pysparsegraph.gnn import (edge_softmax, edge_softmax_backward, sddmm, sddmm_backward, spmm_backward,
                               spmm_transpose)
from pysparsegraph.io import load, load_extra, read, save, write
from pysparsegraph.matrix import CSRMatrix
from pysparsegraph.ops import empty_aligned, spmm
from pysparsegraph.plan import Plan, plan_spmm, spmm_bf16, to_bfloat16

from_scipy = CSRMatrix.from_scipy
from_edges = CSRMatrix.from_edges

__all__ = ["CSRMatrix", "empty_aligned", "errors", "from_edges", "from_scipy", "show_config", "spmm", "__version__",
           "Plan", "generate", "plan_spmm", "spmm_bf16", "to_bfloat16",
           "io", "load", "load_extra", "read", "reorder", "save", "write",
           "gnn", "edge_softmax", "edge_softmax_backward", "sddmm", "sddmm_backward", "spmm_backward",
           "spmm_transpose"]
