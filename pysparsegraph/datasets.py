"""Bundled and shared example graphs.

``load_cora()`` reads the copy of Cora that ships inside the package (graph,
0/1 bag-of-words features, labels and the public Planetoid split, converted from
the Planetoid files of Yang et al., ICML 2016, with PyG's conventions: self
loops removed, edges symmetric and de-duplicated).
"""
import os
from dataclasses import dataclass
from importlib import resources
from typing import Optional

import numpy as np

from pysparsegraph.matrix import CSRMatrix


@dataclass
class NodeDataset:
    """A node-classification dataset: graph, features, labels and split."""
    name: str
    graph: CSRMatrix
    features: Optional[np.ndarray]
    labels: np.ndarray
    idx_train: np.ndarray
    idx_val: np.ndarray
    idx_test: np.ndarray
    num_classes: int


def load_cora(features=True):
    """Cora (2,708 nodes, 10,556 stored edges, 1,433 features, 7 classes).

    Returns a :class:`NodeDataset`; ``features`` is a dense float32 array
    (PyG's ``data.x``) or None when ``features=False``.
    """
    with resources.files("pysparsegraph").joinpath("data/cora.npz").open("rb") as fh:
        d = np.load(fh)
        graph = CSRMatrix(d["indptr"], d["indices"], shape=tuple(d["shape"]))
        x = None
        if features:
            shape = tuple(int(s) for s in d["feature_shape"])
            x = np.zeros(shape, dtype=np.float32)
            fp = d["feature_indptr"]
            rows = np.repeat(np.arange(shape[0]), np.diff(fp))
            x[rows, d["feature_indices"].astype(np.int64)] = 1.0
        return NodeDataset("cora", graph, x, d["labels"].astype(np.int64), d["idx_train"], d["idx_val"],
                           d["idx_test"], int(d["num_classes"]))


def shared_data_dir():
    """The folder of real public graphs (``../shared/data`` beside a checkout),
    or ``$PYSPARSEGRAPH_DATA`` when set; None if it cannot be found (a set
    variable naming no folder gives None, not another folder's data)."""
    env = os.environ.get("PYSPARSEGRAPH_DATA")
    if env:
        return os.path.abspath(env) if os.path.isdir(env) else None
    candidates = []
    here = os.path.dirname(os.path.abspath(__file__))
    for base in (os.getcwd(), here):
        candidates += [os.path.join(base, "..", "shared", "data"), os.path.join(base, "..", "..", "shared", "data")]
    for c in candidates:
        if c and os.path.isdir(c):
            return os.path.abspath(c)
    return None


def load_npz_graph(path):
    """A CSRMatrix from an ``.npz`` with ``indptr``/``indices``/``shape`` (+ optional ``data``)."""
    from pysparsegraph.io import read_npz  # the one npz reader (checks keys and shape); io loads on first use

    return read_npz(path)
