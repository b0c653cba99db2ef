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
