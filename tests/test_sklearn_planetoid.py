"""End-to-end results of pysparsegraph.sklearn on the Planetoid graphs.

SGC (Wu et al., ICML 2019) reports 81.0% (Cora) and 71.9% (Citeseer) test
accuracy on the public split (Yang et al., ICML 2016); a Pipeline of
GraphPropagation and LogisticRegression must reach 80% / 71%, with k and C chosen
on the validation split only. Label propagation is checked on Cora's real labels
and on coAuthorsDBLP (Geisberger et al., via the SuiteSparse collection) with
planted labels.
"""
import os

import numpy as np
import pytest

pytest.importorskip("sklearn", reason="scikit-learn is needed for pysparsegraph.sklearn (pip install scikit-learn)")
import scipy.sparse as sp  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.model_selection import GridSearchCV, PredefinedSplit  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from pysparsegraph import CSRMatrix  # noqa: E402
from pysparsegraph.datasets import NodeDataset, load_cora, load_npz_graph, shared_data_dir  # noqa: E402
from pysparsegraph.sklearn import GraphLabelPropagation, GraphPropagation  # noqa: E402


@pytest.fixture(autouse=True)
def _one_blas_thread():
    # LogisticRegression's small BLAS calls gain nothing from threads, and
    # OpenBLAS workers spinning on a shared 2-core machine slow each fit ~50x.
    with threadpool_limits(limits=1, user_api="blas"):
        yield


def _shared(*parts):
    root = shared_data_dir()
    if root is None:
        pytest.skip("shared data folder not found (set PYSPARSEGRAPH_DATA to ../shared/data)")
    path = os.path.join(root, *parts)
    if not os.path.exists(path):
        pytest.skip(f"{os.path.join(*parts)} is not in the shared data folder {root}")
    return path


def _citeseer():
    with np.load(_shared("citeseer", "citeseer.npz")) as d:
        graph = CSRMatrix(d["indptr"], d["indices"], shape=tuple(int(s) for s in d["shape"]))
        return NodeDataset("citeseer", graph, d["features"].astype(np.float32), d["labels"].astype(np.int64),
                           d["idx_train"], d["idx_val"], d["idx_test"], int(d["num_classes"]))


def _pipeline(data, k=2, C=1.0):
    return Pipeline([("prop", GraphPropagation(data.graph, k=k, features=data.features)),
                     ("clf", LogisticRegression(C=C, max_iter=2000))])


def _search(data, grid):
    ids = np.arange(data.graph.n_rows).reshape(-1, 1)
    tv = np.concatenate([data.idx_train, data.idx_val])
    fold = np.r_[np.full(len(data.idx_train), -1), np.zeros(len(data.idx_val), dtype=int)]
    search = GridSearchCV(_pipeline(data), grid, cv=PredefinedSplit(fold), refit=False)
    return search.fit(ids[tv], data.labels[tv]), ids


GRID = {"prop__k": [1, 2, 3], "clf__C": [0.1, 0.3, 1.0, 3.0, 10.0]}


@pytest.mark.parametrize("name, minimum", [("cora", 0.80), ("citeseer", 0.71)])
def test_sgc_pipeline_accuracy(name, minimum):
    data = load_cora() if name == "cora" else _citeseer()
    search, ids = _search(data, GRID)
    # The grid search scored each candidate on the validation nodes only; the
    # chosen one is retrained on the training nodes (the public split's 20 per
    # class) and evaluated once on the test nodes.
    model = _pipeline(data).set_params(**search.best_params_)
    model.fit(ids[data.idx_train], data.labels[data.idx_train])
    acc = model.score(ids[data.idx_test], data.labels[data.idx_test])
    assert acc >= minimum, f"{name}: test accuracy {acc:.3f} < {minimum} with {search.best_params_}"


def test_grid_search_over_k_matches_manual_validation_scores():
    data = load_cora()
    search, ids = _search(data, {"prop__k": [0, 1, 2, 3], "clf__C": [1.0]})
    scores = search.cv_results_["split0_test_score"]
    for k, score in zip(search.cv_results_["param_prop__k"], scores):
        manual = _pipeline(data, k=k).fit(ids[data.idx_train], data.labels[data.idx_train])
        assert score == pytest.approx(manual.score(ids[data.idx_val], data.labels[data.idx_val]))
    # Propagation must help: any k >= 1 beats the graph-free k = 0 on validation.
    assert scores[0] < min(scores[1:]) - 0.1
    # The normalized adjacency was built once and shared by every clone.
    assert sum(1 for key in data.graph._cache if key[0] == "sklearn.normalized") == 1  # one dtype: one matrix


def test_sgc_features_match_scipy_on_citeseer():
    # Citeseer has 48 isolated nodes: with self loops they keep their features.
    data = _citeseer()
    a = data.graph.to_scipy(np.float64)
    ahat = a + sp.eye_array(a.shape[0])
    d = 1.0 / np.sqrt(np.asarray(ahat.sum(axis=1)).ravel())
    s = sp.diags_array(d) @ ahat @ sp.diags_array(d)
    x = data.features[:, :300].astype(np.float64)  # 300 of 3703 columns keep the test fast
    ref = s @ (s @ x)
    out = GraphPropagation(data.graph, k=2).fit_transform(x)
    np.testing.assert_allclose(out, ref, rtol=1e-12, atol=1e-14)
    isolated = np.flatnonzero(np.diff(data.graph.indptr) == 0)
    assert isolated.size == 48
    np.testing.assert_array_equal(out[isolated], x[isolated])


def _spread_reference(a, seeds, codes, n_classes, alpha, n_iter):
    """Label spreading in plain scipy, S = D^-1/2 A D^-1/2 (Zhou et al. 2004)."""
    a = sp.csr_array(a, dtype=np.float64)
    deg = np.asarray(a.sum(axis=1)).ravel()
    r = np.where(deg > 0, 1.0 / np.sqrt(np.where(deg > 0, deg, 1.0)), 0.0)
    s = sp.diags_array(r) @ a @ sp.diags_array(r)
    y = np.zeros((a.shape[0], n_classes))
    y[seeds, codes] = 1.0
    f = y.copy()
    for _ in range(n_iter):
        f = alpha * (s @ f) + (1 - alpha) * y
    return f


def test_label_propagation_on_cora():
    data = load_cora()
    ids = np.arange(data.graph.n_rows).reshape(-1, 1)
    lp = GraphLabelPropagation(data.graph, alpha=0.9, max_iter=30, tol=0.0)
    lp.fit(ids[data.idx_train], data.labels[data.idx_train])
    assert lp.n_iter_ == 30
    ref = _spread_reference(data.graph.to_scipy(), data.idx_train, data.labels[data.idx_train], 7, 0.9, 30)
    tot = ref.sum(axis=1, keepdims=True)
    # Cora has 78 components; nodes that no label reaches get a uniform row.
    ref_dist = np.where(tot > 0, ref / np.where(tot > 0, tot, 1.0), 1.0 / 7)
    assert np.any(tot == 0)
    np.testing.assert_allclose(lp.label_distributions_, ref_dist, rtol=1e-10, atol=1e-12)
    np.testing.assert_array_equal(lp.transduction_[data.idx_train], data.labels[data.idx_train])
    # Kipf & Welling (ICLR 2017, Table 2) list label propagation at 68.0% on Cora.
    acc = lp.score(ids[data.idx_test], data.labels[data.idx_test])
    assert acc >= 0.68, acc
    # -1 marks unlabelled nodes: passing every node with the non-training ones
    # at -1 is the same fit.
    y_all = np.full(data.graph.n_rows, -1)
    y_all[data.idx_train] = data.labels[data.idx_train]
    lp2 = GraphLabelPropagation(data.graph, alpha=0.9, max_iter=30, tol=0.0).fit(ids, y_all)
    np.testing.assert_array_equal(lp2.label_distributions_, lp.label_distributions_)


def test_label_propagation_scales_to_coauthors_dblp():
    from scipy.sparse.csgraph import shortest_path

    graph = load_npz_graph(_shared("coAuthorsDBLP", "coAuthorsDBLP.npz"))
    n = graph.n_rows
    rng = np.random.default_rng(0)
    # Planted labels: the graph Voronoi cell (nearest of 4 random centres by
    # hop count) of each node. Nodes no centre reaches are left out.
    centres = rng.choice(n, 4, replace=False)
    dist = shortest_path(graph.to_scipy(), unweighted=True, indices=centres)
    reached = np.isfinite(dist).any(axis=0)
    truth = np.argmin(dist, axis=0)
    labelled = rng.choice(np.flatnonzero(reached), n // 100, replace=False)
    ids = np.arange(n).reshape(-1, 1)
    lp = GraphLabelPropagation(graph, alpha=0.99, max_iter=30, tol=1e-6)
    lp.fit(ids[labelled], truth[labelled])
    evaluate = np.setdiff1d(np.flatnonzero(reached), labelled)
    acc = np.mean(lp.predict(ids[evaluate]) == truth[evaluate])
    assert acc >= 0.8, acc
    assert lp.label_distributions_.shape == (n, 4)
    # Same iterations as the scipy reference, a few steps.
    lp5 = GraphLabelPropagation(graph, alpha=0.99, max_iter=5, tol=0.0).fit(ids[labelled], truth[labelled])
    ref = _spread_reference(graph.to_scipy(), labelled, truth[labelled], 4, 0.99, 5)
    tot = ref.sum(axis=1, keepdims=True)
    ref = np.where(tot > 0, ref / np.where(tot > 0, tot, 1), 0.25)
    np.testing.assert_allclose(lp5.label_distributions_, ref, rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("name, published", [("citeseer", 0.453), ("pubmed", 0.630)])
def test_label_propagation_reaches_published_accuracy(name, published):
    # Kipf & Welling (ICLR 2017, Table 2): label propagation (Zhu et al. 2003)
    # reaches 45.3% on Citeseer and 63.0% on PubMed with the public split.
    path = _shared(name, f"{name}.npz")
    graph = load_npz_graph(path)
    with np.load(path) as d:
        labels, train, test = d["labels"], d["idx_train"], d["idx_test"]
    ids = np.arange(graph.n_rows).reshape(-1, 1)
    lp = GraphLabelPropagation(graph, alpha=0.9).fit(ids[train], labels[train])
    assert lp.n_iter_ < 100  # converged (tol 1e-4)
    acc = lp.score(ids[test], labels[test])
    assert acc >= published, acc
