"""Input checks shared by the public API (no loops over edges here)."""
import numbers
import os

import numpy as np

from pysparsegraph import errors

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
INDEX_DTYPES = (np.dtype(np.int32), np.dtype(np.int64))


def as_array(arr, name, dtype, *, copy=None, allowed_from=None):
    """``arr`` as a 1-D C-contiguous array of ``dtype``.

    copy=None copies only if the dtype or layout forces it, copy=True always
    copies, copy=False raises CopyRequiredError instead of copying.
    ``allowed_from`` is a predicate on the source dtype; a dtype it rejects
    raises DTypeError rather than being silently converted.
    """
    dtype = np.dtype(dtype)
    a = to_ndarray(arr, name) if not isinstance(arr, np.ndarray) else arr
    if a.ndim != 1:
        raise errors.ShapeMismatchError(f"{name} must be 1-D, got an array of shape {a.shape}")
    if allowed_from is not None and a.size and not allowed_from(a.dtype):
        raise errors.DTypeError(f"{name} has dtype {a.dtype}, which cannot be used as {dtype}")
    needs_copy = a.dtype != dtype or not a.flags.c_contiguous or not a.flags.aligned
    if needs_copy and copy is False:
        raise errors.CopyRequiredError(
            f"{name} (dtype {a.dtype}, contiguous={a.flags.c_contiguous}, aligned={a.flags.aligned}) must be "
            f"converted to a contiguous, aligned {dtype} array, which needs a copy; pass copy=None to allow it")
    if needs_copy or copy:
        if a.dtype.kind in "iu" and dtype.kind in "iu":
            info = np.iinfo(dtype)
            if a.size and (a.min() < info.min or a.max() > info.max):
                raise errors.IndexOverflowError(f"{name} has values outside the {dtype} range")
        return np.array(a, dtype=dtype, order="C", copy=True)
    return a


def native_float(dt):
    """``dt`` in native byte order when it is a big-endian float32/float64 (the same values, in the order
    the C core reads), else ``dt`` as it is."""
    if dt.kind == "f" and not dt.isnative and dt.newbyteorder("=") in FLOAT_DTYPES:
        return dt.newbyteorder("=")
    return dt


def c_aligned(a):
    """``a`` if it is C-contiguous with its data aligned to its item size, else an (aligned) C-order copy:
    the C core reads arrays through typed pointers, which a view at an odd byte offset breaks."""
    return a if a.flags.c_contiguous and a.flags.aligned else np.array(a, order="C")


def to_ndarray(obj, name):
    """``np.asarray(obj)`` with its failures as errors naming ``name``: a ragged list (NumPy's bare ValueError)
    and what NumPy cannot convert at all (a torch tensor that requires grad, or of bfloat16: torch's
    RuntimeError / TypeError)."""
    try:
        return np.asarray(obj)
    except ValueError as exc:
        raise errors.ShapeMismatchError(f"{name} cannot be read as an array: {exc}") from None
    except (TypeError, RuntimeError) as exc:
        why = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise errors.DTypeError(f"{name} cannot be read as a NumPy array ({why}); pass a real NumPy array (a torch "
                                "tensor as t.detach().cpu().float().numpy())") from None


def is_integer_dtype(dt):
    return dt.kind in "iu"


def is_real_dtype(dt):
    return dt.kind in "iuf" or dt.kind == "b"


def readonly_view(a):
    """A read-only view (the caller's array keeps its own flags)."""
    if a is None:
        return None
    v = a.view()
    v.flags.writeable = False
    return v


INT64_MAX = (1 << 63) - 1


def as_dim(value, name):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise errors.InvalidArgumentError(f"{name} must be an integer, got {value!r}")
    value = int(value)
    if value < 0:
        raise errors.InvalidArgumentError(f"{name} must be >= 0, got {value}")
    if value > INT64_MAX:  # the C core counts in int64
        raise errors.InvalidArgumentError(f"{name} must be below 2**63, got {value}")
    return value


def as_dtype(value, name):
    """np.dtype(value), with a DTypeError naming the argument for what numpy cannot read."""
    try:
        return np.dtype(value)
    except (TypeError, ValueError):
        raise errors.DTypeError(f"{name} must be a NumPy dtype (e.g. np.float32), got {value!r}") from None


def is_one_of(value, options):
    """``value in options`` that is False, not a TypeError, for unhashable values."""
    try:
        return value in options
    except TypeError:
        return False


def resolve_threads(n_threads):
    """0 (= the OpenMP runtime's limit at call time) for None, else a positive int."""
    if n_threads is None:
        return 0
    if type(n_threads) is int and n_threads >= 1:  # the common case, without the ABC check below
        return min(n_threads, 1 << 16)
    if isinstance(n_threads, (bool, np.bool_)) or not isinstance(n_threads, numbers.Integral) or n_threads < 1:
        raise errors.InvalidArgumentError(f"n_threads must be None or a positive integer, got {n_threads!r}")
    return min(int(n_threads), 1 << 16)


def as_flag(value, name):
    """A yes/no option as a bool: True, False, numpy.bool_ or the integers 0 and 1. Anything else is refused
    rather than read by its truth value (``transpose="no"`` is truthy and ran the transposed product)."""
    if value is True or value is False:
        return value
    if isinstance(value, np.bool_) or (isinstance(value, numbers.Integral) and value in (0, 1)):
        return bool(value)
    raise errors.InvalidArgumentError(f"{name} must be True or False, got {value!r}")


def choice(value, name, options):
    """``value`` when it is one of ``options``; a ``str`` subclass (``numpy.str_``) comes back as a
    plain ``str``, which the typed C wrappers need."""
    if not is_one_of(value, options):
        raise errors.InvalidArgumentError(f"{name} must be one of {sorted(options)}, got {value!r}")
    return str(value) if isinstance(value, str) else value


def as_path(path, name="path"):
    """``path`` (str, bytes or os.PathLike) as str."""
    try:
        return os.fsdecode(os.fspath(path))
    except TypeError:
        raise errors.DTypeError(f"{name} must be a str, bytes or os.PathLike, got {type(path).__name__}") from None


def check_path(path, what, *, regular=True):
    """``path`` as str for the readers: bytes paths decoded; a missing file and a folder
    refused, and (``regular``) any other non-regular file: a FIFO would block a reader
    that seeks or maps. ``what`` names the expected kind of file in the messages."""
    path = as_path(path)
    if os.path.isdir(path):
        raise errors.PSGIOError(f"{path}: is a folder, not a {what}")
    if not os.path.exists(path):
        raise errors.MissingFileError(f"{path}: no such file")
    if regular and not os.path.isfile(path):
        raise errors.PSGIOError(f"{path}: not a regular file (a FIFO, socket or device)")
    return path
