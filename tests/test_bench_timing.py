"""The suite's timing loop: every tool gets its warm-up, its share of the
repeats, and (with ``min_round_s``) keeps calling until it has spent that
long in each round, the same rule for every tool."""
import pathlib
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
from bench.common import timed_block, warm_state_medians  # noqa: E402


def _counting(sleep_s):
    calls = []

    def fn():
        calls.append(1)
        time.sleep(sleep_s)
    return fn, calls


def test_exact_repeats_without_min_round():
    fast, n_fast = _counting(0.0)
    slow, n_slow = _counting(0.002)
    res = warm_state_medians({"fast": fast, "slow": slow}, repeats=6, rounds=2, pause=0.0)
    # 2 rounds x (1 warm-up + 3 timed calls)
    assert len(n_fast) == len(n_slow) == 8
    assert res["slow"][0] >= 0.002 > res["fast"][0]


def test_min_round_keeps_short_calls_going():
    short, n_short = _counting(0.001)
    long_, n_long = _counting(0.03)
    warm_state_medians({"short": short, "long": long_}, repeats=2, rounds=2, pause=0.0, min_round_s=0.02)
    # a 1 ms call needs at least 20 timed calls per round to fill 20 ms (sleep never returns early)
    assert 2 * (1 + 1) < len(n_short) <= 2 * (1 + 21)
    # one 30 ms call already fills the round: warm-up + its share of the repeats only
    assert len(n_long) == 2 * (1 + 1)


def test_model_blocks_follow_the_same_rule():
    from bench.model import blocked_medians
    short, n_short = _counting(0.001)
    long_, n_long = _counting(0.03)
    res = blocked_medians({"short": short, "long": long_}, repeats=2, rounds=2, pause=0.0, min_block_s=0.02)
    assert 2 * (1 + 1) < len(n_short) <= 2 * (1 + 21)
    assert len(n_long) == 2 * (1 + 1)
    assert res["short"][0] >= 0.001 and res["long"][0] >= 0.03


def test_placed_puts_x_at_the_asked_offset():
    # the suite's X must start where --x-offset says, hold the same values, and
    # a bad offset must be refused (an odd offset would split every element)
    import numpy as np
    import pytest

    from bench.common import placed
    from bench.suite import main

    rng = np.random.default_rng(0)
    for dtype in (np.float32, np.float64):
        a = rng.standard_normal((37, 5)).astype(dtype)
        for off in (0, 8, 16, 48, 56):
            b = placed(a, off)
            assert b.ctypes.data % 64 == off
            assert b.dtype == a.dtype and b.shape == a.shape and b.flags.c_contiguous
            np.testing.assert_array_equal(b, a)
    for off in (-16, 64, 2):
        with pytest.raises(ValueError):
            placed(np.zeros((3, 2), np.float32), off)
    with pytest.raises(SystemExit):
        main(["--x-offset", "12", "--wait-policy", "inherit"])


def test_a_self_timed_probe_reports_its_own_seconds():
    # the gather floor probe times its passes in C: the loop takes the seconds it returns
    def probe():
        time.sleep(0.002)
        return 0.5
    probe.self_timed = True
    assert timed_block(probe, 3) == [0.5, 0.5, 0.5]
    res = warm_state_medians({"probe": probe}, repeats=2, rounds=1, pause=0.0)
    assert res["probe"] == (0.5, 0.0)
