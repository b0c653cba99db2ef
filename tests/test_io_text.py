"""Edge-list and Matrix Market readers/writers against the real files in
shared/data (npz conventions and scipy.io.mmread) and adversarial inputs."""
import bz2
import glob
import gzip
import lzma
import os
import re

import numpy as np
import pytest

from pysparsegraph import CSRMatrix, errors, io
from pysparsegraph.datasets import shared_data_dir

DATA = shared_data_dir()
needs_data = pytest.mark.skipif(DATA is None, reason="shared/data not found (set PYSPARSEGRAPH_DATA)")


def _npz_equal(g, path):
    d = np.load(path)
    assert g.shape == tuple(int(s) for s in d["shape"])
    np.testing.assert_array_equal(g.indptr, d["indptr"])
    np.testing.assert_array_equal(g.indices, d["indices"])
    if "data" in d.files:
        assert g.values is not None
        np.testing.assert_array_equal(g.values, d["data"].astype(np.float64))
    else:
        assert g.values is None


def _scipy_equal(g, path):
    sio = pytest.importorskip("scipy.io")
    sp = pytest.importorskip("scipy.sparse")
    M = sp.csr_array(sio.mmread(path))
    M.sum_duplicates()
    M.sort_indices()
    assert g.shape == M.shape
    np.testing.assert_array_equal(g.indptr, M.indptr)
    np.testing.assert_array_equal(g.indices, M.indices)
    if g.values is not None:
        np.testing.assert_array_equal(g.values, M.data.astype(np.float64))


# ---- real files ------------------------------------------------------------
@needs_data
@pytest.mark.parametrize("threads", [1, 2])
def test_slashdot_edgelist_matches_npz(threads):
    g = io.read_edgelist(os.path.join(DATA, "soc-Slashdot0902", "soc-Slashdot0902.txt.gz"), n_threads=threads)
    _npz_equal(g, os.path.join(DATA, "soc-Slashdot0902", "soc-Slashdot0902.npz"))


@needs_data
def test_facebook_symmetrized_matches_npz():
    g = io.read_edgelist(os.path.join(DATA, "ego-Facebook", "facebook_combined.txt.gz"), symmetrize=True)
    _npz_equal(g, os.path.join(DATA, "ego-Facebook", "ego-Facebook.npz"))
    d = io.read_edgelist(os.path.join(DATA, "ego-Facebook", "facebook_combined.txt.gz"))
    assert d.nnz == 88234  # directed: each line once


@needs_data
@pytest.mark.parametrize("name", ["coAuthorsDBLP", "delaunay_n17"])
def test_suitesparse_tar_members_match_npz(name):
    g = io.read_matrix_market(os.path.join(DATA, name, name + ".tar.gz"))
    _npz_equal(g, os.path.join(DATA, name, name + ".npz"))


def _mtx_files():
    if DATA is None:
        return []
    return sorted(glob.glob(os.path.join(DATA, "suitesparse-small", "*.mtx.gz")) +
                  glob.glob(os.path.join(DATA, "sparse-dnn-graphchallenge", "*.mtx.gz")))


@needs_data
@pytest.mark.parametrize("path", _mtx_files(), ids=os.path.basename)
def test_every_matrix_market_file(path):
    base = os.path.basename(path)
    if base in ("c.mtx.gz", "young1c.mtx.gz"):  # complex / hermitian
        with pytest.raises(errors.UnsupportedError, match="not supported"):
            io.read_matrix_market(path)
        return
    g = io.read_matrix_market(path)
    npz = path.replace(".mtx.gz", ".npz")
    if isinstance(g, np.ndarray):  # fullrsa: array format with blank lines and a comment in the body
        d = np.load(npz)
        dense = np.zeros(tuple(d["shape"]))
        rows = np.repeat(np.arange(dense.shape[0]), np.diff(d["indptr"]))
        dense[rows, d["indices"]] = d["data"]
        np.testing.assert_array_equal(g, dense)
        return
    _npz_equal(g, npz)
    _scipy_equal(g, path)


@needs_data
def test_fullrsa_scipy_rejects_but_we_read_it():
    sio = pytest.importorskip("scipy.io")
    path = os.path.join(DATA, "suitesparse-small", "fullrsa.mtx.gz")
    with pytest.raises(ValueError):
        sio.mmread(path)
    a = io.read_matrix_market(path)
    assert a.shape == (2, 2) and np.array_equal(a, a.T)


@needs_data
def test_matrix_market_round_trip_real_files(tmp_path):
    for name in ("west0067", "bcsstk13", "zenios", "Ragusa16", "rza", "ash219"):
        src = os.path.join(DATA, "suitesparse-small", name + ".mtx.gz")
        g = io.read_matrix_market(src)
        hdr_sym = "general"
        for sym in ("symmetric", "skew-symmetric"):
            try:
                io.write_matrix_market(tmp_path / f"{name}.mtx", g, symmetry=sym)
                hdr_sym = sym
                break
            except (errors.InvalidArgumentError, errors.ShapeMismatchError):
                continue
        if hdr_sym == "general":
            io.write_matrix_market(tmp_path / f"{name}.mtx", g)
        back = io.read_matrix_market(tmp_path / f"{name}.mtx")
        np.testing.assert_array_equal(back.indptr, g.indptr)
        np.testing.assert_array_equal(back.indices, g.indices)
        if g.values is None:
            assert back.values is None
        else:
            np.testing.assert_array_equal(back.values, g.values)
        _scipy_equal(back, str(tmp_path / f"{name}.mtx"))


# ---- synthetic inputs ------------------------------------------------------
def _write(tmp_path, name, text, comp=None):
    p = tmp_path / name
    data = text.encode() if isinstance(text, str) else text
    if comp == "gz":
        data = gzip.compress(data)
    elif comp == "xz":
        data = lzma.compress(data)
    elif comp == "bz2":
        data = bz2.compress(data)
    p.write_bytes(data)
    return p


@pytest.mark.parametrize("comp", [None, "gz", "xz", "bz2"])
@pytest.mark.parametrize("eol", ["\n", "\r\n"])
def test_edgelist_compression_and_line_ends(tmp_path, comp, eol):
    text = eol.join(["# comment", "0\t1", "2 1", "", "  1   0  ", "% other comment", "2 2"]) + eol
    g = io.read_edgelist(_write(tmp_path, "g.txt", text, comp))
    assert g.shape == (3, 3)
    np.testing.assert_array_equal(g.to_scipy().toarray(), [[0, 1, 0], [1, 0, 0], [0, 1, 1]])


def test_edgelist_weights_duplicates_loops(tmp_path):
    p = _write(tmp_path, "w.txt", "0 1 0.5\n0 1 0.25\n1 1 2\n2 0 -1e-3\n")
    g = io.read_edgelist(p, dtype=np.float64)
    assert g.values is not None and g.values.dtype == np.float64
    S = g.to_scipy().toarray()
    assert S[0, 1] == 0.75 and S[1, 1] == 2 and S[2, 0] == -1e-3
    g2 = io.read_edgelist(p, duplicates="first", self_loops="drop")
    S2 = g2.to_scipy(np.float64).toarray()
    assert S2[0, 1] == np.float32(0.5) and S2[1, 1] == 0
    assert io.read_edgelist(p, weighted=False).values is None
    keep = io.read_edgelist(p, duplicates="keep")
    assert keep.nnz == 4


def test_edgelist_symmetrize_and_unsorted(tmp_path):
    rng = np.random.default_rng(0)
    src = rng.integers(0, 50, 400)
    dst = rng.integers(0, 50, 400)
    text = "".join(f"{a} {b}\n" for a, b in zip(src, dst))
    p = _write(tmp_path, "u.txt", text)
    sp = pytest.importorskip("scipy.sparse")
    n = int(max(src.max(), dst.max())) + 1
    for sym in (False, True):
        g = io.read_edgelist(p, symmetrize=sym)
        A = sp.coo_array((np.ones(400), (src, dst)), shape=(n, n)).tocsr()
        if sym:
            A = A + A.T
        A.sum_duplicates()
        A.sort_indices()
        np.testing.assert_array_equal(g.indptr, A.indptr)
        np.testing.assert_array_equal(g.indices, A.indices)


@pytest.mark.parametrize("order", ["source", "target", "none"])
@pytest.mark.parametrize("duplicates", ["first", "keep", "sum"])
def test_edgelist_symmetrize_keeps_file_order_like_from_edges(tmp_path, order, duplicates):
    # files sorted by one column take a run store; its symmetric expansion once put each row's mirrored
    # entries first, so "first" kept the later of a pair given both ways (a non-symmetric result)
    rng = np.random.default_rng(3)
    src, dst = rng.integers(0, 12, 150), rng.integers(0, 12, 150)
    w = rng.integers(1, 1000, 150) / 8.0  # exact in text and in float64 sums of any order
    w[::7] = 0.1 * np.arange(len(w[::7]))  # some inexact ones, whose sums depend on the order
    if order != "none":
        idx = np.argsort(src if order == "source" else dst, kind="stable")
        src, dst, w = src[idx], dst[idx], w[idx]
    p = _write(tmp_path, "s.txt", "".join(f"{a} {b} {float(c)!r}\n" for a, b, c in zip(src, dst, w)))
    g = io.read_edgelist(p, symmetrize=True, duplicates=duplicates, n_nodes=12, dtype=np.float64)
    ref = CSRMatrix.from_edges(src, dst, w, shape=(12, 12), symmetrize=True, duplicates=duplicates)
    np.testing.assert_array_equal(g.indptr, ref.indptr)
    np.testing.assert_array_equal(g.indices, ref.indices)
    assert g.values.tobytes() == ref.values.tobytes()
    if duplicates != "keep":
        S = g.to_scipy().toarray()
        assert np.array_equal(S, S.T)


def test_edgelist_sorted_by_second_column(tmp_path):
    # exercises the store keyed on column 2
    lines = [f"{a} {b}" for b in range(30) for a in range(b, 30, 3)]
    p = _write(tmp_path, "c.txt", "\n".join(lines))
    g = io.read_edgelist(p)
    src = np.array([int(s.split()[0]) for s in lines])
    dst = np.array([int(s.split()[1]) for s in lines])
    ref = CSRMatrix.from_edges(src, dst, shape=(30, 30))
    np.testing.assert_array_equal(g.indptr, ref.indptr)
    np.testing.assert_array_equal(g.indices, ref.indices)


@pytest.mark.parametrize("threads", [1, 2])
def test_large_block_parallel_parse_identical(tmp_path, threads):
    rng = np.random.default_rng(1)
    src = rng.integers(0, 5000, 200000)
    dst = rng.integers(0, 5000, 200000)
    w = rng.random(200000)
    text = "".join(f"{a}\t{b}\t{c!r}\n" for a, b, c in zip(src.tolist(), dst.tolist(), w.tolist()))
    p = _write(tmp_path, "big.txt.gz", text, "gz")
    g = io.read_edgelist(p, n_threads=threads, dtype=np.float64, block_size=1 << 16)
    ref = CSRMatrix.from_edges(src, dst, w, shape=(5000, 5000))
    np.testing.assert_array_equal(g.indptr, ref.indptr)
    np.testing.assert_array_equal(g.indices, ref.indices)
    np.testing.assert_array_equal(g.values, ref.values)  # exact float parsing, same summation order


def test_n_nodes_and_isolated(tmp_path):
    p = _write(tmp_path, "e.txt", "0 1\n")
    assert io.read_edgelist(p, n_nodes=10).shape == (10, 10)
    with pytest.raises(errors.IndexOutOfRangeError, match="line 2"):
        io.read_edgelist(_write(tmp_path, "f.txt", "0 1\n5 3\n"), n_nodes=4)


@pytest.mark.parametrize("text, cls, where", [
    ("0 1\n1 x\n", errors.FormatError, "line 2"),
    ("0 1\n2\n", errors.FormatError, "line 2"),
    ("# h\n0 1\n1 2 3.5\n", errors.FormatError, "line 3"),
    ("0 1 1.0\n1 2\n", errors.FormatError, "line 2"),
    ("0 1\n-1 2\n", errors.IndexOutOfRangeError, "line 2"),
    ("0 1\n1 99999999999999999999\n", errors.IndexOverflowError, "line 2"),
    ("0 1\n1 5000000000\n", errors.IndexOverflowError, "line 2"),
    ("0 1\n1 2000000000\n", errors.IndexOutOfRangeError, "line 2"),
    ("0 1\n1.5 2\n", errors.FormatError, "line 2"),
])
def test_edgelist_garbage_names_file_and_line(tmp_path, text, cls, where):
    p = _write(tmp_path, "bad.txt", text)
    with pytest.raises(cls) as ei:
        io.read_edgelist(p)
    assert where in str(ei.value) and "bad.txt" in str(ei.value)


def test_edgelist_empty_and_header_only(tmp_path):
    for text in ("", "# only a comment\n", "\n\n"):
        g = io.read_edgelist(_write(tmp_path, "e.txt", text))
        assert g.shape == (0, 0) and g.nnz == 0


def test_truncated_gzip(tmp_path):
    data = gzip.compress(("".join(f"{i} {i + 1}\n" for i in range(20000))).encode())
    p = _write(tmp_path, "t.txt.gz", data[: len(data) // 2])
    with pytest.raises(errors.FormatError, match="truncated or corrupt"):
        io.read_edgelist(p)
    with pytest.raises(FileNotFoundError):
        io.read_edgelist(tmp_path / "missing.txt")


MM_GOOD = "%%MatrixMarket matrix coordinate real general\n% c\n3 4 3\n1 1 1.5\n3 4 -2e3\n2 2 0\n"


def test_matrix_market_synthetic(tmp_path):
    g = io.read_matrix_market(_write(tmp_path, "a.mtx", MM_GOOD))
    assert g.shape == (3, 4)
    np.testing.assert_array_equal(g.to_scipy(np.float64).toarray(),
                                  [[1.5, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, -2000]])
    assert g.nnz == 3  # explicit zero kept
    g32 = io.read_matrix_market(_write(tmp_path, "a.mtx", MM_GOOD), dtype=np.float32)
    assert g32.values.dtype == np.float32
    assert io.read_matrix_market(_write(tmp_path, "a.mtx", MM_GOOD), pattern=True).values is None


@pytest.mark.parametrize("text, cls, where", [
    ("", errors.FormatError, "empty file"),
    ("%%MatrixMarket matrix coordinate real general\n", errors.FormatError, "size line"),
    ("%%MatrixMarket matrix coordinate real general\n2 2 2\n1 1 1\n", errors.FormatError, "announces 2"),
    ("%%MatrixMarket matrix coordinate real general\n2 2 1\n3 1 1\n", errors.IndexOutOfRangeError, "line 3"),
    ("%%MatrixMarket matrix coordinate real general\n2 2 1\n0 1 1\n", errors.IndexOutOfRangeError, "line 3"),
    ("%%MatrixMarket matrix coordinate real general\n2 2 1\n1 1\n", errors.FormatError, "line 3"),
    ("%%MatrixMarket matrix coordinate pattern general\n2 2 1\n1 1 5\n", errors.FormatError, "line 3"),
    ("%%MatrixMarket matrix coordinate real general\n2 2 1\n1 1 abc\n", errors.FormatError, "line 3"),
    ("%%MatrixMarket matrix coordinate real general\n2 x 1\n", errors.FormatError, "line 2"),
    ("%%MatrixMarket matrix coordinate complex general\n1 1 1\n1 1 1 0\n", errors.UnsupportedError, "complex"),
    ("%%MatrixMarket matrix coordinate real hermitian\n1 1 1\n1 1 1\n", errors.UnsupportedError, "hermitian"),
    ("%%MatrixMarket matrix coordinate real symmetric\n2 3 1\n1 1 1\n", errors.FormatError, "square"),
    ("%%MatrixMarket matrix array real general\n2 2\n1\n2\n3\n", errors.FormatError, "expected 4 values"),
    ("hello\n", errors.FormatError, "line 1"),
])
def test_matrix_market_errors(tmp_path, text, cls, where):
    p = _write(tmp_path, "bad.mtx", text)
    with pytest.raises(cls) as ei:
        io.read_matrix_market(p)
    assert where in str(ei.value) and "bad.mtx" in str(ei.value)


def test_matrix_market_array_formats(tmp_path):
    sio = pytest.importorskip("scipy.io")
    for sym, mat in (("general", np.arange(6.0).reshape(2, 3)), ("symmetric", np.array([[1.0, 2], [2, 3]])),
                     ("skew-symmetric", np.array([[0.0, -2], [2, 0]]))):
        io.write_matrix_market(tmp_path / "d.mtx", mat, symmetry=sym)
        a = io.read_matrix_market(tmp_path / "d.mtx")
        np.testing.assert_array_equal(a, mat)
        np.testing.assert_array_equal(a, sio.mmread(str(tmp_path / "d.mtx")))


def test_writers_compress_and_edgelist_round_trip(tmp_path):
    g = CSRMatrix.from_edges([0, 1, 2, 2], [1, 2, 0, 2], [0.1, 1e-30, 3.0, 7.0], shape=(4, 4))
    for name in ("e.txt", "e.txt.gz", "e.tsv.xz", "e.edges.bz2"):
        io.write_edgelist(tmp_path / name, g)
        back = io.read_edgelist(tmp_path / name, n_nodes=4, dtype=np.float32)
        np.testing.assert_array_equal(back.indices, g.indices)
        np.testing.assert_array_equal(back.values, g.values.astype(np.float32))
    io.write_matrix_market(tmp_path / "m.mtx.gz", g)
    back = io.read_matrix_market(tmp_path / "m.mtx.gz")
    np.testing.assert_array_equal(back.values, g.values)  # %.17g round-trips doubles exactly
    with pytest.raises(errors.InvalidArgumentError, match="not symmetric"):
        io.write_matrix_market(tmp_path / "m.mtx", g, symmetry="symmetric")
    assert not [f for f in os.listdir(tmp_path) if f.endswith(".tmp")]  # atomic writes leave no temp files


def test_npz_and_dispatch(tmp_path):
    g = CSRMatrix.from_edges([0, 1], [1, 0], shape=(3, 3))
    io.write(g, tmp_path / "g.npz")
    back = io.read(tmp_path / "g.npz")
    assert back.shape == (3, 3) and back.values is None
    np.testing.assert_array_equal(back.indices, g.indices)
    sp = pytest.importorskip("scipy.sparse")
    sp.save_npz(tmp_path / "s.npz", sp.csr_array(np.eye(3)))
    s = io.read_npz(tmp_path / "s.npz")
    np.testing.assert_array_equal(s.to_scipy().toarray(), np.eye(3))
    for fmt in ("coo_array", "csc_array"):  # other scipy formats are named, not reported as missing keys
        sp.save_npz(tmp_path / "o.npz", getattr(sp, fmt)(np.eye(3)))
        with pytest.raises(errors.UnsupportedError, match=f"format '{fmt[:3]}' is not supported"):
            io.read_npz(tmp_path / "o.npz")
    np.savez(tmp_path / "bad.npz", a=np.zeros(3))
    with pytest.raises(errors.FormatError, match="indptr"):
        io.read_npz(tmp_path / "bad.npz")
    np.savez(tmp_path / "bad2.npz", indptr=np.array([0, 5]), indices=np.array([0]), shape=np.array([1, 1]))
    with pytest.raises(errors.InvalidIndptrError):
        io.read_npz(tmp_path / "bad2.npz")


def test_networkx_round_trip():
    nx = pytest.importorskip("networkx")
    G = nx.karate_club_graph()
    g = io.from_networkx(G, weight=None)
    assert g.nnz == 2 * G.number_of_edges()
    H = io.to_networkx(g, directed=False)
    assert H.number_of_edges() == G.number_of_edges()


def test_plain_files_read_where_dropping_parsed_pages_is_refused(tmp_path, monkeypatch):
    # madvise(MADV_DONTNEED) fails with EINVAL on locked memory (mlockall); an advice the kernel does
    # not know fails the same way: the pages only stay resident, the file still reads
    import mmap
    monkeypatch.setattr(mmap, "MADV_DONTNEED", 12345, raising=False)
    rng = np.random.default_rng(3)
    src, dst = rng.integers(0, 50, 3000), rng.integers(0, 50, 3000)
    p = _write(tmp_path, "e.txt", "".join(f"{a} {b}\n" for a, b in zip(src.tolist(), dst.tolist())))
    g = io.read_edgelist(p, block_size=1024)
    ref = CSRMatrix.from_edges(src, dst, shape=(50, 50))
    np.testing.assert_array_equal(g.indptr, ref.indptr)
    np.testing.assert_array_equal(g.indices, ref.indices)


@pytest.mark.parametrize("threads", [1, 2])
def test_plain_file_mmap_blocks(tmp_path, monkeypatch, threads):
    # uncompressed input is mapped and cut into blocks at newlines
    monkeypatch.setattr(io, "PLAIN_BLOCK_SIZE", 777)
    rng = np.random.default_rng(7)
    src = rng.integers(0, 300, 5000)
    dst = rng.integers(0, 300, 5000)
    text = "# header\n" + "".join(f"{a} {b}\r\n" for a, b in zip(src.tolist(), dst.tolist()))
    p = _write(tmp_path, "plain.txt", text)
    g = io.read_edgelist(p, n_threads=threads, block_size=777)
    ref = CSRMatrix.from_edges(src, dst, shape=(300, 300))
    np.testing.assert_array_equal(g.indptr, ref.indptr)
    np.testing.assert_array_equal(g.indices, ref.indices)
    mm = "%%MatrixMarket matrix coordinate pattern general\n%c\n300 300 5000\n" + "".join(
        f"{a + 1} {b + 1}\n" for a, b in zip(src.tolist(), dst.tolist()))
    g2 = io.read_matrix_market(_write(tmp_path, "plain.mtx", mm), n_threads=threads, block_size=777)
    np.testing.assert_array_equal(g2.indptr, ref.indptr)
    np.testing.assert_array_equal(g2.indices, ref.indices)
    bad = text + "12 x\n"
    with pytest.raises(errors.FormatError, match="line 5002"):
        io.read_edgelist(_write(tmp_path, "bad.txt", bad), n_threads=threads, block_size=777)


@needs_data
def test_stdlib_gzip_fallback_gives_same_graph(monkeypatch):
    # the isal fast path is optional: the standard library path must agree
    path = os.path.join(DATA, "ego-Facebook", "facebook_combined.txt.gz")
    fast = io.read_edgelist(path, symmetrize=True)
    monkeypatch.setattr(io, "_gzip_open", lambda f: gzip.open(f, "rb"))
    slow = io.read_edgelist(path, symmetrize=True)
    np.testing.assert_array_equal(fast.indptr, slow.indptr)
    np.testing.assert_array_equal(fast.indices, slow.indices)


@needs_data
def test_pace_road_graph_matches_npz():
    g = io.read(os.path.join(DATA, "usa-road-FLA", "FLA.gr.xz"))
    _npz_equal(g, os.path.join(DATA, "usa-road-FLA", "usa-road-FLA.npz"))


@pytest.mark.parametrize("comp", [None, "gz"])
def test_pace_synthetic(tmp_path, comp):
    text = "c a comment\nc another\np tw 4 3\n1 2\n2 3\n4 1\n"
    g = io.read_pace(_write(tmp_path, "g.gr", text, comp))
    np.testing.assert_array_equal(g.to_scipy().toarray(), [[0, 1, 0, 1], [1, 0, 1, 0], [0, 1, 0, 0], [1, 0, 0, 0]])
    with pytest.raises(errors.FormatError, match="announces 4 edges"):
        io.read_pace(_write(tmp_path, "h.gr", text.replace("p tw 4 3", "p tw 4 4"), comp))
    with pytest.raises(errors.IndexOutOfRangeError, match="line 6"):
        io.read_pace(_write(tmp_path, "i.gr", text.replace("4 1", "5 1"), comp))
    with pytest.raises(errors.FormatError, match="p tw"):
        io.read_pace(_write(tmp_path, "j.gr", "1 2\n", comp))


def test_npz_garbage_and_str_format(tmp_path):
    (tmp_path / "garbage.npz").write_bytes(b"PK\x03\x04" + b"garbage" * 10)
    with pytest.raises(errors.FormatError, match="garbage.npz"):
        io.read_npz(tmp_path / "garbage.npz")
    (tmp_path / "text.npz").write_bytes(b"hello world")
    with pytest.raises(errors.FormatError, match="text.npz"):
        io.read_npz(tmp_path / "text.npz")
    (tmp_path / "empty.npz").write_bytes(b"")
    with pytest.raises(errors.FormatError, match="empty.npz"):
        io.read_npz(tmp_path / "empty.npz")
    arrays = dict(indptr=np.array([0, 1, 1]), indices=np.array([1]), shape=np.array([2, 2]))
    np.savez(tmp_path / "ok.npz", **arrays)
    raw = bytearray((tmp_path / "ok.npz").read_bytes())
    data = raw.index(b"\x93NUMPY", raw.index(b"indptr.npy")) + 128  # indptr's values (after the .npy header)
    raw[data] ^= 0xFF  # its CRC check fails when the member is read
    (tmp_path / "crc.npz").write_bytes(bytes(raw))
    with pytest.raises(errors.FormatError, match="crc.npz"):
        io.read_npz(tmp_path / "crc.npz")
    np.save(tmp_path / "one.npy", np.zeros(3))
    with pytest.raises(errors.FormatError, match="npz"):
        io.read_npz(tmp_path / "one.npy")
    np.savez(tmp_path / "s.npz", format=np.array("csr"), **arrays)  # str, as scipy accepts
    g = io.read_npz(tmp_path / "s.npz")
    assert g.shape == (2, 2) and g.nnz == 1
    np.savez(tmp_path / "c.npz", format=np.array("csc"), **arrays)
    with pytest.raises(errors.UnsupportedError, match="format 'csc'"):
        io.read_npz(tmp_path / "c.npz")


@pytest.mark.parametrize("suffix", [".txt", ".txt.gz"])
@pytest.mark.parametrize("block_size", [0, -1, 1.5, True, None])
def test_read_edgelist_bad_block_size(tmp_path, suffix, block_size):
    p = tmp_path / ("e" + suffix)
    with (gzip.open if suffix.endswith(".gz") else open)(p, "wt") as f:
        f.write("0 1\n1 2\n")
    with pytest.raises(errors.InvalidArgumentError, match="block_size"):
        io.read_edgelist(p, block_size=block_size)


def test_read_edgelist_from_fifo_and_proc_file(tmp_path):
    import threading
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)

    def writer():
        with open(fifo, "w") as f:
            f.write("0 1\n1 2\n2 0\n")

    t = threading.Thread(target=writer, daemon=True)
    t.start()
    read = False
    try:
        g = io.read_edgelist(fifo)
        read = True
    finally:
        if not read:  # the reader may have failed before opening the FIFO: release the blocked writer
            # (without blocking here: a blocking open would wait for a writer that may be gone already)
            os.close(os.open(fifo, os.O_RDONLY | os.O_NONBLOCK))
        t.join(timeout=30)
    assert g.shape == (3, 3) and g.nnz == 3
    # /proc files report size 0 but have content: read as a stream, not mapped as empty
    status = "/proc/self/status"
    if not os.path.exists(status):
        pytest.skip("no /proc")
    with pytest.raises(errors.FormatError, match="status"):
        io.read_edgelist(status)


# ---- audit fixes: compressed input, headers, shapes, integer fields ---------
def _corrupt_gz(data, at):
    c = bytearray(gzip.compress(data))
    c[at if at >= 0 else len(c) // 2] ^= 0xFF
    return bytes(c)


def _no_isal(monkeypatch):
    import sys
    for mod in ("isal", "isal.igzip", "isal.igzip_lib"):
        monkeypatch.setitem(sys.modules, mod, None)


@pytest.mark.parametrize("isal", [True, False])
@pytest.mark.parametrize("at", [30, -1])  # in the first block (header phase) or in the body
@pytest.mark.parametrize("kind", ["txt", "mtx"])
def test_corrupt_gzip_is_format_error_naming_file_once(tmp_path, monkeypatch, capsys, isal, at, kind):
    if isal:
        pytest.importorskip("isal")
    else:
        _no_isal(monkeypatch)
    body = b"".join(b"%d %d\n" % (i + 1, i * 7 % 1000 + 1) for i in range(20000))
    if kind == "mtx":
        body = b"%%MatrixMarket matrix coordinate pattern general\n20000 1000 20000\n" + body
    p = _write(tmp_path, f"bad.{kind}.gz", _corrupt_gz(body, at))
    with pytest.raises(errors.FormatError) as ei:
        io.read(p)
    assert str(ei.value).count(f"bad.{kind}.gz") == 1 and "cannot decompress" in str(ei.value)
    from pysparsegraph.__main__ import main
    assert main(["info", str(p), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("pysparsegraph info: ") and err.count("\n") == 1 and "Traceback" not in err


@pytest.mark.parametrize("n_comments", [4094, 4095, 4096, 20000])
@pytest.mark.parametrize("comp", [None, "gz"])
def test_matrix_market_many_header_comments(tmp_path, n_comments, comp):
    text = "%%MatrixMarket matrix coordinate real general\n" + "% c\n" * n_comments + "3 3 2\n1 1 1.5\n3 2 -2\n"
    plain = _write(tmp_path, "c.mtx", text)
    g = io.read_matrix_market(_write(tmp_path, "c.mtx" + ("." + comp if comp else ""), text, comp))
    _scipy_equal(g, str(plain))


@pytest.mark.parametrize("value", [1e20, -1e19, 2.0 ** 63, np.inf])
def test_write_integer_field_outside_int64(tmp_path, value):
    sp = pytest.importorskip("scipy.sparse")
    A = CSRMatrix.from_scipy(sp.csr_array(np.array([[value, 0], [0, -7.0]])))
    with pytest.raises(errors.InvalidArgumentError, match=re.escape(repr(float(value)))):
        io.write_matrix_market(tmp_path / "i.mtx", A, field="integer")
    assert not (tmp_path / "i.mtx").exists()
    # the extremes that fit are written exactly
    sio = pytest.importorskip("scipy.io")
    B = CSRMatrix.from_scipy(sp.csr_array(np.array([[-2.0 ** 63, 0], [0, 2.0 ** 62]])))
    io.write_matrix_market(tmp_path / "j.mtx", B, field="integer")
    assert "-9223372036854775808" in (tmp_path / "j.mtx").read_text()
    np.testing.assert_array_equal(sio.mmread(str(tmp_path / "j.mtx")).toarray(), [[-2 ** 63, 0], [0, 2 ** 62]])


def test_edgelist_header_restores_shape(tmp_path):
    sio = pytest.importorskip("scipy.io")
    A = CSRMatrix.from_edges(np.array([0, 1]), np.array([1, 2]), shape=(6, 6))
    io.write_edgelist(tmp_path / "e.txt", A)
    back = io.read_edgelist(tmp_path / "e.txt")
    assert back.shape == (6, 6)
    np.testing.assert_array_equal(back.to_scipy().toarray(), A.to_scipy().toarray())
    assert io.read_edgelist(tmp_path / "e.txt", n_nodes=4).shape == (4, 4)  # the caller wins
    assert io.read_edgelist(tmp_path / "e.txt", symmetrize=True).shape == (6, 6)
    # SNAP: "Nodes" is a count, ids may go beyond it
    snap = "# Directed graph\n# Nodes: 3 Edges: 2\n# FromNodeId\tToNodeId\n0\t1\n5\t2\n"
    assert io.read_edgelist(_write(tmp_path, "s.txt", snap)).shape == (6, 6)
    # non-square, through the writer and through the CLI, against scipy
    R = CSRMatrix.from_edges(np.array([0, 4]), np.array([1, 2]), np.array([2.5, -1.0]), shape=(5, 6))
    io.write_edgelist(tmp_path / "r.txt.gz", R, header="Nodes: 99 (a caller's comment)")
    back = io.read_edgelist(tmp_path / "r.txt.gz")
    assert back.shape == (5, 6)
    np.testing.assert_array_equal(back.to_scipy().toarray(), R.to_scipy().toarray())
    assert io.read_edgelist(tmp_path / "r.txt.gz", symmetrize=True).shape == (6, 6)
    from pysparsegraph.__main__ import main
    io.write_matrix_market(tmp_path / "tr.mtx", R)
    assert main(["convert", str(tmp_path / "tr.mtx"), str(tmp_path / "tr.txt"), "--quiet"]) == 0
    assert main(["convert", str(tmp_path / "tr.txt"), str(tmp_path / "tr2.mtx"), "--quiet"]) == 0
    ref = sio.mmread(str(tmp_path / "tr.mtx")).toarray()
    np.testing.assert_array_equal(sio.mmread(str(tmp_path / "tr2.mtx")).toarray(), ref)


def _tar(path, members):
    import io as _io
    import tarfile
    with tarfile.open(path, "w:gz" if str(path).endswith(".gz") else "w") as tf:
        for name, data in members:
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            tf.addfile(ti, _io.BytesIO(data))


@pytest.mark.parametrize("isal", [True, False])
@pytest.mark.parametrize("comp", ["gz", "xz", "bz2"])
def test_compressed_member_inside_tar(tmp_path, monkeypatch, isal, comp):
    if isal:
        pytest.importorskip("isal")
    else:
        _no_isal(monkeypatch)
    plain = _write(tmp_path, "m.mtx", MM_GOOD)
    packed = _write(tmp_path, "packed", MM_GOOD, comp).read_bytes()
    _tar(tmp_path / "m.tar", [("m/README.txt", b"hi"), (f"m/m.mtx.{comp}", packed)])
    g = io.read_matrix_market(tmp_path / "m.tar", member=f"m/m.mtx.{comp}")
    _scipy_equal(g, str(plain))
    _tar(tmp_path / "e.tar.gz", [(f"e/e.txt.{comp}", _write(tmp_path, "p", "0 1\n1 2\n", comp).read_bytes())])
    e = io.read_edgelist(tmp_path / "e.tar.gz", member=f"e/e.txt.{comp}")
    np.testing.assert_array_equal(e.to_scipy().toarray(), [[0, 1, 0], [0, 0, 1], [0, 0, 0]])


def test_tar_default_member_is_the_only_mtx(tmp_path):
    plain = _write(tmp_path, "m.mtx", MM_GOOD)
    _tar(tmp_path / "other.tar.gz", [("x/README.txt", b"hi"), ("x/m.mtx", MM_GOOD.encode()), ("x/z.txt", b"")])
    _scipy_equal(io.read_matrix_market(tmp_path / "other.tar.gz"), str(plain))
    _scipy_equal(io.read(tmp_path / "other.tar.gz"), str(plain))
    _tar(tmp_path / "two.tar", [("x/a.mtx", MM_GOOD.encode()), ("x/b.mtx", MM_GOOD.encode())])
    with pytest.raises(errors.FormatError, match="two.tar.*pass member="):
        io.read_matrix_market(tmp_path / "two.tar")


@pytest.mark.parametrize("comp", [None, "gz"])
def test_edgelist_bare_cr_line_ends(tmp_path, comp):
    for text in (b"0 1\r1 2\r2 0\r", b"# SNAP\r0 1\r1 2\r", b"0 1 0.5\r1 2 2\r"):
        with pytest.raises(errors.FormatError, match="line 1: .*carriage return") as ei:
            io.read_edgelist(_write(tmp_path, "cr.txt", text, comp))
        assert "cr.txt" in str(ei.value)
    # after the first data line too: a weighted file used to read "2 3 1" as ignored columns and lose it
    for text in (b"0 1 1\n1 2 1\r2 3 1\r3 4 1\n", b"0 1\n1 2\r2 3\n", b"0 1 1 x\n1 2 1 a\rb 3\n", b"0 1\n\r2 3\n",
                 b"0 1 1\n1\r2 1\n"):
        with pytest.raises(errors.FormatError, match="line 2: .*carriage return"):
            io.read_edgelist(_write(tmp_path, "cr.txt", text, comp))
    # CRLF keeps working (numpy.loadtxt as the reference)
    crlf = _write(tmp_path, "crlf.txt", b"# c\r\n0 1\r\n1 2\r\n2 0\r\n")
    ref = np.loadtxt(crlf, comments="#", dtype=np.int64)
    g = io.read_edgelist(_write(tmp_path, "crlf.txt", crlf.read_bytes(), comp))
    np.testing.assert_array_equal(np.stack(g.to_edges()[:2], axis=1), ref)


@pytest.mark.parametrize("comp", [None, "gz"])
def test_matrix_market_integer_field_rejects_fractions(tmp_path, comp):
    head = "%%MatrixMarket matrix coordinate integer general\n% c\n2 2 3\n"
    good = _write(tmp_path, "good.mtx", head + "1 1 3\n2 2 -4\n1 1 100\n")
    _scipy_equal(io.read_matrix_market(_write(tmp_path, "g.mtx", good.read_bytes(), comp)), str(good))
    for body, line, text in (("1 1 3\n2 2 1.5\n1 2 7\n", 5, "1.5"), ("1 1 3\n% x\n\n2 2 4\n1 2 2.5D0\n", 8, "2.5D0"),
                             ("1 1 nan\n2 2 1\n1 2 1\n", 4, "nan")):
        with pytest.raises(errors.FormatError, match=f"bad.mtx.*: line {line}: value '{re.escape(text)}' is not an"):
            io.read_matrix_market(_write(tmp_path, "bad.mtx", head + body, comp))
    arr = "%%MatrixMarket matrix array integer general\n2 1\n4\n0.25\n"
    with pytest.raises(errors.FormatError, match="line 4: value '0.25'"):
        io.read_matrix_market(_write(tmp_path, "arr.mtx", arr, comp))
    # PACE: the p line must say tw
    with pytest.raises(errors.FormatError, match="p tw"):
        io.read_pace(_write(tmp_path, "p.gr", "c x\np td 4 3\n1 2\n2 3\n4 1\n", comp))


def test_symmetric_writer_nan_diagonal_and_upper_only_zero(tmp_path):
    sp = pytest.importorskip("scipy.sparse")
    sio = pytest.importorskip("scipy.io")
    for dense in ([[np.nan, 1.0], [1.0, 0.0]], [[np.inf, 2.0], [2.0, -np.inf]]):
        M = sp.csr_array(np.array(dense))
        io.write_matrix_market(tmp_path / "s.mtx", CSRMatrix.from_scipy(M), symmetry="symmetric")
        back = io.read_matrix_market(tmp_path / "s.mtx").to_scipy(np.float64).toarray()
        np.testing.assert_array_equal(back, M.toarray())
        np.testing.assert_array_equal(sio.mmread(str(tmp_path / "s.mtx")).toarray(), M.toarray())
    with pytest.raises(errors.InvalidArgumentError, match="not skew-symmetric"):
        io.write_matrix_market(tmp_path / "k.mtx", CSRMatrix.from_scipy(sp.csr_array(np.array([[np.nan, 1.0],
                                                                                                [-1.0, 0]]))),
                               symmetry="skew-symmetric")
    # an explicit zero stored above the diagonal only is kept (at its mirror position)
    for sym in ("symmetric", "skew-symmetric"):
        Z = CSRMatrix(np.array([0, 1, 2]), np.array([1, 0]), np.array([0.0, 0.0]), shape=(2, 2))
        U = CSRMatrix(np.array([0, 1, 1]), np.array([1]), np.array([0.0]), shape=(2, 2))
        for A, nnz in ((U, 1), (Z, 1)):
            io.write_matrix_market(tmp_path / "z.mtx", A, symmetry=sym)
            assert (tmp_path / "z.mtx").read_text().splitlines()[1] == f"2 2 {nnz}"
            back = io.read_matrix_market(tmp_path / "z.mtx")
            assert back.nnz == 2 and not back.values.any()
    with pytest.raises(errors.InvalidArgumentError, match="not symmetric"):
        io.write_matrix_market(tmp_path / "u.mtx", CSRMatrix(np.array([0, 1, 1]), np.array([1]), np.array([3.0]),
                                                             shape=(2, 2)), symmetry="symmetric")


def test_symmetric_writer_needs_no_scipy(tmp_path, monkeypatch):
    import sys
    # duplicates (summed in the file), an unweighted twin, a NaN pair; checked against dense NumPy
    rows, cols = np.array([0, 1, 2, 1, 2, 0, 3, 3]), np.array([1, 0, 2, 2, 1, 1, 3, 0])
    vals = np.array([1.5, 4.0, -2.0, 0.25, 0.25, 2.5, 7.0, np.nan])
    A = CSRMatrix.from_edges(np.r_[rows, 0], np.r_[cols, 3], np.r_[vals, np.nan], shape=(4, 4), duplicates="keep")
    dense = np.zeros((4, 4))
    np.add.at(dense, (np.r_[rows, 0], np.r_[cols, 3]), np.r_[vals, np.nan])
    for mod in ("scipy", "scipy.sparse", "scipy.io"):
        monkeypatch.setitem(sys.modules, mod, None)
    io.write_matrix_market(tmp_path / "s.mtx", A, symmetry="symmetric")
    lines = (tmp_path / "s.mtx").read_text().splitlines()
    assert lines[1] == "4 4 5"  # the lower triangle, one line per position
    back = io.read_matrix_market(tmp_path / "s.mtx")
    got = np.zeros((4, 4))
    got[np.repeat(np.arange(4), np.diff(back.indptr)), back.indices] = back.values
    np.testing.assert_array_equal(got, dense)
    io.write_matrix_market(tmp_path / "p.mtx", CSRMatrix.from_edges([0, 1, 1, 0], [1, 0, 0, 1], shape=(2, 2),
                                                                    duplicates="keep"), symmetry="symmetric")
    assert (tmp_path / "p.mtx").read_text().splitlines()[1:] == ["2 2 1", "2 1"]
    dense = np.array([[0.0, -1.5, 0.0], [np.nan, 0.0, 2.0]])  # io.read of an array file: its non-zeros
    io.write_matrix_market(tmp_path / "d.mtx", dense)
    D = io.read(tmp_path / "d.mtx")
    assert D.shape == (2, 3) and D.nnz == 3
    got = np.zeros((2, 3))
    got[np.repeat(np.arange(2), np.diff(D.indptr)), D.indices] = D.values
    np.testing.assert_array_equal(got, dense)


def test_read_edgelist_id_limit_as_documented(tmp_path):
    # without n_nodes, an id in a block may not exceed 64 * (entries before it + bytes // 2) + 2**24
    p = tmp_path / "far.txt"
    p.write_text(f"0 1\n1 {2 ** 24 + 1000}\n")  # 2 lines, ~20 bytes: limit 2**24 + 64 * 10
    with pytest.raises(errors.IndexOutOfRangeError):
        io.read_edgelist(p)
    p.write_text(f"0 1\n1 {2 ** 24 + 100}\n")  # within 2**24 + 64 * (20 // 2)
    assert io.read_edgelist(p).shape == (2 ** 24 + 101,) * 2
    p.write_text(f"1 {2 ** 31 - 1}\n")
    with pytest.raises(errors.IndexOverflowError):
        io.read_edgelist(p)


def test_an_implausible_nodes_header_is_ignored_with_a_warning(tmp_path):
    # the ids' rule against memory bombs: a header may not ask for more than 64 * edges + 2**24 nodes
    p = tmp_path / "h.txt"
    p.write_text("# Nodes: 20000000 Edges: 2\n0\t1\n1\t2\n")
    with pytest.warns(UserWarning, match="declares 20000000 nodes"):
        A = io.read_edgelist(p)
    assert A.shape == (3, 3) and A.nnz == 2
    p.write_text("# Nodes: 7 Edges: 2\n0\t1\n1\t2\n")  # plausible: isolated nodes 3..6 kept
    assert io.read_edgelist(p).shape == (7, 7)


def test_load_npz_graph_checks_the_shape_and_names_missing_keys(tmp_path):
    from pysparsegraph.datasets import load_npz_graph
    ok = dict(indptr=np.array([0, 1]), indices=np.array([0]))
    np.savez(tmp_path / "f.npz", shape=np.array([1.9, 1.2]), **ok)  # was truncated to (1, 1)
    with pytest.raises(errors.PSGError):
        load_npz_graph(tmp_path / "f.npz")
    np.savez(tmp_path / "m.npz", **ok)
    with pytest.raises(errors.FormatError, match="missing \\['shape'\\]"):
        load_npz_graph(tmp_path / "m.npz")
    np.savez(tmp_path / "s.npz", shape=np.array(3), **ok)
    with pytest.raises(errors.FormatError, match="two integers"):
        load_npz_graph(tmp_path / "s.npz")
    np.savez(tmp_path / "g.npz", shape=np.array([1, 2]), **ok)
    assert load_npz_graph(tmp_path / "g.npz").shape == (1, 2)


def test_a_data_variable_naming_no_folder_finds_no_data(tmp_path, monkeypatch):
    from pysparsegraph.datasets import shared_data_dir
    monkeypatch.setenv("PYSPARSEGRAPH_DATA", str(tmp_path / "typo"))
    assert shared_data_dir() is None  # not another folder's data
    monkeypatch.setenv("PYSPARSEGRAPH_DATA", str(tmp_path))
    assert shared_data_dir() == str(tmp_path)


def test_csv_is_not_taken_for_a_whitespace_edge_list(tmp_path):
    # .csv was detected as an edge list, whose parser then failed on the commas of line 1
    from pysparsegraph import errors, io as pio
    p = tmp_path / "e.csv"
    p.write_text("0,1\n1,2\n")
    with pytest.raises(errors.UnsupportedError, match="CSV files are not read.*from_edges"):
        pio.read(p)
    assert pio.detect_format(tmp_path / "e.txt") == "edgelist"


def _tar_header(name, size_field, kind):
    """One 512-byte ustar header with a valid checksum and a raw 12-byte size field."""
    h = bytearray(512)
    h[0:len(name)] = name
    h[100:108], h[108:116], h[116:124] = b"0000644\0", b"0000000\0", b"0000000\0"
    h[124:136] = size_field
    h[136:148], h[156:157], h[257:263], h[263:265] = b"00000000000\0", kind, b"ustar\0", b"00"
    h[148:156] = b" " * 8
    h[148:156] = b"%06o\0 " % sum(h)
    return bytes(h)


def test_forged_tar_sizes_are_format_errors(tmp_path):
    # a negative GNU base-256 size; a long-name record claiming 8 GiB (read in one piece: it was allocated)
    for size_field, kind, what in ((b"\xff" + b"\0" * 11, b"0", "size -"), (b"77777777777\0", b"L", "long-name"),
                                   (b"\x80" + b"\0" * 3 + b"\xff" * 8, b"x", "pax record")):
        p = tmp_path / "g.tar"
        p.write_bytes(_tar_header(b"g/g.mtx" if kind == b"0" else b"././@LongLink", size_field, kind)
                      + b"x" * 512 + b"\0" * 1024)
        for read in (io.read_matrix_market, io.read_edgelist):
            with pytest.raises(errors.FormatError, match=f"bad tar header.*{what}"):
                read(p)


def test_missing_paths_and_folders_are_library_errors(tmp_path):
    (tmp_path / "folder.npz").mkdir()
    for read in (io.read_npz, io.read_edgelist, io.read_matrix_market, io.read_pace, io.load, io.load_extra):
        with pytest.raises(errors.MissingFileError, match="no such file"):
            read(tmp_path / "missing")
        with pytest.raises(errors.PSGIOError, match="is a folder"):
            read(tmp_path / "folder.npz")


def test_dense_matrix_market_writer_refuses_what_it_cannot_store(tmp_path):
    for a in (np.array([[1 + 2j, 0], [0, 3j]]), np.array([["a", "b"]]), np.array([[None, 1]])):
        with pytest.raises(errors.DTypeError, match="real numbers"):
            io.write_matrix_market(tmp_path / "c.mtx", a)
    assert not os.listdir(tmp_path)
    io.write_matrix_market(tmp_path / "b.mtx", np.array([[True, False]]))  # booleans are 0 / 1
    np.testing.assert_array_equal(io.read_matrix_market(tmp_path / "b.mtx"), [[1.0, 0.0]])
