"""SGC (Wu et al., ICML 2019) as a scikit-learn Pipeline on Cora and Citeseer.

    python examples/sgc_pipeline.py            # Cora (bundled) + Citeseer (shared data folder)

Pipeline = GraphPropagation(graph, k, features=X) -> LogisticRegression(C).
X of the pipeline is a column of node ids, so GridSearchCV can split it by rows
while the propagation always sees the whole graph. k and C are chosen on the
public validation split only (PredefinedSplit, refit=False); the chosen model
is then trained on the 20-per-class training nodes and scored once on the
1000 test nodes. Data: the Planetoid public split (Yang et al., ICML 2016).
"""
import os
import sys
import time

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, PredefinedSplit
from sklearn.pipeline import Pipeline
from threadpoolctl import threadpool_limits

from pysparsegraph import CSRMatrix
from pysparsegraph.datasets import NodeDataset, load_cora, shared_data_dir
from pysparsegraph.sklearn import GraphLabelPropagation, GraphPropagation

PARAM_GRID = {"prop__k": [1, 2, 3], "clf__C": [0.1, 0.3, 1.0, 3.0, 10.0]}


def load_planetoid(name):
    """Cora/Citeseer from the shared folder's NAME.npz (None if absent)."""
    if name == "cora":
        return load_cora()
    root = shared_data_dir()
    path = None if root is None else os.path.join(root, name, f"{name}.npz")
    if path is None or not os.path.exists(path):
        return None
    with np.load(path) as d:
        graph = CSRMatrix(d["indptr"], d["indices"], shape=tuple(int(s) for s in d["shape"]))
        return NodeDataset(name, graph, d["features"].astype(np.float32), d["labels"].astype(np.int64),
                           d["idx_train"], d["idx_val"], d["idx_test"], int(d["num_classes"]))


def sgc_pipeline(data, k=2, C=1.0):
    return Pipeline([("prop", GraphPropagation(data.graph, k=k, features=data.features)),
                     ("clf", LogisticRegression(C=C, max_iter=2000))])


def select_and_score(data, param_grid=PARAM_GRID):
    """Grid search on the validation split, then train on train, score on test.

    Returns (best_params, validation accuracy, test accuracy)."""
    ids = np.arange(data.graph.n_rows).reshape(-1, 1)
    tv = np.concatenate([data.idx_train, data.idx_val])
    fold = np.r_[np.full(len(data.idx_train), -1), np.zeros(len(data.idx_val), dtype=int)]
    search = GridSearchCV(sgc_pipeline(data), param_grid, cv=PredefinedSplit(fold), refit=False)
    search.fit(ids[tv], data.labels[tv])
    best = search.best_params_
    model = sgc_pipeline(data).set_params(**best).fit(ids[data.idx_train], data.labels[data.idx_train])
    return best, search.best_score_, model.score(ids[data.idx_test], data.labels[data.idx_test])


def main(argv=None):
    import argparse
    argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter).parse_args(argv)
    # One BLAS thread: LogisticRegression's small matrix products gain nothing
    # from more, and OpenBLAS threads spinning on a busy 2-core machine made each
    # fit ~50x slower. The propagation (OpenMP) keeps its threads.
    with threadpool_limits(limits=1, user_api="blas"):
        return _run()


def _run():
    for name, paper in (("cora", 0.810), ("citeseer", 0.719)):
        data = load_planetoid(name)
        if data is None:
            print(f"{name}: skipped, {name}.npz not found (set PYSPARSEGRAPH_DATA to the shared data folder)")
            continue
        t0 = time.perf_counter()
        best, val, test = select_and_score(data)
        print(f"{name}: best {best}  val acc {val:.3f}  test acc {test:.3f}  (SGC paper {paper:.3f})  "
              f"[{time.perf_counter() - t0:.1f} s for {len(PARAM_GRID['prop__k']) * len(PARAM_GRID['clf__C'])} "
              "fits + final fit]")
    # Graph-only baseline: label spreading over the same graph from the same
    # training labels (no features). Published label propagation: 68.0 / 45.3 / 63.0
    # (Kipf & Welling 2017, Table 2).
    for name in ("cora", "citeseer", "pubmed"):
        root = shared_data_dir()
        path = None if root is None else os.path.join(root, name, f"{name}.npz")
        if name != "cora" and (path is None or not os.path.exists(path)):
            continue
        if name == "cora":
            data = load_cora(features=False)
            graph, labels, train, test = data.graph, data.labels, data.idx_train, data.idx_test
        else:
            with np.load(path) as d:
                graph = CSRMatrix(d["indptr"], d["indices"], shape=tuple(int(s) for s in d["shape"]))
                labels, train, test = d["labels"], d["idx_train"], d["idx_test"]
        ids = np.arange(graph.n_rows).reshape(-1, 1)
        lp = GraphLabelPropagation(graph, alpha=0.9).fit(ids[train], labels[train])
        print(f"{name}: label spreading (graph only) test acc {lp.score(ids[test], labels[test]):.3f} "
              f"after {lp.n_iter_} iterations")
    return 0


if __name__ == "__main__":
    sys.exit(main())
