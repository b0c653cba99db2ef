"""Reading and writing graphs: SNAP edge lists, Matrix Market, Planetoid,
WebGraph BVGraph, ``.npz``, scipy / networkx objects, and the native
memory-mappable format (:func:`save` / :func:`load`).

Text formats are streamed: the file is decompressed block by block (gzip,
xz, bz2, or a member of a ``.tar``/``.tar.gz`` archive), each block of whole
lines is parsed in C by all threads (hand-written integer and float parsing, no
Python object per line), and the entries go into a compact store that becomes
the CSR. Only one block of text is in memory at a time.

gzip is decompressed with ``isal`` (ISA-L, 2-3x faster than zlib) when it is
installed (``pip install pysparsegraph[io]``), else with the standard library.

Malformed files raise :class:`~pysparsegraph.errors.FormatError` whose message
names the file and the line.
"""
import bz2
import gzip
import lzma
import numbers
import os
import re
import stat
import tarfile
import warnings
import zipfile
import zlib

import numpy as np

from pysparsegraph import _core, errors
from pysparsegraph._validate import as_dim, as_flag, as_path, c_aligned, check_path, choice, resolve_threads
from pysparsegraph.matrix import CSRMatrix
from pysparsegraph.native import load, load_extra, save  # noqa: F401  (re-exported)

__all__ = ["read", "write", "read_edgelist", "write_edgelist", "read_pace", "read_matrix_market", "write_matrix_market",
           "read_npz", "write_npz", "read_planetoid", "read_bvgraph", "from_networkx", "to_networkx",
           "save", "load", "load_extra", "MatrixMarketHeader"]

BLOCK_SIZE = 256 << 10  # small blocks keep peak memory near the CSR size

_GZIP_MAGIC = b"\x1f\x8b"
_XZ_MAGIC = b"\xfd7zXZ\x00"
_BZ2_MAGIC = b"BZh"


# ---------------------------------------------------------------------------
# streams
# ---------------------------------------------------------------------------
def _gzip_open(path_or_file):
    try:
        from isal import igzip  # optional, much faster inflate

        return igzip.open(path_or_file, "rb")
    except ImportError:
        return gzip.open(path_or_file, "rb")


def _decompress_errors():
    """What a read from a decompressing stream raises on corrupt or truncated
    input. zlib.error and isal's IsalError derive from neither OSError nor
    ValueError, so they are listed; isal is optional."""
    errs = (OSError, EOFError, ValueError, lzma.LZMAError, zlib.error)
    try:
        from isal.igzip_lib import IsalError
    except ImportError:
        return errs
    return errs + (IsalError,)


def _read(stream, name, n):
    """``stream.read(n)``; a decompression error becomes a FormatError naming the file."""
    try:
        return stream.read(n)
    except _decompress_errors() as exc:  # evaluated only when an exception is raised
        raise errors.FormatError(f"{name}: cannot decompress ({exc}); the file is truncated or corrupt") from exc


def _decompressing(raw, name):
    """Wraps a binary stream in the decompressor its magic bytes ask for."""
    head = raw.peek(8)[:8] if hasattr(raw, "peek") else b""
    if head.startswith(_GZIP_MAGIC):
        return _gzip_open(raw)
    if head.startswith(_XZ_MAGIC):
        return lzma.open(raw, "rb")
    if head.startswith(_BZ2_MAGIC):
        return bz2.open(raw, "rb")
    return raw


def _is_tar(path):
    p = str(path).lower()
    return p.endswith((".tar", ".tar.gz", ".tgz", ".tar.xz", ".tar.bz2"))


def _open_text(path, member=None, suffixes=(".mtx",)):
    """(binary stream of the decompressed text, name for messages, closer list)."""
    path = check_path(path, "text file", regular=False)  # text may come through a pipe (<(zcat ...))
    if _is_tar(path):
        # The archive is decompressed once, front to back (isal for gzip when
        # available); member headers are parsed with TarInfo.frombuf and the
        # member's bytes are read straight from the decompressor in large
        # blocks (tarfile's stream mode reads 10 KiB at a time).
        base = os.path.basename(path).split(".")[0]
        while True:
            raw = open(path, "rb")
            outer = _decompressing(raw, path)
            try:
                name, size = _tar_find(outer, path, member, base, suffixes)
            except BaseException:
                outer.close()
                raw.close()
                raise
            if name is not None:
                break
            # the stream cannot go back: reopen and stop at the only candidate
            outer.close()
            raw.close()
            member = size
        f = _Limited(outer, size)
        return _decompressing(_Peekable(f), name), f"{path}:{name}", [outer, raw], None
    raw = open(path, "rb")
    s = _decompressing(raw, path)
    st = os.fstat(raw.fileno())
    # only a non-empty regular file is mapped: a FIFO cannot seek, and /proc
    # files report size 0 but have content; both are read as streams
    mappable = s is raw and stat.S_ISREG(st.st_mode) and st.st_size > 0
    return s, path, ([s, raw] if s is not raw else [raw]), (raw if mappable else None)


_TAR_META_MAX = 1 << 20  # a long name or pax record; real ones hold a path and a few keywords


def _tar_find(stream, path, member, base, suffixes):
    """Advances ``stream`` (a decompressed tar) to the data of the wanted
    member; returns (name, size). Handles GNU long names and pax headers.

    Without ``member``, the default is ``base/base<suffix>``; when no member
    has that name but exactly one has a wanted suffix, returns (None, its
    name): it has already been passed, so the caller reopens the archive."""
    seen = []
    candidates = []
    long_name = None
    while True:
        hdr = _read(stream, path, 512)
        if len(hdr) < 512 or hdr.count(0) == 512:
            break
        try:
            ti = tarfile.TarInfo.frombuf(hdr, "utf-8", "surrogateescape")
        except tarfile.HeaderError as exc:
            raise errors.FormatError(f"{path}: bad tar header ({exc})") from None
        if ti.size < 0:  # a GNU base-256 size field can say so
            raise errors.FormatError(f"{path}: bad tar header (member {ti.name!r} has size {ti.size})")
        padded = (ti.size + 511) // 512 * 512
        if ti.type in (tarfile.GNUTYPE_LONGNAME, tarfile.XHDTYPE):
            if ti.size > _TAR_META_MAX:  # read in one piece: a forged size would allocate it
                raise errors.FormatError(f"{path}: bad tar header (a long-name or pax record of {ti.size} bytes)")
            payload = _read(stream, path, padded)[: ti.size]
            if ti.type == tarfile.GNUTYPE_LONGNAME:
                long_name = payload.rstrip(b"\0").decode("utf-8", "surrogateescape")
            else:
                for rec in payload.split(b"\n"):
                    if b" path=" in rec:
                        long_name = rec.split(b" path=", 1)[1].decode("utf-8", "surrogateescape")
            continue
        name = long_name or ti.name
        long_name = None
        if ti.isreg():
            seen.append(name)
            if name.endswith(suffixes):
                candidates.append(name)
            ok = (name == member) if member is not None else (
                name.endswith(suffixes) and os.path.basename(name).split(".")[0] == base)
            if ok:
                return name, ti.size
        left = padded
        while left:
            got = _read(stream, path, min(left, 1 << 20))
            if not got:
                break
            left -= len(got)
    if member is not None:
        raise errors.FormatError(f"{path}: no member {member!r} (members: {seen[:10]})")
    if len(candidates) == 1:
        return None, candidates[0]
    raise errors.FormatError(f"{path}: no member named {base}/{base}{suffixes[0]} and {len(candidates)} members "
                             f"ending in {'/'.join(suffixes)} (members: {seen[:10]}); pass member=")


class _Limited:
    """The next ``size`` bytes of a stream."""

    def __init__(self, f, size):
        self._f = f
        self._left = size

    def read(self, n=-1):
        if self._left <= 0:
            return b""
        n = self._left if n is None or n < 0 else min(n, self._left)
        data = self._f.read(n)
        self._left -= len(data)
        if len(data) < n and self._left > 0:
            raise EOFError("tar member is truncated")
        return data

    def close(self):
        pass


class _Peekable:
    """Minimal peek() for tar member streams (which lack it)."""

    def __init__(self, f):
        self._f = f
        self._buf = b""

    def peek(self, n):
        if len(self._buf) < n:
            self._buf += self._f.read(n - len(self._buf))
        return self._buf

    def read(self, n=-1):
        if self._buf:
            if n is None or n < 0:
                head, self._buf = self._buf, b""
                return head + self._f.read()
            # never more than n: stdlib gzip reads its 2-byte magic with read(2)
            head, self._buf = self._buf[:n], self._buf[n:]
            return head + self._f.read(n - len(head)) if n > len(head) else head
        return self._f.read(n)

    def readinto(self, b):
        # isal's gzip reader pulls compressed input with readinto
        data = self.read(len(b))
        b[:len(data)] = data
        return len(data)

    def readable(self):
        return True

    def close(self):
        self._f.close()


def _chunks(stream, name, block_size):
    """Raw decompressed chunks; decompression errors become FormatError."""
    while True:
        chunk = _read(stream, name, block_size)
        yield chunk
        if not chunk:
            return


def _prefetched(gen, depth=1):
    """Runs a chunk generator in a background thread, ``depth`` chunks ahead.

    The decompressors (zlib, isal, lzma, bz2) release the GIL, so the next
    chunk is inflated while C parses the current one: the two stages overlap
    without an OpenMP team waiting between blocks."""
    import queue
    import threading

    q = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def run():
        try:
            for item in gen:
                while not stop.is_set():
                    try:
                        q.put((item, None), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
        except BaseException as exc:  # forwarded to the consumer (unless it has gone)
            while not stop.is_set():
                try:
                    q.put((None, exc), timeout=0.1)
                    break
                except queue.Full:
                    continue

    t = threading.Thread(target=run, daemon=True)
    t.start()
    try:
        while True:
            item, exc = q.get()
            if exc is not None:
                raise exc
            yield item
            if not item:
                return
    finally:
        stop.set()
        t.join()


def _blocks(stream, name, block_size, first=b"", progress=None, prefetch=True):
    """Yields blocks of whole lines (the last may lack a final newline)."""
    carry = first
    chunks = _chunks(stream, name, block_size)
    if prefetch:
        chunks = _prefetched(chunks)
    try:
        for chunk in chunks:
            if progress is not None:
                progress(len(chunk))
            if not chunk:
                if carry:
                    yield carry
                return
            buf = carry + chunk if carry else chunk
            cut = buf.rfind(b"\n")
            if cut < 0:
                carry = buf
                continue
            carry = buf[cut + 1:]
            yield memoryview(buf)[:cut + 1]
    finally:
        chunks.close()  # stops the prefetch thread before the caller closes the stream


def _plain_blocks(raw, name, body_start, block_size, progress=None):
    """Blocks of whole lines of an uncompressed file, as views of an mmap
    (no copy). Blocks are large: each is parsed by all threads in one team."""
    import mmap

    size = os.fstat(raw.fileno()).st_size
    if size <= body_start:
        return
    mm = mmap.mmap(raw.fileno(), 0, access=mmap.ACCESS_READ)
    # Parsed pages are dropped from the process (they stay in the page cache):
    # otherwise the whole file ends up resident, counted against RSS limits.
    dontneed = getattr(mmap, "MADV_DONTNEED", None)
    released = 0
    try:
        view = memoryview(mm)
        try:
            pos = body_start
            while pos < size:
                end = min(size, pos + block_size)
                if end < size:
                    nl = mm.rfind(b"\n", pos, end)
                    if nl < 0:
                        nl = mm.find(b"\n", end)
                        end = size if nl < 0 else nl + 1
                    else:
                        end = nl + 1
                blk = view[pos:end]
                try:
                    yield blk
                finally:
                    blk.release()
                parsed = end // mmap.PAGESIZE * mmap.PAGESIZE
                if dontneed is not None and parsed > released:
                    try:
                        mm.madvise(dontneed, released, parsed - released)
                    except OSError:  # e.g. EINVAL on locked memory (mlockall): the pages just stay
                        dontneed = None
                    released = parsed
                if progress is not None:
                    progress(end - pos)
                pos = end
        finally:
            view.release()
    finally:
        mm.close()


PLAIN_BLOCK_SIZE = 32 << 20


def _parse_threads(n_threads, compressed):
    """Default thread count of the text readers.

    Compressed input is a pipeline: one thread inflates (in the background,
    GIL released) while one C thread parses the previous block, which already
    keeps two cores busy; a parallel team per 1 MiB block would pay a fork/join
    per block and lose on a shared machine. Uncompressed input is mapped and
    parsed in 32 MiB blocks by the whole OpenMP team. An explicit n_threads
    always wins."""
    if n_threads is not None:
        return resolve_threads(n_threads)
    return 1 if compressed else resolve_threads(None)


def _team_block(block_size, threads):
    """A parallel team pays a fork/join per block; with several threads on
    compressed input, blocks of at least 4 MiB amortize it (at the cost of
    more text held in memory)."""
    return max(block_size, 4 << 20) if threads > 1 else block_size


def _capacity_hint(nnz, path):
    """The declared entry count, to size the store once; ignored when the file
    is far too small to hold that many lines (a corrupt or hostile header)."""
    return nnz if nnz <= 16 * os.path.getsize(os.fspath(path)) + (1 << 16) else 0


def _feed_all(tb, path, stream, plain, name, rest, block_size, threads, progress):
    """Feeds the rest of a text file to a TextBuilder: mapped blocks of an
    uncompressed file (starting where ``rest``, the already-read bytes after
    the header, begins) or prefetched blocks of the decompressed stream.
    C errors get the file name; the block generator is closed (stopping the
    prefetch thread) before the caller closes the streams."""
    # 0 would read nothing and return an empty graph
    if isinstance(block_size, (bool, np.bool_)) or not isinstance(block_size, numbers.Integral) or block_size < 1:
        raise errors.InvalidArgumentError(f"block_size must be a positive number of bytes, got {block_size!r}")
    # bytes of text parsed; the total is known only for uncompressed files
    prog = _progress(progress, os.path.getsize(os.fspath(path)) if plain is not None else None,
                     os.path.basename(os.fspath(path)))
    if plain is not None:
        blocks = _plain_blocks(plain, name, plain.tell() - len(rest), max(block_size, PLAIN_BLOCK_SIZE), prog)
    else:
        blocks = _blocks(stream, name, _team_block(block_size, threads), first=rest, progress=prog)
    try:
        for blk in blocks:
            try:
                tb.feed(blk)
            except errors.PSGError as exc:  # only C errors lack the name; _read's already have it
                _reraise(exc, name)
    finally:
        blocks.close()


def _progress(enabled, total, desc):
    """A callable(n_bytes) that advances a tqdm bar, or None."""
    if not enabled:
        return None
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    bar = tqdm(total=total, unit="B", unit_scale=True, desc=desc, leave=False)
    return bar.update


def _reraise(exc, name):
    """C errors carry 'line N: ...'; prefix the file name."""
    cls = type(exc)
    raise cls(f"{name}: {exc}") from None


# ---------------------------------------------------------------------------
# edge lists
# ---------------------------------------------------------------------------
# header comments giving the shape: SNAP's "# Nodes: N Edges: M", and the
# "# Rows: R Columns: C" that write_edgelist uses for a non-square matrix
_NODES_RE = re.compile(rb"#\s*Nodes:\s*(\d+)")
_ROWS_COLS_RE = re.compile(rb"#\s*Rows:\s*(\d+)\s+Columns:\s*(\d+)")
_ID_CHECK_FLOOR = 1 << 24  # the C reader accepts ids up to this without n_nodes, whatever the file size
_MAX_IDS = (1 << 31) - 1  # int32 column ids


def _edgelist_head(stream, name):
    """Reads the comment lines before the first data line (at most 1 MiB).

    Returns (what a header comment declares: (N,) nodes, (R, C) rows and
    columns, or None; the bytes read, which the caller parses again as the
    start of the file). A bare ``\\r`` line end raises: the C parser takes
    ``\\r`` for a blank, so such a file would silently read as one long line."""
    head = bytearray()
    pos, line_no, shape = 0, 1, None
    eof = False
    while not eof and len(head) < (1 << 20):
        chunk = _read(stream, name, 1 << 16)
        eof = not chunk
        head += chunk
        while pos < len(head):
            nl = head.find(b"\n", pos)
            end = len(head) if nl < 0 else nl
            line = bytes(head[pos:end]).strip()
            if b"\r" in line:
                raise errors.FormatError(f"{name}: line {line_no}: lines end with a bare carriage return (\\r); "
                                         "only \\n and \\r\\n line ends are supported")
            if nl < 0 and not eof:
                break  # an incomplete line: read more
            if line and not line.startswith((b"#", b"%")):
                return shape, bytes(head)
            m = _ROWS_COLS_RE.match(line) or _NODES_RE.match(line)
            if m:  # the last one wins: write_edgelist puts its own after the caller's header lines
                shape = tuple(int(x) for x in m.groups())  # (N,) or (R, C)
                if max(shape) > _MAX_IDS:
                    raise errors.UnsupportedError(f"{name}: line {line_no}: {max(shape)} nodes need 64-bit ids, "
                                                  "which the text readers do not produce")
            pos, line_no = end + 1, line_no + 1
    return shape, bytes(head)


def read_edgelist(path, *, symmetrize=False, weighted=None, n_nodes=None, duplicates="sum", self_loops="keep",
                  dtype=np.float32, member=None, n_threads=None, progress=False, block_size=BLOCK_SIZE):
    """Reads a SNAP-style edge list into a :class:`CSRMatrix`.

    Lines are ``src dst [weight [ignored ...]]`` separated by spaces or tabs,
    with ``\\n`` or ``\\r\\n`` ends (bare ``\\r`` ends raise FormatError);
    lines starting with ``#`` or ``%`` and blank lines are skipped. ``.gz``,
    ``.xz`` and ``.bz2`` are detected from the file's magic bytes. Ids are
    used as given (0-based). Comma-separated files (CSV) are not read: load
    their two columns with NumPy or pandas and build the graph with
    :meth:`CSRMatrix.from_edges`.

    The shape comes from ``n_nodes`` when given. Otherwise a comment before
    the first data line sets it: ``# Nodes: N`` (SNAP) gives
    ``max(N, max id + 1)`` nodes (SNAP files may use ids beyond N), and
    ``# Rows: R Columns: C`` (written by :func:`write_edgelist` for a
    non-square matrix) gives ``max(R, max src + 1) x max(C, max dst + 1)``
    (square, the larger of both, with ``symmetrize``). Without either, the
    graph has ``max id + 1`` nodes.

    Id limits: every id must be at most 2**31 - 2 (int32 indices), else
    ``IndexOverflowError``. Without ``n_nodes``, ids are also checked against
    what the file could plausibly describe, so that a stray huge id does not
    allocate a huge CSR: the file is parsed in blocks of whole lines, and an
    id in a block must not exceed ``64 * (entries before the block +
    bytes in the block // 2) + 2**24``, else ``IndexOutOfRangeError``. Ids up
    to 2**24 (16,777,216) therefore always pass; whether a larger id passes
    depends on its position and on the block size: about 32 MiB (or
    ``block_size`` if larger) for an uncompressed regular file, about
    ``block_size`` (default 256 KiB; at least 4 MiB with more than one
    thread) for compressed input, tar members and pipes, so the same data
    may load uncompressed and fail compressed. A ``# Nodes:``/``# Rows:``
    header is held to the same rule for the whole file: a count above
    ``64 * entries + 2**24`` is ignored with a warning (the ids then give
    the shape). Passing ``n_nodes`` replaces both checks (ids must then be
    below it).

    Parameters
    ----------
    path : str or PathLike
    symmetrize : bool
        Store every edge in both directions (an undirected graph); reciprocal
        pairs then merge according to ``duplicates``.
    weighted : bool or None
        ``None``: weighted when the first data line has a third column. Every
        line must then have one. ``False`` ignores the column.
    n_nodes : int, optional
        Node count; default from the header or ``max id + 1`` (see above).
        Ids must be below it.
    duplicates : {"sum", "first", "keep"}
        Repeated (src, dst) pairs (in file order).
    self_loops : {"keep", "drop", "add"}
        ``"add"`` gives every node without a self loop one of weight 1, as
        :meth:`CSRMatrix.from_edges` does (one more pass over the graph).
    dtype : float32 or float64
        Value type of a weighted result.
    member : str, optional
        Member to read when ``path`` is a tar archive (``.tar``, ``.tar.gz``,
        ``.tgz``, ``.tar.xz``, ``.tar.bz2``); default: ``NAME/NAME<suffix>``
        (NAME: the archive's name), else the only member with a suffix among
        ``.txt``, ``.tsv``, ``.edges``, ``.el``. Ignored for other files.
    n_threads : int or None
        Parser threads. ``None``: one parser thread for compressed input
        (decompression runs beside it in a background thread, so two cores
        are busy without a fork/join per block), the OpenMP limit for
        uncompressed input (the file is mapped and parsed in 32 MiB blocks by
        the whole team). With more than one thread on compressed input the
        blocks grow to 4 MiB. The result never depends on the thread count.
    progress : bool
        Show a tqdm progress bar (when tqdm is installed).
    block_size : int
        Bytes of text per parsed block, a positive integer. Compressed input,
        tar members and pipes use it as is (at least 4 MiB with more than one
        thread); an uncompressed regular file uses at least 32 MiB. It also
        enters the id limit described above.

    Returns
    -------
    CSRMatrix
        ``n_nodes x n_nodes`` (or the ``# Rows: R Columns: C`` shape),
        columns sorted within each row.

    Raises
    ------
    FormatError
        A malformed line (the message names the file and line).
    IndexOutOfRangeError
        A negative id, an id not below ``n_nodes``, or (without ``n_nodes``)
        an id above the block limit described above.
    IndexOverflowError
        An id above 2**31 - 2.
    """
    duplicates = choice(duplicates, "duplicates", {"sum", "first", "keep"})
    self_loops = choice(self_loops, "self_loops", {"keep", "drop", "add"})
    symmetrize = as_flag(symmetrize, "symmetrize")
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise errors.DTypeError(f"dtype must be float32 or float64, got {dtype}")
    bound = -1 if n_nodes is None else as_dim(n_nodes, "n_nodes")
    stream, name, closers, plain = _open_text(path, member, suffixes=(".txt", ".tsv", ".edges", ".el"))
    try:
        declared, head = _edgelist_head(stream, name)
        threads = _parse_threads(n_threads, plain is None)
        tb = _core.TextBuilder(2, 2, False, False, bound, bound, 1, threads)
        _feed_all(tb, path, stream, plain, name, head, block_size, threads, progress)
    finally:
        for c in closers:
            c.close()
    st = tb.stats()
    if weighted is True and st["fields"] == 2 and st["entries"]:
        raise errors.FormatError(f"{name}: weighted=True but the lines have no weight column")
    if n_nodes is None and declared is not None and max(declared) > 64 * st["entries"] + _ID_CHECK_FLOOR:
        # the ids' rule against memory bombs: a tiny file must not allocate a huge CSR
        warnings.warn(f"{name}: the header declares {max(declared)} nodes, far more than its {st['entries']} "
                      "edges suggest; it is ignored (the ids give the shape): pass n_nodes= to use it",
                      stacklevel=2)
        declared = None
    if n_nodes is not None:
        shape = (bound,) * 2
    elif declared is not None and len(declared) == 2 and not symmetrize:
        shape = (max(declared[0], st["max_a"] + 1), max(declared[1], st["max_b"] + 1))
    else:  # square ("# Nodes: N", no header, or symmetrize storing both directions)
        shape = (max(st["max_a"] + 1, st["max_b"] + 1, *(declared or ())),) * 2
    keep_values = st["fields"] == 3 and weighted is not False
    try:
        indptr, indices, vals = tb.finish(*shape, False, 1 if symmetrize else 0, duplicates,
                                          "keep" if self_loops == "add" else self_loops, keep_values)
    except errors.PSGError as exc:
        _reraise(exc, name)
    if vals is not None and dtype != np.float64:
        vals = vals.astype(dtype)
    g = CSRMatrix._trusted(indptr, indices, vals, shape)
    if self_loops == "add":  # the text builder keeps or drops loops; adding them is one more pass
        if shape[0] != shape[1]:
            raise errors.ShapeMismatchError(f"{name}: self_loops='add' needs a square graph, got {shape}")
        g = CSRMatrix.from_edges(*g.to_edges(), shape=shape, duplicates="keep", self_loops="add",
                                 n_threads=n_threads)
    return g


def write_edgelist(path, graph, *, header=None, weights=None, compress=None):
    """Writes ``src dst[ weight]`` lines (0-based), one per stored entry.

    ``weights=None`` writes the values when the graph has them. A ``.gz``,
    ``.xz`` or ``.bz2`` suffix (or ``compress=``) compresses. The write is
    atomic (temporary file, fsync, rename).

    The last header line records the shape for :func:`read_edgelist`:
    ``# Nodes: N Edges: M`` (SNAP) for a square matrix, ``# Rows: R
    Columns: C Edges: M`` otherwise."""
    graph = _as_csr(graph, "write_edgelist(path, graph)")
    src, dst, vals = graph.to_edges()
    if weights is False:
        vals = None
    lines = [] if header is None else [f"# {h}" for h in str(header).splitlines()]
    if graph.n_rows == graph.n_cols:
        lines.append(f"# Nodes: {graph.n_rows} Edges: {graph.nnz}")
    else:
        lines.append(f"# Rows: {graph.n_rows} Columns: {graph.n_cols} Edges: {graph.nnz}")
    _write_text(path, "\n".join(lines) + "\n", src, dst, vals, 0, compress)


# ---------------------------------------------------------------------------
# PACE / DIMACS-style .gr (undirected, 1-based)
# ---------------------------------------------------------------------------
def read_pace(path, *, n_threads=None, progress=False, block_size=BLOCK_SIZE):
    """Reads a PACE 2016 ``.gr`` graph (``c`` comment lines, one ``p tw N M``
    line, then ``u v`` edges with 1-based ids; ``.xz``/``.gz``/``.bz2``
    detected) as an undirected CSR with both directions stored.

    The edge count on the ``p`` line is checked; ids must lie in ``1..N``."""
    stream, name, closers, plain = _open_text(path)
    try:
        head = b""
        n_comments = 0
        while b"\n" not in head or head.lstrip().startswith(b"c"):
            chunk = _read(stream, name, 1 << 16)
            if not chunk:
                break
            head += chunk
            # drop leading comment lines
            while head.startswith(b"c") and b"\n" in head:
                head = head.split(b"\n", 1)[1]
                n_comments += 1
        line, _, rest = head.partition(b"\n")
        parts = line.split()
        if (len(parts) != 4 or parts[0] != b"p" or parts[1] != b"tw" or not parts[2].isdigit()
                or not parts[3].isdigit()):
            raise errors.FormatError(f"{name}: expected a 'p tw <nodes> <edges>' line, got {line[:80]!r}")
        n, m = int(parts[2]), int(parts[3])
        if n > np.iinfo(np.int32).max - 1:
            raise errors.UnsupportedError(f"{name}: {n} nodes need 64-bit ids, which the text readers do not produce")
        threads = _parse_threads(n_threads, plain is None)
        tb = _core.TextBuilder(2, 0, True, False, n, n, n_comments + 2, threads, _capacity_hint(m, path))
        _feed_all(tb, path, stream, plain, name, rest, block_size, threads, progress)
    finally:
        for c in closers:
            c.close()
    st = tb.stats()
    if st["entries"] != m:
        raise errors.FormatError(f"{name}: the p line announces {m} edges but the file has {st['entries']}")
    try:
        indptr, indices, _ = tb.finish(n, n, False, 1, "first", "keep", False)
    except errors.PSGError as exc:
        _reraise(exc, name)
    return CSRMatrix._trusted(indptr, indices, None, (n, n))


# ---------------------------------------------------------------------------
# Matrix Market
# ---------------------------------------------------------------------------
class MatrixMarketHeader:
    """Banner and size line of a Matrix Market file."""

    __slots__ = ("format", "field", "symmetry", "shape", "nnz", "header_lines")

    def __init__(self, fmt, field, symmetry, shape, nnz, header_lines):
        self.format, self.field, self.symmetry = fmt, field, symmetry
        self.shape, self.nnz, self.header_lines = shape, nnz, header_lines

    def __repr__(self):
        return (f"MatrixMarketHeader({self.format} {self.field} {self.symmetry}, shape={self.shape}, "
                f"nnz={self.nnz})")


def _mm_header(stream, name):
    """Reads the banner, comments and size line; returns (header, rest-of-first-chunk)."""
    lines = [b""]  # the text read so far, split at newlines; the last line may be incomplete
    size = 0
    data = []
    while True:
        chunk = _read(stream, name, 1 << 16)
        size += len(chunk)
        start = len(lines) - 1  # only new lines (and the incomplete one, now extended) are examined
        lines[-1:] = (lines[-1] + chunk).split(b"\n")
        # need the banner and the size line (first non-comment line after it);
        # only the header lines are looked at
        for i in range(max(start, 1), len(lines) - (1 if chunk else 0)):
            ln = lines[i]
            if ln.strip() and not ln.lstrip().startswith(b"%"):
                data = [i]
                break
        if data or not chunk:
            break
        if size > (64 << 20):
            raise errors.FormatError(f"{name}: no size line in the first 64 MiB")
    if not any(ln.strip() for ln in lines):
        raise errors.FormatError(f"{name}: line 1: empty file, expected a '%%MatrixMarket' banner")
    banner = lines[0].decode("latin-1").strip().split()
    if len(banner) != 5 or banner[0].lower() != "%%matrixmarket":
        raise errors.FormatError(f"{name}: line 1: expected '%%MatrixMarket matrix <format> <field> <symmetry>', "
                                 f"got {lines[0][:80]!r}")
    obj, fmt, field, sym = (b.lower() for b in banner[1:])
    if obj != "matrix":
        raise errors.UnsupportedError(f"{name}: line 1: object '{obj}' is not supported (only 'matrix')")
    choice_err = {"format": (fmt, {"coordinate", "array"}), "field": (field, {"real", "double", "integer",
                                                                               "pattern", "complex"}),
                  "symmetry": (sym, {"general", "symmetric", "skew-symmetric", "hermitian"})}
    for what, (val, ok) in choice_err.items():
        if val not in ok:
            raise errors.FormatError(f"{name}: line 1: unknown {what} '{val}' (expected one of {sorted(ok)})")
    if field == "complex" or sym == "hermitian":
        raise errors.UnsupportedError(f"{name}: line 1: '{field} {sym}' matrices are not supported: pysparsegraph "
                                      "stores real values only (read it with scipy.io.mmread)")
    if field == "double":
        field = "real"
    if fmt == "array" and field == "pattern":
        raise errors.FormatError(f"{name}: line 1: an 'array' matrix cannot be 'pattern'")
    if not data:
        raise errors.FormatError(f"{name}: line {len(lines)}: missing size line (file ends in the header)")
    i = data[0]
    size = lines[i].split()
    want = 3 if fmt == "coordinate" else 2
    try:
        nums = [int(x) for x in size]
        if len(nums) != want or min(nums) < 0:
            raise ValueError
    except ValueError:
        raise errors.FormatError(f"{name}: line {i + 1}: expected {want} non-negative integers in the size line, "
                                 f"got {lines[i][:80]!r}") from None
    shape = (nums[0], nums[1])
    if sym != "general" and shape[0] != shape[1]:
        raise errors.FormatError(f"{name}: line {i + 1}: a {sym} matrix must be square, got {shape}")
    nnz = nums[2] if fmt == "coordinate" else None
    rest = b"\n".join(lines[i + 1:])
    return MatrixMarketHeader(fmt, field, sym, shape, nnz, i + 1), rest


def read_matrix_market(path, *, member=None, dtype=np.float64, pattern=False, n_threads=None, progress=False,
                       block_size=BLOCK_SIZE):
    """Reads a Matrix Market file (``.mtx``, ``.mtx.gz``/``.xz``/``.bz2``, or a
    member of a SuiteSparse ``.tar.gz``).

    ``coordinate`` files give a :class:`CSRMatrix` equal to
    ``scipy.io.mmread(path).tocsr()`` (duplicates summed in file order,
    explicit zeros kept, ``symmetric``/``skew-symmetric`` expanded to both
    triangles, with negation for skew). ``pattern`` files give an unweighted
    graph; ``integer`` values are stored as floats (exact below 2**53).
    ``array`` files give a dense ``numpy.ndarray`` like scipy does.

    Unlike scipy, blank lines and ``%`` comment lines inside the body are
    skipped (SuiteSparse's ``fullrsa.mtx`` has both); scipy raises on them.
    ``complex`` and ``hermitian`` matrices raise
    :class:`~pysparsegraph.errors.UnsupportedError`.

    Parameters
    ----------
    path : str or PathLike
        A ``.mtx`` file, compressed (``.gz``, ``.xz``, ``.bz2``) or not, or a
        tar archive holding one.
    member : str, optional
        Member of a tar archive; default: ``NAME/NAME.mtx`` or the only ``.mtx``.
    dtype : float32 or float64
        Value type of the result.
    pattern : bool
        Drop the values (an unweighted graph).
    n_threads : int or None
        As for :func:`read_edgelist`.
    progress : bool
        Show a tqdm progress bar (when tqdm is installed).
    block_size : int
        Bytes of text per parsed block, as for :func:`read_edgelist`.
    """
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise errors.DTypeError(f"dtype must be float32 or float64, got {dtype}")
    stream, name, closers, plain = _open_text(path, member)
    try:
        hdr, rest = _mm_header(stream, name)  # decompression errors: FormatError from _read
        n_rows, n_cols = hdr.shape
        if max(n_rows, n_cols) > np.iinfo(np.int32).max - 1:
            raise errors.UnsupportedError(f"{name}: {n_rows} x {n_cols} needs 64-bit column ids, which the text "
                                          "readers do not produce (limit 2**31 - 2)")
        threads = _parse_threads(n_threads, plain is None)
        if hdr.format == "array":
            tb = _core.TextBuilder(0, 1, False, True, -1, -1, hdr.header_lines + 1, threads)
        else:
            tb = _core.TextBuilder(2, 0 if hdr.field == "pattern" else 1, True, True, n_rows, n_cols,
                                   hdr.header_lines + 1, threads, _capacity_hint(hdr.nnz, path))
        _feed_all(tb, path, stream, plain, name, rest, block_size, threads, progress)
    finally:
        for c in closers:
            c.close()
    st = tb.stats()
    if hdr.format == "array":
        vals = tb.take_values()
        n = n_rows
        want = {"general": n_rows * n_cols, "symmetric": n * (n + 1) // 2, "skew-symmetric": n * (n - 1) // 2}
        want = want[hdr.symmetry]
        if vals.shape[0] != want:
            raise errors.FormatError(f"{name}: expected {want} values for a {n_rows}x{n_cols} {hdr.symmetry} array, "
                                     f"found {vals.shape[0]}" + (" (truncated file?)" if vals.shape[0] < want else ""))
        _check_integer_field(vals, hdr, path, member, name)
        out_dt = dtype
        if hdr.symmetry == "general":
            return np.array(vals.reshape(n_cols, n_rows).T, dtype=out_dt, order="C")
        out = np.zeros((n, n), dtype=out_dt)
        # lower triangle column by column (diagonal included unless skew)
        k = 0 if hdr.symmetry == "symmetric" else -1
        r, c = np.tril_indices(n, k)
        order = np.lexsort((r, c))  # column-major order of the lower triangle
        r, c = r[order], c[order]
        out[r, c] = vals
        sign = 1.0 if hdr.symmetry == "symmetric" else -1.0
        off = r != c
        out[c[off], r[off]] = sign * vals[off]
        return out
    if st["entries"] != hdr.nnz:
        raise errors.FormatError(f"{name}: the size line announces {hdr.nnz} entries but the body has "
                                 f"{st['entries']}" + (" (truncated file?)" if st["entries"] < hdr.nnz else ""))
    mirror = {"general": 0, "symmetric": 1, "skew-symmetric": 2}[hdr.symmetry]
    keep = hdr.field != "pattern" and not pattern
    try:
        indptr, indices, vals = tb.finish(n_rows, n_cols, False, mirror, "sum", "keep", keep)
    except errors.PSGError as exc:
        _reraise(exc, name)
    if keep and vals is None:  # a valued file with no entries
        vals = np.zeros(0, dtype=np.float64)
    if vals is not None:
        _check_integer_field(vals, hdr, path, member, name)
    if vals is not None and dtype != np.float64:
        vals = vals.astype(dtype)
    return CSRMatrix._trusted(indptr, indices, vals, (n_rows, n_cols))


def _is_whole(v):
    """Mask of the finite whole numbers in a float array."""
    return np.isfinite(v) & (v == np.round(v))


def _check_integer_field(vals, hdr, path, member, name):
    """An 'integer' file must hold whole numbers. The C parser reads every
    value as a real and keeps no line numbers, so the first offending line
    is found by a second pass, on this error path only. Summed duplicates
    stay whole, so a fractional sum means a fractional entry (only entries
    whose fractions cancel in a sum, like 1.5 + 1.5, go unnoticed)."""
    # in slices: masks of the whole array would add ~10 bytes per entry to the read's peak memory
    if hdr.field != "integer" or all(_is_whole(vals[i:i + (1 << 20)]).all() for i in range(0, vals.size, 1 << 20)):
        return
    where = ""
    if os.path.isfile(os.fspath(path)):  # a pipe cannot be read twice
        found = _first_non_integer(path, member, hdr, name)
        if found:
            where = f" line {found[0]}: value {found[1]!r} is not an integer"
    raise errors.FormatError(f"{name}:{where or ' a value is not an integer'} (the field is 'integer')")


def _first_non_integer(path, member, hdr, name):
    """(line number, text) of the first body value that is not a whole number, or None."""
    import math

    col = 2 if hdr.format == "coordinate" else 0
    stream, _, closers, _ = _open_text(path, member)
    try:
        _, rest = _mm_header(stream, name)
        line_no = hdr.header_lines
        for blk in _blocks(stream, name, BLOCK_SIZE, first=rest, prefetch=False):
            lines = bytes(blk).split(b"\n")
            if not lines[-1]:
                lines.pop()  # after the block's final newline
            for ln in lines:
                line_no += 1
                f = ln.split()
                if len(f) <= col or f[0].startswith(b"%"):
                    continue
                try:  # the C parser also takes Fortran's 'd' exponent
                    x = float(f[col].replace(b"d", b"e").replace(b"D", b"e"))
                except ValueError:
                    continue
                if not (math.isfinite(x) and x == round(x)):
                    return line_no, f[col].decode("latin-1")
    finally:
        for c in closers:
            c.close()
    return None


def write_matrix_market(path, matrix, *, symmetry="general", comment=None, field=None, compress=None):
    """Writes a :class:`CSRMatrix` (or scipy matrix, or 2-D ndarray) as Matrix Market.

    Sparse input gives ``coordinate`` (``pattern`` when unweighted, else
    ``real``, or ``integer`` if ``field="integer"``); a dense ndarray gives
    ``array``. ``symmetry="symmetric"``/``"skew-symmetric"`` stores the lower
    triangle only (the matrix must actually be symmetric; this is checked).
    Values are printed with 17 significant digits, so a round trip is exact.
    A ``.gz``/``.xz``/``.bz2`` suffix compresses. The write is atomic."""
    choice(symmetry, "symmetry", {"general", "symmetric", "skew-symmetric"})
    if isinstance(matrix, np.ndarray):
        return _write_mm_array(path, matrix, symmetry, comment, compress)
    A = _as_csr(matrix, "write_matrix_market(path, matrix)")
    src, dst, vals = A.to_edges()  # converted to the text's int64 / float64 by chunks as they are written
    if field is None:
        field = "pattern" if vals is None else "real"
    choice(field, "field", {"pattern", "real", "integer"})
    v = None if field == "pattern" else vals
    if field != "pattern" and vals is None:
        v = np.broadcast_to(np.float64(1.0), (A.nnz,))  # every entry 1, in no memory
    if symmetry != "general":
        if A.n_rows != A.n_cols:
            raise errors.ShapeMismatchError(f"a {symmetry} matrix must be square, got shape {A.shape}")
        src, dst, tri_v = _stored_triangle(A, symmetry)
        v = None if v is None else tri_v
    if field == "integer" and v is not None:
        whole = _is_whole(v)
        if not whole.all():
            raise errors.InvalidArgumentError(f"field='integer' but value {float(v[~whole][0])!r} is not an integer")
        # astype(int64) would wrap these silently
        big = (v < -2.0 ** 63) | (v >= 2.0 ** 63)
        if big.any():
            raise errors.InvalidArgumentError(f"field='integer' but value {float(v[big][0])!r} does not fit int64; "
                                              "write it with field='real'")
    lines = [f"%%MatrixMarket matrix coordinate {field} {symmetry}"]
    if comment:
        lines += ["%" + c for c in str(comment).splitlines()]
    lines.append(f"{A.n_rows} {A.n_cols} {src.shape[0]}")
    if field == "integer":
        _write_text(path, "\n".join(lines) + "\n", src, dst, None, 1, compress, int_values=v)
    else:
        _write_text(path, "\n".join(lines) + "\n", src, dst, v, 1, compress)


def _stored_triangle(A, symmetry):
    """(rows, cols, values) of the triangle a symmetric or skew-symmetric
    file stores, after checking that ``A`` is one.

    Values are compared exactly, with NaN equal to NaN (subtracting the
    transpose would turn a NaN or inf into a false mismatch); a missing
    mirror counts as 0. An entry stored above the diagonal only (an explicit
    zero, as the check passed) is written at its mirror position, so that it
    is not lost."""
    src, dst, vals = A.to_edges()
    # one entry per position, columns sorted within rows (row-major keys increasing); no scipy needed
    S = CSRMatrix.from_edges(src, dst, np.ones(A.nnz) if vals is None else vals.astype(np.float64),
                             shape=A.shape, duplicates="sum")
    n = S.n_rows
    r = np.repeat(np.arange(n, dtype=np.int64), np.diff(S.indptr))
    c = S.indices.astype(np.int64)
    x = S.values
    sign = 1.0 if symmetry == "symmetric" else -1.0
    key, mirror_key = r * n + c, c * n + r
    pos = np.searchsorted(key, mirror_key)
    key_s, x_s = np.append(key, -1), np.append(x, 0.0)  # a sentinel for pos == len(key)
    has_mirror = key_s[pos] == mirror_key
    y = np.where(has_mirror, x_s[pos], 0.0)
    # a NaN matches a NaN mirror, but a skew diagonal must be exactly 0
    ok = (y == sign * x) | (np.isnan(x) & np.isnan(y) & ((r != c) | (sign > 0)))
    if not ok.all():
        raise errors.InvalidArgumentError(f"symmetry={symmetry!r} but the matrix is not {symmetry}")
    low = r >= c if sign > 0 else r > c
    up_only = (r < c) & ~has_mirror
    rows = np.concatenate([r[low], c[up_only]])
    cols = np.concatenate([c[low], r[up_only]])
    vals = np.concatenate([x[low], sign * x[up_only]])
    order = np.lexsort((cols, rows))
    return rows[order], cols[order], vals[order]


def _write_mm_array(path, a, symmetry, comment, compress):
    if a.ndim != 2:
        raise errors.ShapeMismatchError(f"a dense matrix must be 2-D, got shape {a.shape}")
    if a.dtype.kind not in "biuf":  # complex would lose its imaginary part; strings and objects are no numbers
        raise errors.DTypeError(f"a dense matrix must hold real numbers (the writer stores real values), "
                                f"got {a.dtype}")
    a = np.asarray(a, dtype=np.float64)
    m, n = a.shape
    if symmetry == "general":
        vals = a.T.reshape(-1)
    else:
        if m != n:
            raise errors.ShapeMismatchError(f"a {symmetry} matrix must be square, got shape {a.shape}")
        sign = 1.0 if symmetry == "symmetric" else -1.0
        if not np.array_equal(a, sign * a.T):
            raise errors.InvalidArgumentError(f"symmetry={symmetry!r} but the matrix is not {symmetry}")
        r, c = np.tril_indices(n, 0 if symmetry == "symmetric" else -1)
        order = np.lexsort((r, c))
        vals = a[r[order], c[order]]
    head = [f"%%MatrixMarket matrix array real {symmetry}"]
    if comment:
        head += ["%" + c for c in str(comment).splitlines()]
    head.append(f"{m} {n}")
    body = "\n".join(repr(float(x)) for x in vals)  # dense arrays are small; exact repr
    _atomic_write_bytes(path, ("\n".join(head) + "\n" + body + ("\n" if len(vals) else "")).encode(), compress)


def _compressor(path, compress):
    p = as_path(path).lower()
    kind = compress or ("gzip" if p.endswith(".gz") else "xz" if p.endswith(".xz") else
                        "bz2" if p.endswith(".bz2") else None)
    if kind not in (None, "gzip", "xz", "bz2"):
        raise errors.InvalidArgumentError(f"compress must be 'gzip', 'xz', 'bz2' or None, got {compress!r}")
    return kind


def _open_compressed_writer(fh, kind):
    if kind == "gzip":
        try:
            from isal import igzip  # optional, several times faster deflate

            return igzip.IGzipFile(fileobj=fh, mode="wb", mtime=0)
        except ImportError:
            return gzip.GzipFile(fileobj=fh, mode="wb", compresslevel=6, mtime=0)
    if kind == "xz":
        return lzma.LZMAFile(fh, "wb")
    if kind == "bz2":
        return bz2.BZ2File(fh, "wb")
    return None


def _write_text(path, head, a, b, vals, offset, compress, int_values=None):
    """Atomic text write: header, then entry lines formatted in C by chunks.
    The ids (any integer dtype) and values (any real dtype) are converted to
    int64 / float64 one chunk at a time, so a write holds a few MiB on top of
    the graph, not converted copies of every array."""
    from pysparsegraph.native import atomic_file

    kind = _compressor(path, compress)
    chunk = 1 << 18 if int_values is not None else 1 << 20
    with atomic_file(path) as fh:
        out = _open_compressed_writer(fh, kind) or fh
        out.write(head.encode())
        for s in range(0, a.shape[0], chunk):
            e = min(s + chunk, a.shape[0])
            ac = c_aligned(np.asarray(a[s:e], dtype=np.int64))
            bc = c_aligned(np.asarray(b[s:e], dtype=np.int64))
            if int_values is not None:
                # integer field: format values as integers (exact)
                iv = int_values[s:e].astype(np.int64)
                rows = np.char.add(np.char.add(np.char.add((ac + offset).astype(str), " "),
                                               np.char.add((bc + offset).astype(str), " ")), iv.astype(str))
                out.write(("\n".join(rows.tolist()) + "\n").encode())
                continue
            vc = None if vals is None else c_aligned(np.asarray(vals[s:e], dtype=np.float64))
            start = 0
            while start < e - s:
                data, used = _core.format_entries(ac, bc, vc, offset, start, 8 << 20)
                out.write(data)
                start += used
        if out is not fh:
            out.close()


def _atomic_write_bytes(path, data, compress=None):
    from pysparsegraph.native import atomic_file

    kind = _compressor(path, compress)
    with atomic_file(path) as fh:
        out = _open_compressed_writer(fh, kind) or fh
        out.write(data)
        if out is not fh:
            out.close()


# ---------------------------------------------------------------------------
# npz, scipy, networkx
# ---------------------------------------------------------------------------
def read_npz(path, *, check=True):
    """A :class:`CSRMatrix` from an ``.npz`` with ``indptr``, ``indices``,
    ``shape`` and optional ``data`` (the convention of ``shared/data`` and of
    :func:`write_npz`; ``scipy.sparse.save_npz`` files of a CSR matrix are
    read too, other scipy formats raise UnsupportedError).
    Pickled data is refused, and each array's declared size is checked
    against the file before it is read."""
    from pysparsegraph import _npyfiles
    path = check_path(path, "graph file")  # str: zipfile takes bytes for a file object, not a path
    kind = _npyfiles.kind(path)
    if kind != "npz":
        raise errors.FormatError(f"{path}: " + ("a single .npy array" if kind == "npy" else "not an .npz archive")
                                 + ", expected an .npz archive with 'indptr', 'indices' and 'shape'")
    with _npyfiles.NpzArchive(path) as d:
        files = set(d.keys)
        # the scipy format first: a COO file has no 'indptr' and must say so, not that a key is missing
        fmt = d.read("format") if "format" in files else None
        if fmt is not None:
            fmt = fmt.item() if fmt.size == 1 else fmt
            if isinstance(fmt, bytes):  # scipy writes bytes; a str is accepted as scipy.sparse.load_npz does
                fmt = fmt.decode("ascii", errors="replace")
            if not (isinstance(fmt, str) and fmt == "csr"):
                raise errors.UnsupportedError(f"{path}: scipy npz format {fmt!r} is not supported (only csr; "
                                              "convert with scipy's .tocsr() and save_npz again)")
        missing = {"indptr", "indices", "shape"} - files
        if missing:
            raise errors.FormatError(f"{path}: an npz graph needs 'indptr', 'indices' and 'shape' "
                                     f"(found {sorted(files)}, missing {sorted(missing)})")
        arrays = {k: d.read(k) for k in ("indptr", "indices", "shape", "data") if k in files}
    data = arrays.get("data")
    if data is not None and data.dtype.kind == "c":
        raise errors.UnsupportedError(f"{path}: complex values are not supported")
    shape = arrays["shape"]
    if shape.shape != (2,) or shape.dtype.kind not in "iu":  # int() would truncate a float shape (1.9 -> 1)
        raise errors.FormatError(f"{path}: 'shape' must hold two integers, got {shape.tolist()!r}")
    shape = tuple(int(s) for s in shape)
    return CSRMatrix(arrays["indptr"], arrays["indices"], data, shape=shape, check=check)


def write_npz(path, graph, *, compressed=True):
    """Writes ``indptr``, ``indices``, ``shape`` (+ ``data``) to an ``.npz`` (atomically)."""
    from pysparsegraph.native import atomic_file

    g = _as_csr(graph, "write_npz(path, graph)")
    arrays = {"indptr": np.asarray(g.indptr), "indices": np.asarray(g.indices),
              "shape": np.array(g.shape, dtype=np.int64)}
    if g.values is not None:
        arrays["data"] = np.asarray(g.values)
    with atomic_file(path) as fh:
        (np.savez_compressed if compressed else np.savez)(fh, **arrays)


def from_networkx(G, *, weight="weight", nodelist=None, dtype=np.float32):
    """A :class:`CSRMatrix` from a networkx graph (undirected graphs get both
    directions). Nodes are numbered in ``nodelist`` order (default
    ``G.nodes`` order). ``weight=None`` gives an unweighted graph. Column ids
    are int32 when they fit; a graph without nodes gives a 0 x 0 matrix."""
    import networkx as nx
    import scipy.sparse as sp

    if nodelist is None:
        nodelist = list(G.nodes)
    n = len(nodelist)
    if n == 0:  # networkx refuses to build an array for a graph without nodes
        S = sp.csr_array((0, 0), dtype=dtype)
    elif weight is None:
        S = nx.to_scipy_sparse_array(G, nodelist=nodelist, weight=None, format="csr")
    else:
        S = nx.to_scipy_sparse_array(G, nodelist=nodelist, weight=weight, dtype=dtype, format="csr")
    # networkx hands out int64 column ids whatever the size; int32 where they fit, as from_edges/from_scipy give
    indices = S.indices.astype(np.int32 if n <= np.iinfo(np.int32).max else np.int64, copy=False)
    return CSRMatrix(S.indptr, indices, None if weight is None else S.data, shape=S.shape)


def to_networkx(graph, *, directed=True):
    """A networkx ``DiGraph`` (or ``Graph``) with edge attribute ``weight`` when valued."""
    import networkx as nx

    g = _as_csr(graph)
    if g.n_rows != g.n_cols:
        raise errors.ShapeMismatchError(f"graph must be square to become a networkx graph (an adjacency), "
                                        f"got shape {g.shape}")
    create_using = nx.DiGraph if directed else nx.Graph
    if g.values is not None:
        return nx.from_scipy_sparse_array(g.to_scipy(np.float64), create_using=create_using, edge_attribute="weight")
    # networkx would store an explicit weight=1 on every edge of an unweighted graph
    G = nx.empty_graph(g.n_rows, create_using)
    src, dst, _ = g.to_edges()
    G.add_edges_from(zip(src.tolist(), dst.tolist()))
    return G


def _as_csr(obj, call=None):
    """``obj`` as a CSRMatrix; ``call`` (e.g. "write_npz(path, graph)") names the
    argument order when a path stands where the graph belongs."""
    if isinstance(obj, CSRMatrix):
        return obj
    if call and isinstance(obj, (str, bytes, os.PathLike)):
        raise errors.InvalidArgumentError(f"got the path {obj!r} where the graph belongs: the arguments are {call}")
    if hasattr(obj, "tocsr") and hasattr(obj, "format"):
        return CSRMatrix.from_scipy(obj)
    if type(obj).__module__.startswith("networkx"):
        return from_networkx(obj)
    raise errors.DTypeError(f"expected a CSRMatrix, a scipy.sparse matrix or a networkx graph, "
                            f"got {type(obj).__name__}")


# ---------------------------------------------------------------------------
# Planetoid, BVGraph (own modules)
# ---------------------------------------------------------------------------
def read_planetoid(folder, name):
    """See :func:`pysparsegraph.planetoid.read_planetoid`."""
    from pysparsegraph.planetoid import read_planetoid as _rp

    return _rp(folder, name)


def read_bvgraph(basename, **kw):
    """See :func:`pysparsegraph.bvgraph.read_bvgraph`."""
    from pysparsegraph.bvgraph import read_bvgraph as _rb

    return _rb(basename, **kw)


# ---------------------------------------------------------------------------
# dispatch by file name
# ---------------------------------------------------------------------------
def detect_format(path):
    """Format name from a path: 'native', 'npz', 'mtx', 'edgelist', 'pace', 'bvgraph', 'planetoid'."""
    p = as_path(path)
    low = p.lower()
    for suf in (".gz", ".xz", ".bz2"):
        if low.endswith(suf) and not low.endswith((".tar.gz",)):
            low = low[: -len(suf)]
    if low.endswith(".psg"):
        return "native"
    if low.endswith(".gr"):
        return "pace"
    if low.endswith(".npz"):
        return "npz"
    if low.endswith(".mtx") or _is_tar(p):
        return "mtx"
    if os.path.isdir(p) or os.path.basename(low).startswith("ind."):
        return "planetoid"
    if low.endswith((".graph", ".properties")) or os.path.exists(p + ".properties"):
        return "bvgraph"
    if low.endswith((".txt", ".tsv", ".edges", ".el", ".edgelist")):
        return "edgelist"
    if low.endswith(".csv"):  # edge lists here are whitespace-separated: a CSV's commas fail on line 1
        raise errors.UnsupportedError(f"{path}: CSV files are not read: load the two columns with NumPy or "
                                      "pandas and build the graph with from_edges (or pass format='edgelist' "
                                      "if the fields are separated by spaces or tabs)")
    if os.path.exists(p):
        with open(p, "rb") as fh:
            if fh.read(4) == b"PSG\x00":
                return "native"
    raise errors.UnsupportedError(f"{path}: cannot tell the format from the name; pass format= "
                                  "('native', 'npz', 'mtx', 'edgelist', 'pace', 'bvgraph', 'planetoid')")


def read(path, format=None, **kw):
    """Reads any supported graph file into a :class:`CSRMatrix`.

    ``format`` defaults to :func:`detect_format`. Planetoid paths (a folder
    or ``ind.NAME.graph``) return the graph only; use
    :func:`read_planetoid` for features, labels and split."""
    path = as_path(path)  # bytes too, as the readers take them
    fmt = format or detect_format(path)
    if fmt == "native":
        return load(path, **kw)
    if fmt == "npz":
        return read_npz(path, **kw)
    if fmt == "mtx":
        r = read_matrix_market(path, **kw)
        if isinstance(r, np.ndarray):  # an array file: its non-zeros, as scipy.sparse.csr_array(r) keeps
            rows, cols = np.nonzero(r)
            return CSRMatrix.from_edges(rows, cols, r[rows, cols], shape=r.shape)
        return r
    if fmt == "edgelist":
        return read_edgelist(path, **kw)
    if fmt == "pace":
        return read_pace(path, **kw)
    if fmt == "bvgraph":
        base = path
        for suf in (".graph", ".properties"):
            if base.endswith(suf):
                base = base[: -len(suf)]
        return read_bvgraph(base, **kw)
    if fmt == "planetoid":
        p = path
        if os.path.isdir(p):
            names = sorted({f.split(".")[1] for f in os.listdir(p) if f.startswith("ind.")})
            if len(names) != 1:
                raise errors.FormatError(f"{p}: expected Planetoid files of one dataset, found {names}")
            return read_planetoid(p, names[0]).graph
        folder, base = os.path.split(p)
        parts = base.split(".")
        if parts[0] != "ind" or len(parts) < 3:
            raise errors.FormatError(f"{p}: a Planetoid dataset is a folder of ind.NAME.* files or one of those "
                                     "files (e.g. ind.cora.graph)")
        return read_planetoid(folder or ".", parts[1]).graph
    raise errors.UnsupportedError(f"unknown format {fmt!r}")


def write(graph, path, format=None, **kw):
    """Writes a graph in the format its name says: ``.psg`` (native), ``.npz``,
    ``.mtx[.gz]``, ``.txt/.tsv/.edges[.gz]`` (edge list)."""
    if isinstance(graph, (str, bytes, os.PathLike)):
        _as_csr(graph, "write(graph, path)")
    p = as_path(path)
    low = p.lower()
    compressed = None
    for suf in (".gz", ".xz", ".bz2"):
        if low.endswith(suf):
            low, compressed = low[: -len(suf)], suf
    fmt = format or ("native" if low.endswith(".psg") else "npz" if low.endswith(".npz") else
                     "mtx" if low.endswith(".mtx") else
                     "edgelist" if low.endswith((".txt", ".tsv", ".edges", ".el", ".edgelist")) else None)
    if compressed and fmt in ("native", "npz"):  # they would be written uncompressed under a compressed name
        raise errors.UnsupportedError(f"{path}: {fmt} files are not compressed as a whole (.npz compresses its "
                                      f"members; .psg is mapped as is); drop the {compressed} suffix")
    if fmt == "native":
        return save(_as_csr(graph), p, **kw)
    if fmt == "npz":
        return write_npz(p, graph, **kw)
    if fmt == "mtx":
        return write_matrix_market(p, graph, **kw)
    if fmt == "edgelist":
        return write_edgelist(p, graph, **kw)
    raise errors.UnsupportedError(f"{path}: cannot write this format; use .psg, .npz, .mtx[.gz] or .txt[.gz]")
