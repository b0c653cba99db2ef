"""The benchmark's peers: each prepared product equals scipy's, and
``activate()`` puts back the thread count the peer was prepared for, even
after another peer changed it (torch sets MKL's thread-local count)."""
import pathlib
import sys

import numpy as np
import pytest

sp = pytest.importorskip("scipy.sparse")
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
from bench.peers import PEERS, as_array, available_peers, check_outputs  # noqa: E402


def _case():
    rng = np.random.default_rng(3)
    S = sp.random(300, 200, density=0.05, format="csr", dtype=np.float32, random_state=rng)
    X = rng.standard_normal((200, 24)).astype(np.float32)
    return S, X


def test_every_installed_peer_matches_scipy():
    S, X = _case()
    ref = S.astype(np.float64) @ X.astype(np.float64)
    peers, _ = available_peers()
    assert any(p.name == "scipy" for p in peers)
    for p in peers:
        fn = p.prepare(S, X, 1)
        fn.activate()
        for call in range(2):  # a second call catches a product that adds onto its output
            np.testing.assert_allclose(as_array(fn()), ref, rtol=1e-4, atol=1e-4, err_msg=f"{p.name}, call {call}")
        p.release()


def test_activate_restores_mkl_threads_after_torch():
    peers, _ = available_peers(["mkl-ie", "torch"])
    if len(peers) < 2:
        pytest.skip("needs sparse_dot_mkl and torch")
    import sparse_dot_mkl
    mkl, torch_peer = peers
    S, X = _case()
    f_mkl = mkl.prepare(S, X, 1)
    torch_peer.prepare(S, X, 2)  # sets MKL's thread-local count to 2
    f_mkl.activate()
    assert sparse_dot_mkl.mkl_get_max_threads() == 1
    mkl.release()


def test_output_check_flags_a_wrong_or_partial_product():
    S, X = _case()
    ref = S.astype(np.float64) @ X.astype(np.float64)
    half = ref.astype(np.float32)
    half[150:] = 0  # a tool that computed only some rows
    res = check_outputs({"right": lambda: S @ X, "partial": lambda: half, "nan": lambda: np.full_like(half, np.nan),
                         "shape": lambda: half[:10]}, ref, 1e-4)
    assert res["right"][1] and res["right"][0] < 1e-5
    assert not res["partial"][1] and not res["nan"][1] and not res["shape"][1]


def test_unknown_peer_names_are_refused():
    with pytest.raises(ValueError, match="mkl_ie"):
        available_peers(["scipy", "mkl_ie"])
    assert set(PEERS) == {"scipy", "graphblas", "mkl", "mkl-ie", "torch"}


def test_gnn_bench_checks_flag_wrong_outputs():
    from bench.gnn import _check
    failures = []
    _check({"a|psg": lambda: np.ones(3), "a|peer": lambda: np.zeros(3), "b": lambda: (np.ones(2), None),
            "c": lambda: np.ones(4), "unchecked": lambda: None},
           {"a": np.ones(3), "b": np.ones(2), "c": np.ones(5)}, "case", failures)
    assert failures == ["case: a|peer (error 1.0e+00)", "case: c (error inf)"]


def test_output_check_poisons_a_reused_buffer():
    # a tool that writes only part of a buffer an earlier (right) call filled must not pass
    S, X = _case()
    ref = S.astype(np.float64) @ X.astype(np.float64)
    buf = (S @ X).astype(np.float32)

    def partial():
        buf[:150] = (S @ X)[:150]
        return buf
    partial.out = buf
    assert not check_outputs({"partial": partial}, ref, 1e-4)["partial"][1]


def test_rel_error_of_outputs():
    from bench.peers import rel_error
    ref = np.array([[1.0, -4.0], [2.0, 0.0]])
    assert rel_error(ref.astype(np.float32), ref) == 0.0
    assert rel_error(ref + [[0, 0], [0, 1]], ref) == 0.25
    assert rel_error(ref[:1], ref) == float("inf")
    assert not rel_error(np.full_like(ref, np.nan), ref) <= 1.0
    assert rel_error(np.zeros((0, 3)), np.zeros((0, 3))) == 0.0
    # taken a block at a time: the same as whole, a NaN in any block kept
    rng = np.random.default_rng(0)
    big = rng.standard_normal((300, 7))
    noisy = (big + rng.standard_normal(big.shape) * 1e-3).astype(np.float32)
    whole = float(np.max(np.abs(noisy.astype(np.float64) - big))) / float(np.max(np.abs(big)))
    assert rel_error(noisy, big, block=64) == rel_error(noisy, big) == whole
    for at in (0, 100, 2099):
        bad = noisy.copy()
        bad.reshape(-1)[at] = np.nan
        assert np.isnan(rel_error(bad, big, block=64))


def test_gnn_bench_max_references_and_arg_index_check():
    # the fused table's max/min references (segment max/min, 0 on empty rows) against a loop,
    # and the arg-index check: pysparsegraph's pass, a tampered copy fails
    import pysparsegraph as psg
    from bench.gnn import _check_argidx, _segment
    rng = np.random.default_rng(3)
    S = sp.random_array((40, 40), density=0.08, format="csr", rng=rng)
    S.data[:] = 1.0
    A = psg.CSRMatrix.from_scipy(S)
    X = rng.standard_normal((40, 16)).astype(np.float32)
    want = np.zeros_like(X)
    for r in range(40):
        nb = S.indices[S.indptr[r]:S.indptr[r + 1]]
        if len(nb):
            want[r] = X[nb].max(axis=0)
    assert np.diff(S.indptr).min() == 0  # an empty row is covered
    np.testing.assert_array_equal(_segment(np.maximum, S.indptr, S.indices, X), want)
    np.testing.assert_array_equal(psg.spmm(A, X, reduce="max"), want)
    failures = []
    _check_argidx(lambda: psg.spmm(A, X, reduce="max", return_argidx=True), A, X, "ok", failures)
    Y, arg = psg.spmm(A, X, reduce="max", return_argidx=True)
    full = np.flatnonzero(np.diff(S.indptr) > 1)[0]  # a row with two edges: name the other one
    bad = arg.copy()
    bad[full, 0] = S.indptr[full] + (bad[full, 0] == S.indptr[full])
    _check_argidx(lambda: (Y, bad), A, X, "tampered", failures)
    empty = arg.copy()
    empty[np.flatnonzero(np.diff(S.indptr) == 0)[0], 0] = 0
    _check_argidx(lambda: (Y, empty), A, X, "empty row", failures)
    assert failures == ["tampered: arg indices do not name each output's winning edge",
                        "empty row: arg indices do not name each output's winning edge"]
