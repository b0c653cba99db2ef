"""Exceptions raised by pysparsegraph.

Every error derives from :class:`PSGError` and from the built-in exception a
caller would expect (``ValueError``, ``TypeError``, ``IndexError`` ...), so
``except ValueError`` keeps working. Messages name the offending argument and
say how to fix it.
"""


class PSGError(Exception):
    """Base class of every pysparsegraph error."""


class InvalidArgumentError(PSGError, ValueError):
    """A scalar or option argument is outside its domain."""


class InvalidIndptrError(PSGError, ValueError):
    """``indptr`` is the wrong length, does not start at 0, or decreases."""


class IndexOutOfRangeError(PSGError, IndexError):
    """An index (column id, node id) is negative or not below its dimension."""


class ShapeMismatchError(PSGError, ValueError):
    """Operand shapes or array lengths do not agree."""


class DTypeError(PSGError, TypeError):
    """An array has a dtype the operation does not accept."""


class CopyRequiredError(PSGError, ValueError):
    """``copy=False`` was given but the input cannot be used without a copy."""


class IndexOverflowError(PSGError, ValueError):
    """A count or id does not fit the index type (e.g. int32)."""


class UnsupportedError(PSGError, ValueError):
    """Valid input that this operation or build does not handle."""


class FormatError(PSGError, ValueError):
    """A file or stream is malformed."""


class MissingEntryError(PSGError, KeyError):
    """A named entry (an array stored in a file) is not there."""


class PSGMemoryError(PSGError, MemoryError):
    """The C core could not allocate memory."""


class PSGIOError(PSGError, OSError):
    """The operating system refused a read or a write."""


class MissingFileError(PSGIOError, FileNotFoundError):
    """A file to read is not there (``except FileNotFoundError`` catches it too)."""


__all__ = [name for name in dir() if name.endswith("Error")]
