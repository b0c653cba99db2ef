"""pysparsegraph.sklearn against independent scipy / dense numpy references,
on adversarial graphs, plus the scikit-learn conventions of the fixed-graph
forms (which the generic checks in test_sklearn_checks.py cannot reach)."""
import pickle

import numpy as np
import pytest

pytest.importorskip("sklearn", reason="scikit-learn is needed for pysparsegraph.sklearn (pip install scikit-learn)")
import scipy.sparse as sp  # noqa: E402
from sklearn.base import clone  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from pysparsegraph import CSRMatrix, errors  # noqa: E402
from pysparsegraph.datasets import load_cora  # noqa: E402
from pysparsegraph.sklearn import (GraphLabelPropagation, GraphPropagation, KNNGraph,  # noqa: E402
                                   NeighborAggregation, _segment_max)


# ---------------------------------------------------------------- graphs
def _graph(kind, dtype=None):
    """(CSRMatrix, scipy reference with duplicates summed) for adversarial shapes."""
    rng = np.random.default_rng(hash(kind) % 2**32)
    n = 40
    if kind == "random":
        a = sp.random_array((n, n), density=0.1, rng=rng, format="csr")
        a = a + a.T
    elif kind == "hub":  # node 0 holds most edges, both ways
        src = np.r_[np.zeros(n - 1, int), np.arange(1, n), [3, 4]]
        dst = np.r_[np.arange(1, n), np.zeros(n - 1, int), [4, 3]]
        a = sp.csr_array((rng.random(src.size) + 0.5, (src, dst)), shape=(n, n))
    elif kind == "empty_rows_and_self_loops":
        src = np.array([0, 0, 1, 5, 5, 7, 9, 9])
        dst = np.array([0, 1, 0, 5, 9, 7, 5, 9])
        a = sp.csr_array((np.ones(src.size), (src, dst)), shape=(n, n))
    elif kind == "directed":
        a = sp.random_array((n, n), density=0.08, rng=rng, format="csr")
    else:
        raise AssertionError(kind)
    a = sp.csr_array(a)
    a.sum_duplicates()
    a.prune()  # sum_duplicates may leave spare entries past indptr[-1]
    indptr, indices, data = a.indptr.astype(np.int64), a.indices.copy(), a.data.copy()
    if kind == "hub":
        # Unsorted columns and a duplicated entry inside rows: the CSR keeps
        # them, scipy's reference sums them.
        indices[indptr[0]:indptr[1]] = indices[indptr[0]:indptr[1]][::-1].copy()
        indices = np.r_[indices[:indptr[1]], indices[indptr[1] - 1], indices[indptr[1]:]]
        data = np.r_[data[:indptr[1]], 0.25, data[indptr[1]:]]
        indptr = indptr.copy()
        indptr[1:] += 1
    g = CSRMatrix(indptr, indices, None if kind in ("empty_rows_and_self_loops",) else data, shape=(n, n))
    # copies: scipy's sum_duplicates rewrites its arrays in place, and g shares ours
    ref = sp.csr_array((np.ones(indices.size) if g.values is None else data.copy(), indices.copy(), indptr.copy()),
                       shape=(n, n))
    ref.sum_duplicates()
    return g, ref.astype(np.float64)


KINDS = ["random", "hub", "empty_rows_and_self_loops", "directed"]


def _norm_ref(a, norm, self_loops):
    a = a.tolil()
    if self_loops:
        d = a.diagonal()
        a.setdiag(np.where(a.tocsr().diagonal() != 0, d, 1.0))
        # a node whose stored loop is present keeps it (as PyG's add_remaining_self_loops)
    a = sp.csr_array(a)
    if norm == "none":
        return a
    deg = np.asarray(a.sum(axis=1)).ravel()
    inv = np.where(deg > 0, 1.0 / np.where(deg > 0, deg, 1.0), 0.0)
    if norm == "row":
        return sp.diags_array(inv) @ a
    r = np.sqrt(inv)
    return sp.diags_array(r) @ a @ sp.diags_array(r)


# ---------------------------------------------------------------- GraphPropagation
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("norm", ["sym", "row", "none"])
@pytest.mark.parametrize("self_loops", [True, False])
def test_propagation_matches_scipy(kind, norm, self_loops):
    g, a = _graph(kind)
    x = np.random.default_rng(1).standard_normal((g.n_rows, 5))
    s = _norm_ref(a, norm, self_loops)
    ref = [x]
    for _ in range(3):
        ref.append(s @ ref[-1])
    last = GraphPropagation(g, k=3, norm=norm, self_loops=self_loops).fit_transform(x)
    np.testing.assert_allclose(last, ref[3], rtol=1e-11, atol=1e-12)
    all_hops = GraphPropagation(g, k=3, norm=norm, self_loops=self_loops, hops="all").fit_transform(x)
    np.testing.assert_allclose(all_hops, np.hstack(ref), rtol=1e-11, atol=1e-12)
    # scipy input gives the same as CSRMatrix input
    np.testing.assert_array_equal(GraphPropagation(g.to_scipy(np.float64), k=3, norm=norm,
                                                   self_loops=self_loops).fit_transform(x), last)


def test_propagation_float32_kept_and_threads_bit_identical():
    cora = load_cora()
    x = cora.features
    outs = [GraphPropagation(cora.graph, k=2, n_threads=t).fit_transform(x) for t in (1, 2)]
    assert outs[0].dtype == np.float32
    np.testing.assert_array_equal(outs[0], outs[1])
    ref = GraphPropagation(cora.graph, k=2).fit_transform(x.astype(np.float64))
    assert ref.dtype == np.float64
    np.testing.assert_allclose(outs[0], ref, rtol=1e-5, atol=1e-6)
    # integers become float64
    assert GraphPropagation(cora.graph, k=1).fit_transform(x.astype(np.int64)).dtype == np.float64


def test_node_id_form_gathers_rows_of_full_form():
    cora = load_cora()
    full = GraphPropagation(cora.graph, k=2, hops="all").fit_transform(cora.features)
    est = GraphPropagation(cora.graph, k=2, hops="all", features=cora.features)
    ids = np.array([[5], [0], [2707], [5]])
    np.testing.assert_array_equal(est.fit(ids).transform(ids), full[[5, 0, 2707, 5]])
    # a node subset not seen in fit, 1-D ids, and float ids holding integers
    np.testing.assert_array_equal(est.transform(np.array([1, 2, 3])), full[[1, 2, 3]])
    np.testing.assert_array_equal(est.transform(np.array([[7.0]])), full[[7]])
    np.testing.assert_array_equal(est.fit_transform(ids), full[[5, 0, 2707, 5]])
    assert est.embedding_.shape == full.shape


def test_k0_returns_a_copy_and_inputs_are_not_modified():
    g, _ = _graph("random")
    x = np.random.default_rng(2).random((g.n_rows, 3))
    before = x.copy()
    out = GraphPropagation(g, k=0).fit_transform(x)
    np.testing.assert_array_equal(out, x)
    assert not np.shares_memory(out, x)
    out[:] = 7
    GraphPropagation(g, k=2, features=x).fit(np.arange(g.n_rows)[:, None])
    NeighborAggregation(g, "max", features=x).fit(np.arange(g.n_rows)[:, None])
    np.testing.assert_array_equal(x, before)


def test_empty_graph_and_single_feature():
    g = CSRMatrix(np.zeros(1, np.int64), np.zeros(0, np.int32), shape=(0, 0))
    est = GraphPropagation(g, k=2, features=np.zeros((0, 3), np.float32))
    out = est.fit(np.zeros((0, 1), np.int64)).transform(np.zeros((0, 1), np.int64))
    assert out.shape == (0, 3) and out.dtype == np.float32
    g1, a = _graph("random")
    x = np.random.default_rng(3).random((g1.n_rows, 1))
    np.testing.assert_allclose(GraphPropagation(g1, k=1).fit_transform(x), _norm_ref(a, "sym", True) @ x)


# ---------------------------------------------------------------- NeighborAggregation
def _dense_max(a, x):
    mask = a.toarray() != 0
    out = np.where(mask[:, :, None], x[None, :, :], -np.inf).max(axis=1)
    return np.where(mask.any(axis=1)[:, None], out, 0.0)


@pytest.mark.parametrize("kind", KINDS)
def test_neighbor_aggregation_matches_reference(kind):
    g, a = _graph(kind)
    x = np.random.default_rng(4).standard_normal((g.n_rows, 6))
    agg = {"sum": a @ x, "mean": _norm_ref(a, "row", False) @ x, "max": _dense_max(a, x)}
    for name, ref in agg.items():
        only = NeighborAggregation(g, name, include_self=False).fit_transform(x)
        np.testing.assert_allclose(only, ref, rtol=1e-12, atol=1e-12, err_msg=name)
        both = NeighborAggregation(g, name).fit_transform(x)
        np.testing.assert_array_equal(both, np.hstack([x, only]))


def _rowwise_max_ref(a, x):
    ref = np.zeros_like(x)
    for i in range(a.shape[0]):  # reference: one row at a time (test code only)
        nb = a.indices[a.indptr[i]:a.indptr[i + 1]]
        if nb.size:
            ref[i] = np.maximum.reduce(x[nb], axis=0)  # NaN-propagating, like the estimator promises
    return ref


def test_segment_max_threads_weights_and_nan_on_cora():
    cora = load_cora()
    x = cora.features[:, :40] * np.random.default_rng(5).standard_normal(40).astype(np.float32)
    a = cora.graph.to_scipy()
    ref = _rowwise_max_ref(a, x)
    for t in (1, 2):
        np.testing.assert_array_equal(_segment_max(cora.graph, x, n_threads=t), ref)
    np.testing.assert_array_equal(NeighborAggregation(cora.graph, "max", include_self=False, n_threads=1)
                                  .fit_transform(x), ref)
    # edge weights are ignored (the C reducer would otherwise take max of w * x)
    g = cora.graph
    weighted = CSRMatrix(g.indptr, g.indices, np.random.default_rng(6).random(g.nnz) * 5 - 2.5, shape=g.shape)
    np.testing.assert_array_equal(_segment_max(weighted, x), ref)
    # NaN in a neighbour's feature reaches the row whatever its position among
    # the neighbours (the C fold alone would drop a NaN after the first one)
    xn = x.copy()
    hub = int(np.argmax(np.diff(g.indptr)))
    nbrs = np.asarray(g.indices[g.indptr[hub]:g.indptr[hub + 1]])
    xn[nbrs[-1], 3] = np.nan  # last neighbour of the hub
    xn[nbrs[0], 7] = np.nan   # first neighbour of the hub
    xn[5, 0] = np.inf
    ref_n = _rowwise_max_ref(a, xn)
    assert np.isnan(ref_n[hub, 3]) and np.isnan(ref_n[hub, 7])
    for t in (1, 2):
        np.testing.assert_array_equal(_segment_max(cora.graph, xn, n_threads=t), ref_n)
    assert np.isnan(xn[nbrs[-1], 3])  # input untouched


def test_mean_and_sum_threads_bit_identical():
    cora = load_cora()
    for aggr in ("mean", "sum"):
        o1, o2 = (NeighborAggregation(cora.graph, aggr, n_threads=t).fit_transform(cora.features) for t in (1, 2))
        np.testing.assert_array_equal(o1, o2)
        assert o1.dtype == np.float32


# ---------------------------------------------------------------- conventions (fixed graph)
def test_clone_shares_graph_and_features_and_keeps_params():
    cora = load_cora()
    est = GraphPropagation(cora.graph, k=3, norm="row", features=cora.features).set_output(transform="default")
    c = clone(est)
    assert c.graph is cora.graph and c.features is cora.features
    assert c.get_params() == {**est.get_params()}
    assert not hasattr(c, "embedding_")
    c.set_params(k=1)
    assert est.k == 3 and c.k == 1


def test_set_output_pandas_and_feature_names():
    pd = pytest.importorskip("pandas", reason="pandas is needed for set_output(transform='pandas')")
    g, _ = _graph("random")
    x = np.random.default_rng(6).random((g.n_rows, 2))
    df = pd.DataFrame(x, columns=["age", "score"])
    gp = GraphPropagation(g, k=2, hops="all").set_output(transform="pandas")
    out = gp.fit_transform(df)
    assert list(out.columns) == ["hop0_age", "hop0_score", "hop1_age", "hop1_score", "hop2_age", "hop2_score"]
    assert list(GraphPropagation(g).fit(df).get_feature_names_out()) == ["age", "score"]
    # node-id form: names come from the features' columns, rows from the ids
    na = NeighborAggregation(g, "max", features=df).set_output(transform="pandas")
    ids = pd.DataFrame({"node": [3, 1]})
    out = na.fit(ids).transform(ids)
    assert list(out.columns) == ["age", "score", "max_age", "max_score"]
    np.testing.assert_array_equal(out.to_numpy()[:, :2], x[[3, 1]])
    assert list(NeighborAggregation(g, features=x).fit([[0]]).get_feature_names_out()) == ["x0", "x1", "mean_x0",
                                                                                         "mean_x1"]


def test_pickle_round_trip_of_fitted_estimators():
    cora = load_cora()
    ids = np.arange(cora.graph.n_rows)[:, None]
    for est in (GraphPropagation(cora.graph, features=cora.features), NeighborAggregation(cora.graph, "max"),
                GraphLabelPropagation(cora.graph, max_iter=5)):
        if isinstance(est, GraphLabelPropagation):
            est.fit(ids[cora.idx_train], cora.labels[cora.idx_train])
            before = est.predict_proba(ids)
        elif est.features is not None:
            before = est.fit(ids).transform(ids)
        else:
            before = est.fit_transform(cora.features)
        est2 = pickle.loads(pickle.dumps(est))
        after = est2.predict_proba(ids) if isinstance(est2, GraphLabelPropagation) else (
            est2.transform(ids) if est2.features is not None else est2.transform(cora.features))
        np.testing.assert_array_equal(before, after)


def test_pipeline_with_scaler_and_subset_transform():
    cora = load_cora()
    ids = np.arange(cora.graph.n_rows)[:, None]
    pipe = make_pipeline(GraphPropagation(cora.graph, k=2, features=cora.features), StandardScaler())
    out = pipe.fit(ids[cora.idx_train]).transform(ids[cora.idx_test])
    assert out.shape == (1000, 1433)


@pytest.mark.parametrize("bad, exc, words", [
    (dict(k=-1), errors.InvalidArgumentError, "k must"),
    (dict(k=1.5), errors.InvalidArgumentError, "k must"),
    (dict(norm="l2"), errors.InvalidArgumentError, "norm must"),
    (dict(hops="some"), errors.InvalidArgumentError, "hops must"),
    (dict(self_loops="yes"), errors.InvalidArgumentError, "self_loops must"),
    (dict(graph=None), errors.InvalidArgumentError, "graph is required"),
    (dict(graph=np.eye(3)), errors.DTypeError, "graph must be"),
    (dict(graph=sp.csr_array((3, 4))), errors.ShapeMismatchError, "square"),
])
def test_bad_parameters(bad, exc, words):
    g, _ = _graph("random")
    params = dict(graph=g)
    params.update(bad)
    x = np.ones((g.n_rows, 2))
    with pytest.raises(exc, match=words):
        GraphPropagation(**params).fit(x)


def test_bad_inputs_name_the_fix():
    g, _ = _graph("random")
    n = g.n_rows
    with pytest.raises(errors.ShapeMismatchError, match="pass the full feature matrix as features="):
        GraphPropagation(g).fit(np.ones((n - 1, 2)))
    est = GraphPropagation(g).fit(np.ones((n, 2)))
    with pytest.raises(errors.ShapeMismatchError, match="rows but the graph has"):
        est.transform(np.ones((n + 1, 2)))
    with pytest.raises(ValueError, match="features"):
        est.transform(np.ones((n, 3)))  # sklearn: X has 3 features, but ... expecting 2
    ids_est = GraphPropagation(g, features=np.ones((n, 2)))
    with pytest.raises(errors.IndexOutOfRangeError, match=f"outside \\[0, {n}\\)"):
        ids_est.fit([[n]])
    with pytest.raises(errors.IndexOutOfRangeError):
        ids_est.fit([[-1]])
    # the id as given, not as wrapped by a cast to int64
    with pytest.raises(errors.IndexOutOfRangeError, match="node id 1000000000000000019884624838656, outside"):
        ids_est.fit([[1e30]])
    with pytest.raises(errors.IndexOutOfRangeError, match="node id 9223372036854775813, outside"):
        ids_est.fit(np.array([[2 ** 63 + 5]], np.uint64))
    with pytest.raises(errors.DTypeError, match="integer node ids"):
        ids_est.fit([[0.5]])
    with pytest.raises(errors.ShapeMismatchError, match="column of node ids"):
        ids_est.fit(np.zeros((3, 2), int))
    with pytest.raises(errors.ShapeMismatchError, match="one row per node"):
        GraphPropagation(g, features=np.ones((n + 2, 2))).fit([[0]])
    # NaN in the features is computed through, reaching exactly the nodes scipy says
    x = np.ones((n, 2))
    x[3, 1] = np.nan
    out = GraphPropagation(g, k=1, features=x).fit(np.arange(n)[:, None]).embedding_
    np.testing.assert_array_equal(np.isnan(out), np.isnan(_norm_ref(_graph("random")[1], "sym", True) @ x))
    assert np.isnan(out).sum() > 1
    with pytest.raises(ValueError, match="NaN|infinity"):  # a graph built from X cannot take NaN
        GraphPropagation(KNNGraph(3)).fit(x)
    with pytest.raises(TypeError, match="dense data is required"):
        GraphPropagation(g).fit(sp.csr_array(np.ones((n, 2))))


def test_callable_graph_builder():
    x = np.random.default_rng(7).random((30, 3))
    a = KNNGraph(4)(x)
    np.testing.assert_array_equal(GraphPropagation(KNNGraph(4), k=2).fit_transform(x),
                                  GraphPropagation(a, k=2).fit_transform(x))
    with pytest.raises(errors.ShapeMismatchError, match="one node per row"):
        GraphPropagation(lambda z: sp.csr_array((3, 3))).fit_transform(x)


# ---------------------------------------------------------------- GraphLabelPropagation
def test_label_propagation_hard_clamp_and_validation():
    g, a = _graph("random")
    n = g.n_rows
    ids = np.arange(n)[:, None]
    seeds = np.array([0, 1, 2, 3])
    y = np.array(["a", "b", "a", "c"])
    lp = GraphLabelPropagation(g, clamp="hard", norm="row", max_iter=7, tol=0.0).fit(ids[seeds], y)
    assert list(lp.classes_) == ["a", "b", "c"]
    # reference: row-normalized propagation with the seed rows reset each step
    s = _norm_ref(a, "row", False)
    y0 = np.zeros((n, 3))
    y0[seeds, [0, 1, 0, 2]] = 1
    f = y0.copy()
    for _ in range(7):
        f = s @ f
        f[seeds] = y0[seeds]
    tot = f.sum(axis=1, keepdims=True)
    f = np.where(tot > 0, f / np.where(tot > 0, tot, 1), 1 / 3)
    np.testing.assert_allclose(lp.label_distributions_, f, rtol=1e-12, atol=1e-14)
    np.testing.assert_array_equal(lp.predict(ids[seeds]), y)
    with pytest.raises(errors.InvalidArgumentError, match="alpha"):
        GraphLabelPropagation(g, alpha=1.0).fit(ids[seeds], y)
    with pytest.raises(errors.InvalidArgumentError, match="no labelled"):
        GraphLabelPropagation(g).fit(ids[:2], [-1, -1])
    with pytest.raises(errors.ShapeMismatchError, match="y has 3 entries"):
        GraphLabelPropagation(g).fit(ids[:2], [0, 1, 1])


def test_docstring_examples_run():
    import doctest

    from threadpoolctl import threadpool_limits

    import pysparsegraph.sklearn as module

    with threadpool_limits(limits=1, user_api="blas"):
        result = doctest.testmod(module)
    assert result.attempted >= 5 and result.failed == 0


def test_self_loops_inserted_in_sorted_position_and_cached():
    from pysparsegraph.sklearn import _normalized

    cora = load_cora(features=False)
    g = CSRMatrix(cora.graph.indptr, cora.graph.indices, shape=cora.graph.shape)  # a fresh cache
    s = _normalized(g, "sym", True)
    assert s is _normalized(g, "sym", True)
    ref = _norm_ref(g.to_scipy(np.float64), "sym", True)
    sc = s.to_scipy(np.float64)
    assert sc.has_sorted_indices and s.nnz == g.nnz + g.n_rows
    np.testing.assert_array_equal(sc.indices, ref.indices)
    np.testing.assert_allclose(sc.data, ref.data, rtol=1e-15)


@pytest.mark.parametrize("make", [lambda **kw: GraphPropagation(KNNGraph(3), **kw),
                                  lambda **kw: GraphPropagation(KNNGraph(3), k=0, **kw),
                                  lambda **kw: NeighborAggregation(KNNGraph(3), **kw)])
def test_n_threads_and_knn_parameters_are_checked_at_fit(make):
    # they used to fail only at transform (or never, with k=0)
    X = np.random.default_rng(0).random((10, 3))
    for bad in (-1, 0, "x", 1.5):
        with pytest.raises(errors.InvalidArgumentError, match="n_threads"):
            make(n_threads=bad).fit(X)
    est = make(n_threads=2).fit(X)
    for bad in (-1, 0, "a"):
        est.set_params(graph=KNNGraph(bad))
        with pytest.raises(errors.InvalidArgumentError, match="n_neighbors"):
            est.fit(X)


def test_label_propagation_without_labels_says_why():
    g = CSRMatrix.from_edges([0, 1], [1, 2], shape=(3, 3), symmetrize=True)
    with pytest.raises(errors.InvalidArgumentError, match="every label is -1"):
        GraphLabelPropagation(g).fit(np.arange(3)[:, None], np.full(3, -1))
    with pytest.raises(errors.InvalidArgumentError, match="no samples at all"):
        GraphLabelPropagation(g).fit(np.empty((0, 1), int), np.empty(0, int))


def test_negative_weighted_degrees_scale_rows_and_sym_refuses_them():
    # node 1's degree with its loop is -3 + 1 + 1 = -1: D^-1 (A + I) scales its row by -1, it is not dropped
    w = sp.csr_array(np.array([[0, -3.0, 0], [-3.0, 0, 1], [0, 1, 0]]))
    a = w.toarray() + np.eye(3)
    x = np.random.default_rng(0).standard_normal((3, 2))
    ref = (a / a.sum(1)[:, None]) @ x
    np.testing.assert_allclose(GraphPropagation(w, k=1, norm="row").fit_transform(x), ref, rtol=1e-12)
    mean_ref = (w.toarray() / w.toarray().sum(1)[:, None]) @ x
    np.testing.assert_allclose(NeighborAggregation(w, "mean", include_self=False).fit_transform(x), mean_ref,
                               rtol=1e-12)
    with pytest.raises(errors.InvalidArgumentError, match="negative"):
        GraphPropagation(w, k=1, norm="sym").fit_transform(x)


def test_stored_zero_weights_are_no_edges():
    # path 0-1-2; setdiag(0) stores zero loops and a zero entry 0->2 is a thresholded edge: neither is an edge
    a = sp.csr_array(np.array([[0, 1.0, 0], [1.0, 0, 1.0], [0, 1.0, 0]]))
    b = sp.csr_array((np.array([0, 1, 0, 1, 0, 1, 1, 0.0]), np.array([0, 1, 2, 0, 1, 2, 1, 2]),
                      np.array([0, 3, 6, 8])), shape=(3, 3))
    assert b.nnz > a.nnz and (b != a).nnz == 0
    x = np.array([[-3.0], [-5.0], [7.0]])
    for est in (GraphPropagation(None, k=2), GraphPropagation(None, k=1, norm="row"),
                NeighborAggregation(None, "max"), NeighborAggregation(None, "mean")):
        want = clone(est).set_params(graph=a).fit_transform(x)
        for g in (b, CSRMatrix.from_scipy(b)):
            np.testing.assert_array_equal(clone(est).set_params(graph=g).fit_transform(x), want)
    s = _norm_ref(a, "sym", True)
    np.testing.assert_allclose(GraphPropagation(b, k=1).fit_transform(x), s @ x, rtol=1e-12)
    labels = np.array([0, -1, 1])
    np.testing.assert_array_equal(GraphLabelPropagation(b, self_loops=True).fit(np.arange(3), labels).predict_proba(
        np.arange(3)), GraphLabelPropagation(a, self_loops=True).fit(np.arange(3), labels).predict_proba(np.arange(3)))


def test_scipy_sorting_its_arrays_in_place_does_not_stale_cached_products():
    rng = np.random.default_rng(3)
    dense = (rng.random((30, 30)) < 0.2) * rng.random((30, 30))
    dense = dense + dense.T
    s = sp.csr_array(dense)
    order = np.concatenate([rng.permutation(np.arange(s.indptr[i], s.indptr[i + 1])) for i in range(30)])
    g = sp.csr_array((s.data[order], s.indices[order], s.indptr), shape=s.shape)  # same matrix, unsorted rows
    assert not g.has_sorted_indices
    x = rng.standard_normal((30, 4))
    ref = _norm_ref(s, "sym", True) @ x
    np.testing.assert_allclose(GraphPropagation(g, k=1).fit_transform(x), ref, rtol=1e-12)
    g.max()  # a read-only scipy call that sorts g's arrays in place
    assert g.has_sorted_indices
    np.testing.assert_allclose(GraphPropagation(g, k=1).fit_transform(x), ref, rtol=1e-12)
    np.testing.assert_allclose(NeighborAggregation(g, "mean", include_self=False).fit_transform(x),
                               (dense / dense.sum(1)[:, None]) @ x, rtol=1e-12)


def test_a_knn_graph_is_tuned_through_nested_parameters_and_cloned_not_shared():
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV

    rng = np.random.default_rng(0)
    x = rng.random((60, 3))
    y = (x[:, 0] > 0.5).astype(int)
    pipe = make_pipeline(GraphPropagation(KNNGraph(3)), LogisticRegression())
    assert pipe.get_params()["graphpropagation__graph__n_neighbors"] == 3
    search = GridSearchCV(pipe, {"graphpropagation__graph__n_neighbors": [2, 5]}, cv=2).fit(x, y)
    assert search.best_params_["graphpropagation__graph__n_neighbors"] in (2, 5)
    est = GraphPropagation(KNNGraph(3))
    copy_ = clone(est).set_params(graph__n_neighbors=7)
    assert est.graph.n_neighbors == 3 and copy_.graph.n_neighbors == 7
    np.testing.assert_array_equal(copy_.fit_transform(x), GraphPropagation(KNNGraph(7)).fit_transform(x))


def test_float32_features_cache_one_float32_propagation_matrix():
    g = load_cora(features=False).graph
    x = np.random.default_rng(0).standard_normal((g.n_rows, 4)).astype(np.float32)
    y = GraphPropagation(g, k=2).fit_transform(x)
    cached = [v for k, v in g._cache.items() if isinstance(k, tuple) and k[0] == "sklearn.normalized"]
    assert len(cached) == 1 and cached[0].values.dtype == np.float32
    assert not any(isinstance(k, tuple) and k[0] == "values" for k in cached[0]._cache)  # no converted copy
    y64 = GraphPropagation(g, k=2).fit_transform(x.astype(np.float64))
    np.testing.assert_allclose(y, y64, rtol=1e-4, atol=1e-5)


def test_unnormalized_propagation_keeps_features_dtype_and_no_self_reference():
    import gc
    import weakref

    rng = np.random.default_rng(2)
    g = CSRMatrix.from_edges(rng.integers(0, 100, 1000), rng.integers(0, 100, 1000), rng.random(1000),
                             shape=(100, 100))
    x = rng.standard_normal((100, 3)).astype(np.float32)
    np.testing.assert_allclose(GraphPropagation(g, k=1, norm="none", self_loops=True).fit_transform(x),
                               _norm_ref(g.to_scipy(), "none", True) @ x, rtol=1e-5, atol=1e-5)
    s = g._cache[("sklearn.normalized", "none", True, np.dtype(np.float32).str)]
    assert s.values.dtype == np.float32 and not s._cache.get(("values", "<f4"))
    gc.disable()
    try:
        GraphPropagation(g, k=1, norm="none", self_loops=False).fit_transform(x)
        ref = weakref.ref(g)
        del g
        assert ref() is None  # freed at once: the graph does not hold itself in its cache
    finally:
        gc.enable()


def test_max_aggregation_of_infinite_or_huge_features_does_not_warn():
    # the NaN screen x.sum() warned "invalid value" (+inf and -inf) or "overflow" (huge
    # finite values): an error under -W error, though inf is documented to be computed through
    import warnings

    a, ref = _graph("hub")
    dense = ref.toarray()
    x = np.random.default_rng(7).standard_normal((a.n_rows, 3))
    x[1, 0], x[2, 0], x[3, 1], x[4, 2] = np.inf, -np.inf, 1e308, -1e308
    expect = np.zeros_like(x)
    for i in range(a.n_rows):
        nb = np.flatnonzero(dense[i])
        if nb.size:
            expect[i] = x[nb].max(axis=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = NeighborAggregation(a, "max", include_self=False).fit_transform(x)
        got32 = NeighborAggregation(a, "max", include_self=False).fit_transform(np.full((a.n_rows, 2), 3e38, np.float32))
    np.testing.assert_array_equal(got, expect)
    assert got32.dtype == np.float32 and np.all(got32[np.diff(ref.indptr) > 0] == np.float32(3e38))


def test_changing_the_input_form_after_fit_says_refit_and_leaves_no_stale_state():
    a, _ = _graph("random")
    x = np.random.default_rng(8).random((a.n_rows, 3))
    ids = np.arange(a.n_rows).reshape(-1, 1)
    from sklearn.exceptions import NotFittedError

    est = GraphPropagation(a, features=x).fit(ids)
    est.set_params(features=None).fit(x)  # refit in the full form: the node-id embedding is gone
    assert not hasattr(est, "embedding_")
    est.set_params(features=x)  # the form changed without a refit: a NotFittedError, not an AttributeError
    with pytest.raises(NotFittedError):
        est.transform(ids[:2])
    np.testing.assert_array_equal(est.fit(ids).transform(ids[:2]), GraphPropagation(a).fit_transform(x)[:2])
    lp = GraphLabelPropagation(KNNGraph(2)).fit(x[:6], [0, 1, 0, 1, 0, 1])
    lp.set_params(graph=a).fit(ids[:6], [0, 1, 0, 1, 0, 1])
    assert not hasattr(lp, "_X_fit")  # no reference kept to the builder fit's training rows
    lp.set_params(graph=KNNGraph(2))
    with pytest.raises(NotFittedError):
        lp.predict(x)


def test_node_ids_in_an_object_array_are_read_by_their_values():
    # df.to_numpy() on a frame with mixed columns gives object ids: refused before, "not a feature matrix"
    A = CSRMatrix.from_edges(np.arange(6), (np.arange(6) + 1) % 6)
    X = np.random.default_rng(0).random((6, 3))
    est = GraphPropagation(A, features=X).fit(np.array([0, 1, 2]))
    np.testing.assert_array_equal(est.transform(np.array([[0], [4]], dtype=object)), est.transform([[0], [4]]))
    assert est.transform(np.array([5.0, 3], dtype=object)).shape == (2, 3)
    for bad in (np.array(["a", 1], dtype=object), np.array([0.5, 1], dtype=object)):
        with pytest.raises(errors.DTypeError, match="integer node ids"):
            est.transform(bad)
    with pytest.raises(errors.IndexOutOfRangeError, match="node id 6"):
        est.transform(np.array([6], dtype=object))


# ---------------------------------------------------------------- memory: built in place, same results
@pytest.mark.parametrize("block", [1, 3, 1 << 16])  # row blocks of ~1 and ~3 entries, and the default
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("weights", [None, np.float32, np.float64])
def test_normalized_built_in_row_blocks_matches_dense_reference(monkeypatch, block, kind, weights):
    import functools

    import pysparsegraph.sklearn as sk

    monkeypatch.setattr(sk, "_row_blocks", functools.partial(sk._row_blocks, size=block))
    g0, _ = _graph(kind)
    vals = None if weights is None or g0.values is None else np.asarray(g0.values, dtype=weights)
    for norm, loops in [("sym", True), ("sym", False), ("row", True), ("row", False), ("none", True)]:
        g = CSRMatrix(np.array(g0.indptr), np.array(g0.indices), vals, shape=g0.shape)  # a fresh cache
        a = g.to_scipy(np.float64).copy()  # a copy: scipy sums duplicates in place
        a.sum_duplicates()
        ref = _norm_ref(a, norm, loops).toarray()
        s64, s32 = sk._normalized(g, norm, loops), sk._normalized(g, norm, loops, np.float32)
        np.testing.assert_allclose(s64.to_scipy(np.float64).toarray(), ref, rtol=1e-13, atol=1e-15)
        np.testing.assert_array_equal(s32.indices, s64.indices)
        if s64.values is not None:  # float32 is the float64 product rounded once
            assert s32.values.dtype == np.float32
            np.testing.assert_array_equal(s32.values, s64.values.astype(np.float32))


def test_all_hops_and_include_self_fill_their_blocks_like_references():
    cora = load_cora()
    a = cora.graph.to_scipy(np.float64)
    x = np.asfortranarray(cora.features[:, :64])  # 64 columns: the include_self move runs in several row blocks
    x[3, 5] = np.nan
    before = x.copy()
    hops = GraphPropagation(cora.graph, k=3, hops="all").fit_transform(x)
    assert hops.flags.c_contiguous and hops.dtype == np.float32
    lasts = [GraphPropagation(cora.graph, k=j).fit_transform(x) for j in range(4)]
    np.testing.assert_array_equal(hops, np.hstack(lasts))
    s, ref = _norm_ref(a, "sym", True), [x.astype(np.float64)]
    for _ in range(3):
        ref.append(s @ ref[-1])
    np.testing.assert_allclose(hops, np.hstack(ref), rtol=2e-4, atol=1e-5)
    agg = {"sum": a @ ref[0], "mean": _norm_ref(a, "row", False) @ ref[0]}
    for name in ("sum", "mean", "max"):
        both = NeighborAggregation(cora.graph, name).fit_transform(x)
        only = NeighborAggregation(cora.graph, name, include_self=False).fit_transform(x)
        assert both.flags.c_contiguous
        np.testing.assert_array_equal(both, np.hstack([x, only]))
        if name in agg:
            np.testing.assert_allclose(only, agg[name], rtol=2e-4, atol=1e-5)
    np.testing.assert_array_equal(x, before)  # the caller's features are never a hop buffer
    z = np.ones((cora.graph.n_rows, 1))  # one column: one row block of the move
    np.testing.assert_array_equal(NeighborAggregation(cora.graph, "sum").fit_transform(z), np.hstack([z, a @ z]))


def _traced_peak(fn):
    import tracemalloc

    tracemalloc.start()
    try:
        out = fn()
        return out, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.fixture(scope="module")
def peak_case():
    rng = np.random.default_rng(0)
    n, deg, f = 20000, 20, 16
    src = np.repeat(np.arange(n), deg)
    return CSRMatrix.from_edges(src, rng.integers(0, n, src.size), shape=(n, n)), rng.standard_normal((n, f),
                                                                                                      np.float32)


def test_peak_memory_of_the_normalized_matrix(peak_case):
    from pysparsegraph.sklearn import _normalized

    g = CSRMatrix(peak_case[0].indptr, peak_case[0].indices, shape=peak_case[0].shape)  # a fresh cache
    # about the result alone (it was ~4x: five float64 nnz-sized temporaries)
    s, peak = _traced_peak(lambda: _normalized(g, "sym", True, np.float32))
    assert peak < 1.75 * (s.indptr.nbytes + s.indices.nbytes + s.values.nbytes)


def test_peak_memory_of_all_hops(peak_case):
    g, x = peak_case
    est = GraphPropagation(g, k=5, hops="all")
    est.fit_transform(x[:, :1])  # caches S
    out, peak = _traced_peak(lambda: est.fit_transform(x))  # the output plus two hop buffers: 8/6 (was 11/6)
    assert peak < 1.5 * out.nbytes


def test_peak_memory_of_include_self(peak_case):
    g, x = peak_case
    NeighborAggregation(g, include_self=False).fit_transform(x)  # caches the row-normalized S
    out, peak = _traced_peak(lambda: NeighborAggregation(g).fit_transform(x))  # no separate aggregate (was 1.5x)
    assert peak < 1.2 * out.nbytes
