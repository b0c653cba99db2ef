"""Reading ``.npy`` / ``.npz`` files that may be malformed or hostile.

``numpy.load`` allocates what an array's header declares before it reads a
byte of data, so a 144-byte file declaring 2**40 float64 values asks for
8 TiB. Here each header is read first and its size checked against the bytes
the file (or the zip member) really holds; pickled objects are refused
before NumPy sees them, and every failure inside a member is a
:class:`~pysparsegraph.errors.FormatError` naming that member.
"""
import os
import zipfile

import numpy as np

from pysparsegraph import errors

_NPY_MAGIC = b"\x93NUMPY"
_ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")  # a local file header, or the end record of an empty archive
# deflate expands at most about 1032:1; a member claiming more than this is lying about its size
_DEFLATE_MAX_RATIO = 1100


def kind(path):
    """``"npy"``, ``"npz"`` or None (neither), from the file's first bytes."""
    with open(path, "rb") as f:
        head = f.read(6)
    if head == _NPY_MAGIC:
        return "npy"
    if head[:4] in _ZIP_MAGICS:
        return "npz"
    return None


def _read_checked(f, available, what, path):
    """The array at the start of stream ``f``, after checking that its header
    declares no more than ``available`` bytes (counted from the stream start)."""
    try:
        version = np.lib.format.read_magic(f)
        # version 3.0 differs from 2.0 only in the header's text encoding, not in its sizes
        shape, fortran, dtype = (np.lib.format.read_array_header_1_0(f) if version == (1, 0)
                                 else np.lib.format.read_array_header_2_0(f))
    except errors.PSGError:
        raise
    except Exception as e:  # ValueError on a bad magic, version or header; EOFError/zip errors on short data
        raise errors.FormatError(f"{path}: {what} is not a valid .npy array ({type(e).__name__}: {e})") from None
    if dtype.hasobject:
        raise errors.FormatError(f"{path}: {what} holds Python objects (a pickle); pickled data is refused")
    declared = int(np.prod(shape, dtype=object)) * dtype.itemsize
    if declared > available - f.tell():
        raise errors.FormatError(f"{path}: {what} declares shape {shape} of {dtype} ({declared} bytes), but only "
                                 f"{max(available - f.tell(), 0)} bytes follow its header: truncated or corrupt")
    try:
        f.seek(0)  # read_array reads the magic and header again (a zip member seeks back by re-reading them)
        return np.lib.format.read_array(f, allow_pickle=False)
    except MemoryError:
        raise errors.PSGMemoryError(f"{path}: not enough memory for {what} ({declared} bytes)") from None
    except Exception as e:  # short or corrupt data: EOFError, ValueError, zlib/lzma/bz2 errors, bad CRC ...
        raise errors.FormatError(f"{path}: {what} is corrupt or truncated ({type(e).__name__}: {e})") from None


def _decompressed_size(f, what, path):
    """How many bytes stream ``f`` really yields (zipfile stops at the size the member
    claims), read in bounded chunks that are dropped; ``f`` is left at its start."""
    n = 0
    try:
        while chunk := f.read(1 << 20):
            n += len(chunk)
        f.seek(0)
    except Exception as e:  # lzma/bz2 errors, EOFError, a bad CRC ...
        raise errors.FormatError(f"{path}: {what} is corrupt or truncated ({type(e).__name__}: {e})") from None
    return n


def read_npy(path):
    """The array of an ``.npy`` file (sizes checked first, pickles refused)."""
    with open(path, "rb") as f:
        return _read_checked(f, os.fstat(f.fileno()).st_size, "the array", path)


class NpzArchive:
    """An ``.npz`` opened for reading members by key (``name`` of ``name.npy``).

    Use as a context manager. ``keys`` lists the members in archive order; a
    key given twice (``a.npy`` twice, or ``a`` beside ``a.npy``) is refused,
    since one of the two arrays would be silently lost.
    """

    def __init__(self, path):
        self.path = path
        try:
            self._zip = zipfile.ZipFile(path)
        except Exception as e:  # BadZipFile, or a mangled header claiming an unsupported zip version
            raise errors.FormatError(f"{path}: not a valid .npz archive or truncated ({type(e).__name__}: "
                                     f"{e})") from None
        self._info = {}
        for info in self._zip.infolist():
            key = info.filename[:-4] if info.filename.endswith(".npy") else info.filename
            if key in self._info:
                self._zip.close()
                raise errors.FormatError(f"{path}: the archive holds {key!r} twice (as {self._info[key].filename!r} "
                                         f"and {info.filename!r})")
            self._info[key] = info
        self.keys = list(self._info)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._zip.close()

    def is_array(self, key):
        """Whether member ``key`` is stored as ``.npy`` (NumPy hands other members out as bytes)."""
        return self._info[key].filename.endswith(".npy")

    def read(self, key):
        """The array stored under ``key`` (a MissingEntryError for an unknown key)."""
        info = self._info.get(key)
        if info is None:
            raise errors.MissingEntryError(f"{self.path}: no member {key!r} (found {self.keys})")
        what = f"member {info.filename!r}"
        if not self.is_array(key):
            raise errors.FormatError(f"{self.path}: {what} is not a NumPy array (.npy) file")
        if ((info.compress_type == zipfile.ZIP_STORED and info.file_size != info.compress_size)
                or (info.compress_type == zipfile.ZIP_DEFLATED
                    and info.file_size > _DEFLATE_MAX_RATIO * info.compress_size + 1024)):
            raise errors.FormatError(f"{self.path}: {what} claims {info.file_size} bytes from {info.compress_size} "
                                     "stored ones, more than its compression can give: corrupt")
        try:
            f = self._zip.open(info)
        except Exception as e:  # encrypted, unsupported compression method, bad local header ...
            raise errors.FormatError(f"{self.path}: {what} cannot be read ({type(e).__name__}: {e})") from None
        with f:
            available = info.file_size
            if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                # bzip2 and lzma have no useful ratio bound: a 200-byte member may claim 4 GB. Count the
                # bytes its data really gives, a chunk at a time, before NumPy allocates, then read again.
                available = _decompressed_size(f, what, self.path)
            return _read_checked(f, available, what, self.path)
