"""The native graph file (``.psg``): one file, memory-mappable.

Layout (little-endian; every offset a multiple of 64)::

    0     header, 128 bytes
          magic      8s   b"PSG\\x00GRF\\x01"
          version    u32  FORMAT_VERSION
          n_arrays   u32
          n_rows     i64
          n_cols     i64
          nnz        i64
          file_size  u64  total bytes (a truncated file is caught in O(1))
          flags      u64  bit 0: values present
          reserved   ...
          table_crc  u32  at byte 124: crc32 of the header (with this field 0) and the table
    128   table, 64 bytes per array
          name       24s  ascii, NUL padded ("indptr", "indices", "values", or user names)
          dtype      8s   numpy dtype string, e.g. b"<i8"
          offset     u64  from the start of the file, multiple of 64
          length     u64  number of elements (1-D arrays; extra arrays record their shape in `shape0`)
          shape0     u64  first dimension (== length for 1-D; rows of a 2-D extra array)
          crc32      u32  of the array's bytes
          pad        4x
    ...   arrays, each starting on a 64-byte boundary (zero padding between)

``load(path, mmap=True)`` checks the header, table checksum, offsets and the
file size (all O(1) in the graph size) and returns a :class:`CSRMatrix` whose
arrays are read-only views of the mapped file: nothing is copied, so graphs
larger than RAM work and load time does not grow with the graph. The array
checksums and the CSR structure (``indptr`` monotone, column ids in range) are
verified when ``verify=True`` (O(nnz)); that is the default for
``mmap=False``, which reads the arrays into memory anyway. With ``mmap=True,
verify=False`` the array checksums are not compared (a flipped value goes
unnoticed: verify files that come from untrusted places), but the CSR
structure is still checked, once, the first time anything reads the index
arrays (a kernel, an export or writer, reordering, ``save``, the ``indptr`` /
``indices`` properties), so a corrupted index can never make the library read
out of bounds.

Writes are atomic: the data go to a temporary file in the same folder, which
is flushed, fsync'ed and renamed over the target, so a crash leaves the old
file (or no file), never a partial one.
"""
import contextlib
import mmap as _mmap
import os
import stat
import struct
import tempfile
import zlib

import numpy as np

from pysparsegraph import errors
from pysparsegraph._validate import as_path, check_path

MAGIC = b"PSG\x00GRF\x01"
FORMAT_VERSION = 1
HEADER_SIZE = 128
ENTRY_SIZE = 64
ALIGN = 64
_HDR = struct.Struct("<8sIIqqqQQ")  # 56 bytes; crc at 124
_ENT = struct.Struct("<24s8sQQQI4x")  # 64 bytes
_ALLOWED_DTYPES = {"<i4", "<i8", "<f4", "<f8", "<u1", "<i2", "<u2", "<u4", "<u8", "|u1", "|i1", "<f2", "|b1"}


def _umask():
    """The process umask. /proc gives it without changing it; the fallback
    sets and restores it, which races with threads that create files."""
    try:
        with open("/proc/self/status", "rb") as fh:
            for line in fh:
                if line.startswith(b"Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _target_mode(path):
    """Mode for the file that replaces ``path``: the existing file's permission
    bits, else what ``open(path, "w")`` would give (0o666 minus the umask)."""
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except OSError:  # no such file (or unreadable metadata): a new file
        return 0o666 & ~_umask()


@contextlib.contextmanager
def atomic_file(path):
    """Binary file handle whose content replaces ``path`` only if the block
    completes: temp file in the same folder, flush, fsync, rename, fsync dir.
    The result has the mode of the file it replaces, or of a new ``open()``ed
    file (mkstemp's 0600 would hide outputs from group and others).

    Like ``open(path, "wb")``, it writes through a symlink (the link stays, its
    target is replaced) and into a device or FIFO (``/dev/null``, a pipe), which
    cannot be replaced by a rename and get the bytes directly."""
    asked = as_path(path)
    path = os.path.realpath(asked)
    try:
        special = not stat.S_ISREG(os.stat(path).st_mode)
    except FileNotFoundError:
        special = False
    if special:
        with open(path, "wb") as fh:
            yield fh
        return
    folder = os.path.dirname(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=folder)
    except OSError as exc:  # name the file asked for, not the hidden temporary one
        raise OSError(exc.errno, exc.strerror, asked) from None
    try:
        with os.fdopen(fd, "wb") as fh:
            os.fchmod(fh.fileno(), _target_mode(path))
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        tmp = None
        try:
            dfd = os.open(folder, os.O_RDONLY)
            try:
                os.fsync(dfd)
            finally:
                os.close(dfd)
        except OSError:  # some filesystems refuse fsync on folders
            pass
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


def _align(x):
    return (x + ALIGN - 1) // ALIGN * ALIGN


def _crc(arr):
    return zlib.crc32(memoryview(np.ascontiguousarray(arr)).cast("B")) & 0xFFFFFFFF


def save(graph, path, *, extra=None):
    """Writes ``graph`` (a :class:`CSRMatrix`) to ``path`` in the native format.

    Parameters
    ----------
    graph : CSRMatrix
    path : str or PathLike
        Conventionally ending in ``.psg``. Replaced atomically.
    extra : dict of str -> ndarray, optional
        More arrays stored beside the graph (features, labels, a permutation
        ...), read back with :func:`load_extra`. 1-D or 2-D, numeric.
    """
    from pysparsegraph.io import _as_csr

    g = _as_csr(graph, "save(graph, path)")
    arrays = [("indptr", np.asarray(g.indptr)), ("indices", np.asarray(g.indices))]
    if g.values is not None:
        arrays.append(("values", np.asarray(g.values)))
    for name, arr in (extra or {}).items():
        if name in ("indptr", "indices", "values"):
            raise errors.InvalidArgumentError(f"extra array name {name!r} is reserved")
        # the table pads names with NUL and strips it on reading: "values\0" would come back as "values"
        if not isinstance(name, str) or not name.isascii() or "\0" in name or not 0 < len(name) <= 24:
            raise errors.InvalidArgumentError(f"extra array names must be ascii without NUL, 1-24 characters, "
                                              f"got {name!r}")
        a = np.ascontiguousarray(arr)
        if a.ndim not in (1, 2):
            raise errors.ShapeMismatchError(f"extra array {name!r} must be 1-D or 2-D, got shape {a.shape}")
        a = a.astype(a.dtype.newbyteorder("<"), copy=False)
        if a.dtype.str not in _ALLOWED_DTYPES:
            raise errors.DTypeError(f"extra array {name!r} has unsupported dtype {a.dtype}")
        arrays.append((name, a))
    n = len(arrays)
    offset = _align(HEADER_SIZE + ENTRY_SIZE * n)
    table = []
    for name, a in arrays:
        a = np.ascontiguousarray(a)
        length = a.size
        shape0 = a.shape[0]
        table.append((name, a, offset, length, shape0, _crc(a)))
        offset = _align(offset + a.nbytes)
    file_size = offset
    head = bytearray(HEADER_SIZE)
    _HDR.pack_into(head, 0, MAGIC, FORMAT_VERSION, n, g.n_rows, g.n_cols, g.nnz, file_size,
                   1 if g.values is not None else 0)
    tbl = bytearray()
    for name, a, off, length, shape0, crc in table:
        tbl += _ENT.pack(name.encode(), a.dtype.str.encode(), off, length, shape0, crc)
    crc = zlib.crc32(bytes(head) + bytes(tbl)) & 0xFFFFFFFF
    struct.pack_into("<I", head, 124, crc)
    with atomic_file(path) as fh:
        fh.write(head)
        fh.write(tbl)
        pos = HEADER_SIZE + len(tbl)
        for name, a, off, length, shape0, c in table:
            fh.write(b"\0" * (off - pos))
            fh.write(memoryview(a).cast("B") if a.size else b"")
            pos = off + a.nbytes
        fh.write(b"\0" * (file_size - pos))


def _read_table(buf, path):
    size = len(buf)
    if size < HEADER_SIZE:
        raise errors.FormatError(f"{path}: file is {size} bytes, shorter than the {HEADER_SIZE}-byte header "
                                 "(truncated or not a pysparsegraph file)")
    magic, version, n, n_rows, n_cols, nnz, file_size, flags = _HDR.unpack_from(buf, 0)
    if magic[:7] != MAGIC[:7]:
        raise errors.FormatError(f"{path}: not a pysparsegraph native file (bad magic {bytes(magic)!r})")
    if version != FORMAT_VERSION:
        raise errors.FormatError(f"{path}: native format version {version}; this pysparsegraph reads version "
                                 f"{FORMAT_VERSION}" + (" (written by a newer release: upgrade)"
                                                        if version > FORMAT_VERSION else ""))
    if n > 4096:
        raise errors.FormatError(f"{path}: corrupt header (claims {n} arrays)")
    tend = HEADER_SIZE + ENTRY_SIZE * n
    if size < tend:
        raise errors.FormatError(f"{path}: truncated inside the array table ({size} bytes)")
    (stored_crc,) = struct.unpack_from("<I", buf, 124)
    head = bytearray(buf[:HEADER_SIZE])
    struct.pack_into("<I", head, 124, 0)
    if zlib.crc32(bytes(head) + bytes(buf[HEADER_SIZE:tend])) & 0xFFFFFFFF != stored_crc:
        raise errors.FormatError(f"{path}: header checksum mismatch (the file is corrupt)")
    if file_size != size:
        raise errors.FormatError(f"{path}: file is {size} bytes but its header says {file_size}"
                                 + (" (truncated)" if size < file_size else " (trailing data)"))
    entries = {}
    for i in range(n):
        name, dt, off, length, shape0, crc = _ENT.unpack_from(buf, HEADER_SIZE + ENTRY_SIZE * i)
        name = name.rstrip(b"\0").decode("ascii", "replace")
        dt = dt.rstrip(b"\0").decode("ascii", "replace")
        if dt not in _ALLOWED_DTYPES:
            raise errors.FormatError(f"{path}: array {name!r} has unknown dtype {dt!r}")
        itemsize = np.dtype(dt).itemsize
        if off % ALIGN or off < tend or off + length * itemsize > size or (shape0 and length % shape0):
            raise errors.FormatError(f"{path}: array {name!r} lies outside the file or is misaligned")
        if name in entries:  # the later entry would silently replace the earlier one (e.g. the graph's values)
            raise errors.FormatError(f"{path}: the array table names {name!r} twice (the file is corrupt)")
        entries[name] = (np.dtype(dt), off, length, shape0, crc)
    return (n_rows, n_cols, nnz, flags), entries


def _open(path, mmap):
    path = check_path(path, "graph file")
    try:
        fh = open(path, "rb")
    except OSError as exc:  # unreadable (permissions), or removed since the check
        raise errors.PSGIOError(f"{path}: cannot be read ({exc.strerror})") from None
    with fh:
        if mmap:
            size = os.fstat(fh.fileno()).st_size
            if size == 0:
                raise errors.FormatError(f"{path}: empty file (0 bytes)")
            return _mmap.mmap(fh.fileno(), 0, access=_mmap.ACCESS_READ)
        return fh.read()


def _array(buf, entries, name, path, verify):
    dt, off, length, shape0, crc = entries[name]
    a = np.frombuffer(buf, dtype=dt, count=length, offset=off)
    if verify and _crc(a) != crc:
        raise errors.FormatError(f"{path}: checksum mismatch in array {name!r} (the file is corrupt)")
    if shape0 and shape0 != length:
        a = a.reshape(shape0, length // shape0)
    return a


def load(path, mmap=True, *, verify=None):
    """Reads a native ``.psg`` file into a :class:`CSRMatrix`.

    Parameters
    ----------
    path : str or PathLike
    mmap : bool
        ``True`` (default): the arrays are read-only views of the memory-mapped
        file, nothing is copied and the time is O(1) in the graph size. The
        file must then not be overwritten in place while the matrix lives
        (``cp other.psg this.psg`` changes its arrays under it, and the process
        dies with SIGBUS if the file shrinks); :func:`save` and the io writers
        replace files atomically, which is safe. ``False``: the file is read
        into memory.
    verify : bool or None
        Check every array's crc32 and the CSR structure (O(nnz)). ``None``
        means ``not mmap``. Header, table checksum, offsets and file size are
        always checked, so truncation and header corruption are always caught.

    Raises
    ------
    FormatError
        Truncated, corrupt, wrong-version or foreign files.
    """
    from pysparsegraph.matrix import CSRMatrix

    if verify is None:
        verify = not mmap
    buf = _open(path, mmap)
    (n_rows, n_cols, nnz, flags), entries = _read_table(buf, path)
    for need in ("indptr", "indices"):
        if need not in entries:
            raise errors.FormatError(f"{path}: no {need!r} array")
    if n_rows < 0 or n_cols < 0 or nnz < 0:
        raise errors.FormatError(f"{path}: negative dimensions in the header")
    for name, (_, _, length, shape0, _) in entries.items():
        if name in ("indptr", "indices", "values") and shape0 != length:  # _array would make it 2-D
            raise errors.FormatError(f"{path}: array {name!r} has {length} elements in {shape0} rows, but the "
                                     "graph's arrays are 1-D (the file is corrupt)")
    indptr = _array(buf, entries, "indptr", path, verify)
    indices = _array(buf, entries, "indices", path, verify)
    values = _array(buf, entries, "values", path, verify) if "values" in entries else None
    if (indptr.dtype != np.int64 or indptr.shape[0] != n_rows + 1 or indices.dtype not in (np.int32, np.int64)
            or indices.shape[0] != nnz or (values is not None and (values.shape[0] != nnz or
                                                                   values.dtype not in (np.float32, np.float64)))):
        raise errors.FormatError(f"{path}: array sizes or dtypes disagree with the header")
    if bool(flags & 1) != (values is not None):
        raise errors.FormatError(f"{path}: header flags disagree with the arrays")
    if n_rows + 1 > 0 and (indptr[0] != 0 or indptr[-1] != nnz):  # O(1) sanity even without verify
        raise errors.FormatError(f"{path}: indptr does not run from 0 to nnz (the file is corrupt)")
    if verify:
        try:
            return CSRMatrix(indptr, indices, values, shape=(n_rows, n_cols), copy=False, check=True)
        except errors.PSGError as exc:
            raise errors.FormatError(f"{path}: invalid CSR structure ({exc})") from None
    # Opening stays O(1): the structure check runs on first use by a kernel.
    return CSRMatrix._trusted(indptr, indices, values, (n_rows, n_cols), check_before_use=True)


def load_extra(path, name=None, mmap=True, *, verify=None):
    """An extra array saved with ``save(..., extra=...)`` (or a dict of all
    of them when ``name`` is None)."""
    if verify is None:
        verify = not mmap
    buf = _open(path, mmap)
    _, entries = _read_table(buf, path)
    names = [k for k in entries if k not in ("indptr", "indices", "values")]
    if name is None:
        return {k: _array(buf, entries, k, path, verify) for k in names}
    if name not in entries:
        raise errors.MissingEntryError(f"{path}: no extra array {name!r} (have {names})")
    return _array(buf, entries, name, path, verify)
