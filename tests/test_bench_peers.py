"""The benchmark's peers: each prepared product equals scipy's, and
``activate()`` puts back the thread count the peer was prepared for, even
after another peer changed it (torch sets MKL's thread-local count)."""
import pathlib
import sys

import numpy as np
import pytest

sp = pytest.importorskip("scipy.sparse")
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
from bench.peers import available_peers  # noqa: E402


def _case():
    rng = np.random.default_rng(3)
    S = sp.random(300, 200, density=0.05, format="csr", dtype=np.float32, random_state=rng)
    X = rng.standard_normal((200, 24)).astype(np.float32)
    return S, X


def _dense(result):
    """A peer's result as a NumPy array (torch tensor, GraphBLAS matrix or ndarray)."""
    if hasattr(result, "numpy"):
        return result.numpy()
    if hasattr(result, "to_dense"):
        return result.to_dense()
    return np.asarray(result)


def test_every_installed_peer_matches_scipy():
    S, X = _case()
    ref = S.astype(np.float64) @ X.astype(np.float64)
    peers, _ = available_peers()
    assert any(p.name == "scipy" for p in peers)
    for p in peers:
        fn = p.prepare(S, X, 1)
        fn.activate()
        for call in range(2):  # a second call catches a product that adds onto its output
            np.testing.assert_allclose(_dense(fn()), ref, rtol=1e-4, atol=1e-4, err_msg=f"{p.name}, call {call}")
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
