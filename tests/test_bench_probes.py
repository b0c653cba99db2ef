"""The memory probes behind the suite's ceiling and floor columns: they load
exactly the rows they are given (checked through the OR of the loaded words)
and refuse input they cannot read."""
import numpy as np
import pytest

from pysparsegraph import _core
from pysparsegraph.errors import IndexOutOfRangeError


@pytest.mark.parametrize("k", [1, 3, 8, 16, 24, 32, 48, 64, 80, 256, 272, 512])
@pytest.mark.parametrize("threads", [1, 2])
def test_gather_probe_loads_every_word_of_the_named_rows_and_no_other(k, threads):
    n_rows = 37
    rng = np.random.default_rng(k)
    idx = rng.integers(0, n_rows, size=203).astype(np.int32)
    idx = idx[idx != 5]
    idx[-1] = 7  # the last entry, past every 4-entry step, names the marked row
    for col in sorted({0, k // 2, k - 1, min(15, k - 1), min(16, k - 1)}):
        x = np.zeros((n_rows, k), np.float32)
        bit = np.uint32(1 << (col % 31))
        x.view(np.uint32)[7, col] = bit
        x.view(np.uint32)[5, col] = np.uint32(1 << 31)  # a row never named
        gbps, bits = _core.probe_gather(x, idx, 2, threads)
        assert gbps > 0
        assert bits == int(bit), (k, col, hex(bits))
        gbps, bits = _core.probe_gather(x, idx[:-1][idx[:-1] != 7], 1, threads)
        assert bits == 0, (k, col, hex(bits))


def test_gather_probe_names_bad_input():
    x = np.zeros((4, 16), np.float32)
    with pytest.raises(IndexOutOfRangeError, match=r"idx\[1\] = 4 is outside \[0, 4\)"):
        _core.probe_gather(x, np.array([0, 4], np.int32), 1, 1)
    with pytest.raises(IndexOutOfRangeError, match="outside"):
        _core.probe_gather(x, np.array([-1], np.int32), 1, 1)
    with pytest.raises(TypeError, match="float32"):
        _core.probe_gather(x.astype(np.float64), np.array([0], np.int32), 1, 1)
    with pytest.raises(TypeError, match="int32"):
        _core.probe_gather(x, np.array([0], np.int64), 1, 1)
    with pytest.raises(TypeError, match="C-contiguous"):
        _core.probe_gather(x[:, ::2], np.array([0], np.int32), 1, 1)


@pytest.mark.parametrize("batch, tile, lanes", [(300, 128, 16), (128, 128, 16), (20, 64, 8), (5, 5, 1)])
def test_layer_floor_loads_each_packed_tile_once(monkeypatch, batch, tile, lanes):
    # bench model's floor: W's column ids gathered from every batch tile, packed as the
    # kernel packs it (aligned, zero-padded to whole vectors); the seconds add up per tile
    import pathlib
    import sys
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
    from bench.model import layer_floor

    rng = np.random.default_rng(batch)
    xt = rng.standard_normal((9, batch)).astype(np.float32)
    idx = np.array([3, 0, 8, 3], np.int32)
    seen = []

    def fake_probe(x, ids, reps, threads):
        seen.append((x.copy(), x.ctypes.data % 64, ids, threads))
        return 2.0, 0  # GB/s
    monkeypatch.setattr(_core, "probe_gather", fake_probe)
    got = layer_floor(idx, xt, 2, tile, lanes)
    starts = list(range(0, batch, tile))
    assert len(seen) == len(starts)
    want = 0.0
    for (x, align, ids, threads), c0 in zip(seen, starts):
        w = min(tile, batch - c0)
        assert x.shape == (9, -(-w // lanes) * lanes) and align == 0 and threads == 2
        np.testing.assert_array_equal(x[:, :w], xt[:, c0:c0 + w])
        assert not x[:, w:].any()
        np.testing.assert_array_equal(ids, idx)
        want += idx.size * x.shape[1] * 4 / 2.0e9
    assert got == pytest.approx(want)
    assert layer_floor(np.zeros(0, np.int32), xt, 1, tile, lanes) is None
