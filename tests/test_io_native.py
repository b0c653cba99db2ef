"""Native .psg format: round trips, mmap zero-copy views, atomic writes, and
clear errors on truncated / corrupted / wrong-version files."""
import os
import struct

import numpy as np
import pytest

from pysparsegraph import CSRMatrix, errors, io
from pysparsegraph.datasets import shared_data_dir
from pysparsegraph.native import ALIGN, HEADER_SIZE, load, load_extra, save

DATA = shared_data_dir()


def _graph(weighted=True, n=200, m=2000, seed=0, dtype=np.float32):
    rng = np.random.default_rng(seed)
    src, dst = rng.integers(0, n, m), rng.integers(0, n, m)
    vals = rng.random(m).astype(dtype) if weighted else None
    return CSRMatrix.from_edges(src, dst, vals, shape=(n, n))


def _same(a, b):
    assert a.shape == b.shape
    np.testing.assert_array_equal(a.indptr, b.indptr)
    np.testing.assert_array_equal(a.indices, b.indices)
    if a.values is None:
        assert b.values is None
    else:
        assert a.values.dtype == b.values.dtype
        np.testing.assert_array_equal(a.values, b.values)


@pytest.mark.parametrize("weighted", [True, False])
@pytest.mark.parametrize("mmap", [True, False])
def test_round_trip(tmp_path, weighted, mmap):
    g = _graph(weighted)
    save(g, tmp_path / "g.psg")
    h = load(tmp_path / "g.psg", mmap=mmap)
    _same(g, h)
    h2 = load(tmp_path / "g.psg", mmap=True, verify=True)
    _same(g, h2)


def test_mmap_views_are_zero_copy_readonly_and_aligned(tmp_path):
    g = _graph(dtype=np.float64)
    save(g, tmp_path / "g.psg")
    h = load(tmp_path / "g.psg")
    import mmap

    for arr in (h.indptr, h.indices, h.values):
        assert not arr.flags.writeable
        base = arr
        while isinstance(getattr(base, "base", None), (np.ndarray, memoryview)):
            base = base.base
        if isinstance(base, memoryview):
            base = base.obj
        assert isinstance(base, mmap.mmap)  # a view of the mapping, no copy
        assert arr.__array_interface__["data"][0] % ALIGN == 0
    with pytest.raises(ValueError):
        h.indices[0] = 1


def test_empty_and_int64_and_extra(tmp_path):
    e = CSRMatrix(np.zeros(1, np.int64), np.zeros(0, np.int32), shape=(0, 0))
    save(e, tmp_path / "e.psg")
    _same(e, load(tmp_path / "e.psg"))
    g = CSRMatrix(np.array([0, 2, 3]), np.array([0, 1, 1], dtype=np.int64), shape=(2, 5))
    feats = np.arange(10, dtype=np.float32).reshape(2, 5)
    save(g, tmp_path / "x.psg", extra={"features": feats, "labels": np.array([1, 0])})
    _same(g, load(tmp_path / "x.psg"))
    ex = load_extra(tmp_path / "x.psg")
    np.testing.assert_array_equal(ex["features"], feats)
    np.testing.assert_array_equal(load_extra(tmp_path / "x.psg", "labels"), [1, 0])
    with pytest.raises(errors.MissingEntryError, match="no extra array 'missing'"):  # also a KeyError
        load_extra(tmp_path / "x.psg", "missing")
    with pytest.raises(errors.InvalidArgumentError):
        save(g, tmp_path / "y.psg", extra={"indptr": np.zeros(2)})


@pytest.mark.parametrize("mmap", [True, False])
def test_every_truncation_is_detected(tmp_path, mmap):
    g = _graph()
    save(g, tmp_path / "g.psg")
    data = (tmp_path / "g.psg").read_bytes()
    cuts = sorted(set([0, 1, 7, HEADER_SIZE - 1, HEADER_SIZE, HEADER_SIZE + 10] +
                      list(range(0, len(data), max(1, len(data) // 40))) + [len(data) - 1]))
    for cut in cuts:
        (tmp_path / "t.psg").write_bytes(data[:cut])
        with pytest.raises(errors.FormatError) as ei:
            load(tmp_path / "t.psg", mmap=mmap)
        assert "t.psg" in str(ei.value)


def test_flipped_bytes_are_detected(tmp_path):
    g = _graph()
    save(g, tmp_path / "g.psg")
    data = bytearray((tmp_path / "g.psg").read_bytes())
    rng = np.random.default_rng(3)
    positions = list(range(0, 200)) + rng.integers(200, len(data), 200).tolist()
    detected = 0
    for pos in positions:
        bad = bytearray(data)
        bad[pos] ^= 0x5A
        (tmp_path / "c.psg").write_bytes(bad)
        try:
            h = load(tmp_path / "c.psg", mmap=True, verify=True)
        except errors.FormatError:
            detected += 1
            continue
        # a flip in alignment padding changes nothing: the data must be intact
        _same(g, h)
    assert detected > 0.8 * len(positions)
    # the header/table is always checked, even without verify
    for pos in range(0, 200):
        bad = bytearray(data)
        bad[pos] ^= 0x01
        (tmp_path / "c.psg").write_bytes(bad)
        with pytest.raises(errors.FormatError):
            load(tmp_path / "c.psg", mmap=True, verify=False)


def test_unverified_mmap_load_still_checks_structure_before_a_kernel_runs(tmp_path):
    import pysparsegraph as psg

    g = _graph()
    save(g, tmp_path / "g.psg")
    ok = load(tmp_path / "g.psg", mmap=True, verify=False)
    # the file's column ids sit at the offset of the indices array: point one far out of range
    data = bytearray((tmp_path / "g.psg").read_bytes())
    idx_bytes = np.asarray(ok.indices).tobytes()
    start = bytes(data).find(idx_bytes)
    assert start > 0
    struct.pack_into("<i" if ok.indices.dtype == np.int32 else "<q", data, start, 10**9)
    (tmp_path / "bad.psg").write_bytes(data)
    h = load(tmp_path / "bad.psg", mmap=True, verify=False)  # opening stays O(1): no error yet
    x = np.ones((h.n_cols, 4), np.float32)
    with pytest.raises(errors.IndexOutOfRangeError, match="outside"):
        psg.spmm(h, x)
    with pytest.raises(errors.IndexOutOfRangeError):  # and it stays refused
        psg.spmm(h, x)
    np.testing.assert_allclose(psg.spmm(ok, x), g.to_scipy() @ x, rtol=1e-5)


def _corrupt_copy(tmp_path, g, array, position, value):
    """A copy of g's file with entry `position` of `array` overwritten (checksums left stale)."""
    save(g, tmp_path / "g.psg")
    ok = load(tmp_path / "g.psg", mmap=False)
    a = np.asarray(getattr(ok, array))
    data = bytearray((tmp_path / "g.psg").read_bytes())
    start = bytes(data).find(a.tobytes())
    assert start > 0
    struct.pack_into("<q" if a.itemsize == 8 else "<i", data, start + position * a.itemsize, value)
    (tmp_path / "bad.psg").write_bytes(data)
    return tmp_path / "bad.psg"


@pytest.mark.parametrize("array, position, value", [("indices", 3, 10**9), ("indptr", 2, 10**12)])
def test_every_use_of_an_unverified_corrupt_file_is_refused(tmp_path, array, position, value):
    """Not only kernels: exports, writers, reordering, derived matrices and
    re-saving read the index arrays too, and must run the deferred check
    first (these used to read out of bounds, or copy the corruption on)."""
    import pysparsegraph as psg
    from pysparsegraph import reorder

    g = _graph(weighted=True, n=50, m=300)
    path = _corrupt_copy(tmp_path, g, array, position, value)
    uses = {
        "reorder.order": lambda h: reorder.order(h, "rcm"),
        "reorder.permute": lambda h: reorder.permute(h, np.arange(h.n_rows)),
        "reorder.bandwidth": reorder.bandwidth,
        "to_edges": lambda h: h.to_edges(),
        "to_scipy": lambda h: h.to_scipy(),
        "astype then spmm": lambda h: psg.spmm(h.astype(np.float32), np.ones((h.n_cols, 2), np.float32)),
        "write_edgelist": lambda h: io.write_edgelist(tmp_path / "out.txt", h),
        "write_matrix_market": lambda h: io.write_matrix_market(tmp_path / "out.mtx", h),
        "save": lambda h: save(h, tmp_path / "copy.psg"),
        "indices property": lambda h: h.indices,
    }
    for name, use in uses.items():
        h = load(path, mmap=True, verify=False)  # a fresh, still unchecked matrix for each use
        with pytest.raises((errors.IndexOutOfRangeError, errors.InvalidIndptrError)):
            use(h)
    assert not (tmp_path / "copy.psg").exists()


def test_wrong_version_and_foreign_file(tmp_path):
    g = _graph()
    save(g, tmp_path / "g.psg")
    data = bytearray((tmp_path / "g.psg").read_bytes())
    struct.pack_into("<I", data, 8, 99)
    (tmp_path / "v.psg").write_bytes(data)
    with pytest.raises(errors.FormatError, match="version 99"):
        load(tmp_path / "v.psg")
    (tmp_path / "f.psg").write_bytes(b"not a graph at all" * 20)
    with pytest.raises(errors.FormatError, match="not a pysparsegraph"):
        load(tmp_path / "f.psg")
    (tmp_path / "z.psg").write_bytes(b"")
    with pytest.raises(errors.FormatError, match="empty"):
        load(tmp_path / "z.psg")


def test_atomic_write_keeps_old_file_on_failure(tmp_path, monkeypatch):
    g = _graph()
    path = tmp_path / "g.psg"
    save(g, path)
    before = path.read_bytes()
    import pysparsegraph.native as native

    def boom(*a, **k):
        raise RuntimeError("simulated crash")

    monkeypatch.setattr(native, "_crc", boom)
    with pytest.raises(RuntimeError):
        save(_graph(seed=5), path)
    monkeypatch.undo()
    real_fsync = os.fsync

    def crash_fsync(fd):
        raise OSError("disk gone")

    monkeypatch.setattr(os, "fsync", crash_fsync)
    with pytest.raises(OSError):
        save(_graph(seed=6), path)
    monkeypatch.setattr(os, "fsync", real_fsync)
    assert path.read_bytes() == before
    assert [f for f in os.listdir(tmp_path)] == ["g.psg"]


@pytest.mark.skipif(DATA is None, reason="shared/data not found")
def test_real_graph_round_trip_through_io_dispatch(tmp_path):
    g = io.read(os.path.join(DATA, "ego-Facebook", "ego-Facebook.npz"))
    io.write(g, tmp_path / "fb.psg")
    _same(g, io.read(tmp_path / "fb.psg"))
    _same(g, load(tmp_path / "fb.psg", mmap=False))


_WRITERS = {
    "psg": lambda g, p: save(g, p),
    "mtx": lambda g, p: io.write_matrix_market(p, g),
    "txt": lambda g, p: io.write_edgelist(p, g),
    "npz": lambda g, p: io.write_npz(p, g),
}


@pytest.mark.parametrize("umask", [0o022, 0o027], ids=oct)
@pytest.mark.parametrize("suffix", sorted(_WRITERS))
def test_atomic_writers_give_new_files_the_open_mode(tmp_path, umask, suffix):
    old = os.umask(umask)
    try:
        ref = tmp_path / "ref"
        open(ref, "wb").close()  # what a plain open() gives under this umask
        path = tmp_path / ("g." + suffix)
        _WRITERS[suffix](_graph(seed=7), path)
    finally:
        os.umask(old)
    assert oct(os.stat(path).st_mode & 0o7777) == oct(os.stat(ref).st_mode & 0o7777)


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604], ids=oct)
@pytest.mark.parametrize("suffix", sorted(_WRITERS))
def test_atomic_writers_keep_the_mode_of_the_replaced_file(tmp_path, mode, suffix):
    path = tmp_path / ("g." + suffix)
    path.write_bytes(b"old")
    os.chmod(path, mode)
    _WRITERS[suffix](_graph(seed=8), path)
    assert oct(os.stat(path).st_mode & 0o7777) == oct(mode)
    assert path.read_bytes() != b"old"


def test_umask_is_read_without_changing_it():
    from pysparsegraph.native import _umask

    old = os.umask(0o037)
    try:
        assert _umask() == 0o037
        assert os.umask(0o037) == 0o037  # unchanged by the read
    finally:
        os.umask(old)


@pytest.mark.parametrize("suffix", sorted(_WRITERS))
def test_atomic_writers_write_through_symlinks_and_fifos(tmp_path, suffix):
    import stat
    import threading

    g = _graph(seed=9)
    target = tmp_path / ("target." + suffix)
    target.write_bytes(b"old")
    link = tmp_path / ("link." + suffix)
    link.symlink_to(target)
    _WRITERS[suffix](g, link)
    assert link.is_symlink() and os.readlink(link) == str(target)  # the link is kept ...
    dense = g.to_scipy(np.float64).toarray()
    np.testing.assert_allclose(io.read(target).to_scipy(np.float64).toarray(), dense, rtol=1e-6)  # ... and updated
    # a FIFO (like /dev/null, a device) cannot be renamed over: the bytes go into it
    fifo = tmp_path / ("pipe." + suffix)
    os.mkfifo(fifo)
    got = []
    reader = threading.Thread(target=lambda: got.append(open(fifo, "rb").read()), daemon=True)
    reader.start()
    _WRITERS[suffix](g, fifo)
    reader.join(timeout=30)
    assert stat.S_ISFIFO(os.stat(fifo).st_mode) and got
    copy = tmp_path / ("copy." + suffix)  # what came through the pipe is the whole file
    copy.write_bytes(got[0])
    np.testing.assert_allclose(io.read(copy).to_scipy(np.float64).toarray(), dense, rtol=1e-6)


def test_save_safetensors_writes_through_a_symlink(tmp_path):
    from pysparsegraph import weights

    target = tmp_path / "m.safetensors"
    weights.save_safetensors(target, {"a": np.zeros(2, np.float32)})
    link = tmp_path / "link.safetensors"
    link.symlink_to(target)
    weights.save_safetensors(link, {"a": np.ones(3, np.float32)})
    assert link.is_symlink()
    np.testing.assert_array_equal(weights.load(target)["a"], np.ones(3, np.float32))


def test_deferred_check_of_a_mapped_file_holds_for_concurrent_first_uses(tmp_path):
    # load(mmap=True) checks the structure at first use; the check releases the GIL, and
    # threads arriving meanwhile used to run kernels on unchecked (here: corrupt) column ids
    from concurrent.futures import ThreadPoolExecutor

    from pysparsegraph import generate, native

    A = generate.rmat(14, edge_factor=8, seed=3)
    p = tmp_path / "bad.psg"
    save(A, p)
    _, ent = native._read_table(p.read_bytes(), str(p))
    _, off, length, _, _ = ent["indices"]
    with open(p, "r+b") as f:  # one column id out of range; a mapped load does not verify checksums
        f.seek(off + (length - 1) * 4)
        f.write(np.int32(2 ** 30).tobytes())

    def first_use(_):
        try:
            B.to_edges()
        except errors.IndexOutOfRangeError:
            return "refused"
        return "ran"

    for _ in range(3):
        B = load(p)
        with ThreadPoolExecutor(8) as ex:
            assert list(ex.map(first_use, range(8))) == ["refused"] * 8
    C = load(tmp_path / "bad.psg")
    with pytest.raises(errors.IndexOutOfRangeError):  # and serially, every time
        C.to_edges()
    with pytest.raises(errors.IndexOutOfRangeError):
        C.to_edges()


def test_writers_name_their_argument_order_and_load_extra_is_exported(tmp_path):
    import pysparsegraph as psg
    from pysparsegraph import errors, io as pio
    g = psg.from_edges([0, 1], [1, 2])
    for call, good in ((lambda: psg.write(str(tmp_path / "b.npz"), g), "write(graph, path)"),
                       (lambda: psg.save(str(tmp_path / "b.psg"), g), "save(graph, path)"),
                       (lambda: pio.write_npz(g, str(tmp_path / "b.npz")), "write_npz(path, graph)"),
                       (lambda: pio.write_edgelist(g, str(tmp_path / "b.txt")), "write_edgelist(path, graph)"),
                       (lambda: pio.write_matrix_market(g, str(tmp_path / "b.mtx")),
                        "write_matrix_market(path, matrix)")):
        with pytest.raises(errors.InvalidArgumentError, match=good.replace("(", r"\(").replace(")", r"\)")):
            call()
    x = np.arange(6.0).reshape(3, 2)
    psg.save(g, tmp_path / "e.psg", extra={"x": x})
    for load_extra in (psg.load_extra, pio.load_extra):
        np.testing.assert_array_equal(load_extra(tmp_path / "e.psg", "x"), x)
        assert list(load_extra(tmp_path / "e.psg")) == ["x"]


def _forge_table(path, edit):
    """Rewrites the table entries of the .psg at `path` with edit(name, dtype, offset, length, shape0, crc)
    -> new fields, then recomputes the header checksum: a forged file, not a damaged one."""
    import zlib

    from pysparsegraph.native import _ENT, ENTRY_SIZE
    data = bytearray(path.read_bytes())
    n = struct.unpack_from("<I", data, 12)[0]
    for i in range(n):
        at = HEADER_SIZE + ENTRY_SIZE * i
        _ENT.pack_into(data, at, *edit(*_ENT.unpack_from(data, at)))
    struct.pack_into("<I", data, 124, 0)
    struct.pack_into("<I", data, 124, zlib.crc32(bytes(data[:HEADER_SIZE + ENTRY_SIZE * n])))
    path.write_bytes(data)


def test_extra_names_cannot_replace_the_graph_arrays(tmp_path):
    g = _graph(n=3, m=4)
    # the table strips the NUL padding: "values\0" would be read back as "values"
    for name in ("values\0", "indptr\0", "a\0b"):
        with pytest.raises(errors.InvalidArgumentError, match="NUL"):
            save(g, tmp_path / "n.psg", extra={name: np.zeros(g.nnz)})
    # a table naming an array twice (forged, checksum consistent): one would silently replace the other
    save(g, tmp_path / "d.psg", extra={"valuez": np.arange(g.nnz, dtype=np.float32)})
    _forge_table(tmp_path / "d.psg", lambda name, *rest: (b"values" if name.startswith(b"valuez") else name, *rest))
    for mmap in (True, False):
        with pytest.raises(errors.FormatError, match="'values' twice"):
            load(tmp_path / "d.psg", mmap=mmap)
        with pytest.raises(errors.FormatError, match="d.psg: the array table names 'values' twice"):
            load_extra(tmp_path / "d.psg")


@pytest.mark.parametrize("array", [b"indptr", b"indices", b"values"])
@pytest.mark.parametrize("mmap", [True, False])
def test_graph_arrays_stored_as_2d_are_format_errors(tmp_path, array, mmap):
    # a forged table entry with shape0 != length: 2-D graph arrays (or raw ValueErrors) before
    save(_graph(n=3, m=4), tmp_path / "g.psg", extra={"pad": np.zeros(64)})
    _forge_table(tmp_path / "g.psg", lambda name, dt, off, length, shape0, crc:
                 (name, dt, off, 2 * length, length, crc) if name.rstrip(b"\0") == array
                 else (name, dt, off, length, shape0, crc))
    with pytest.raises(errors.FormatError, match=f"g.psg: array '{array.decode()}' has .* the graph's arrays are 1-D"):
        load(tmp_path / "g.psg", mmap=mmap)


def test_missing_paths_and_folders_are_psg_errors(tmp_path):
    (tmp_path / "dir.psg").mkdir()
    for fn in (load, load_extra, io.load, io.load_extra):
        with pytest.raises(errors.MissingFileError, match="nope.psg: no such file"):  # also a FileNotFoundError
            fn(tmp_path / "nope.psg")
        with pytest.raises(errors.PSGIOError, match="dir.psg: is a folder"):
            fn(tmp_path / "dir.psg")
