"""The benchmark harness's command line: a bad option value is a usage error
(exit status 2, one line naming the option), never a traceback halfway through a run."""
import pathlib
import sys

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
from bench.__main__ import main  # noqa: E402
from bench.common import count, counts, fractions, non_negative, one_of  # noqa: E402

BAD = [
    ["spmm", "-k", "abc"], ["spmm", "--threads", "0"], ["spmm", "--repeats", "0"], ["spmm", "-k", "-5"],
    ["gnn", "-k", "0"], ["gnn", "--threads", "0"], ["gnn", "--repeats", "0"],
    ["model", "--shapes", "abc"], ["model", "--shapes", "0x4"], ["model", "--sparsity", "2"],
    ["model", "--batch", "x"], ["model", "--part", "bogus"], ["model", "--pause", "-1"], ["model", "--x-offset", "8"],
    ["io", "--part", "bogus"], ["io", "--repeats", "-1"],
    ["propagation", "--hops", "-1"], ["propagation", "-k", "abc"], ["propagation", "--threads", ""],
    ["suite", "--threads", "x"], ["suite", "--k", "abc"], ["suite", "--dtypes", "float16"],
    ["suite", "--min-round-ms", "nan"], ["suite", "--rounds", "0"],
]


@pytest.mark.parametrize("argv", BAD, ids=" ".join)
def test_bad_option_values_are_usage_errors(argv, capsys, tmp_path):
    with pytest.raises(SystemExit) as exc:
        main(argv + (["--out", str(tmp_path / "out")] if argv[0] == "suite" else []))
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert f"python -m bench {argv[0]}: error: argument" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()  # refused before anything is written


def test_unknown_subcommand_is_named(capsys):
    assert main(["nosuch"]) == 2
    assert "unknown subcommand 'nosuch'" in capsys.readouterr().err
    assert main(["--help"]) == 0


def test_option_types_parse_what_the_defaults_and_results_use():
    assert counts()("1,2") == [1, 2] and counts(0)("0") == [0] and count()("7") == 7
    assert fractions("0.5,0.9,1") == [0.5, 0.9, 1.0]
    assert non_negative("0") == 0.0
    assert one_of("ffn", "dnn")("dnn, ffn") == ["dnn", "ffn"]


@pytest.mark.parametrize("argv,says", [
    (["suite", "--graphs", "cora,nosuch"], "no graph 'nosuch'"),
    (["suite", "--graphs", "rmatX"], "no graph 'rmatX'"),
    (["suite", "--graphs", "er99"], "no graph 'er99'"),
    (["suite", "--graphs", "cora", "--bf16-graphs", "typo"], "no graph 'typo'"),
    (["suite", "--graphs", "cora", "--peers", "scipy,mkl_ie"], "unknown peer(s) 'mkl_ie'"),
    (["suite", "--graphs", "cora", "--k", "16", "--f64-k", "64"], "--f64-k 64 is not one of --k 16"),
    # the other harnesses too: a bad last name ended the run after timing every earlier graph
    (["spmm", "--graphs", "cora,nosuch"], "no graph 'nosuch'"),
    (["gnn", "--graphs", "cora,nosuch"], "no graph 'nosuch'"),
    (["propagation", "--graphs", "cora,nosuch"], "no graph 'nosuch'"),
])
def test_suite_names_are_checked_before_the_run(argv, says, capsys, tmp_path):
    # a typo used to drop a graph or a peer from the run (exit 0) or fail halfway with a traceback
    with pytest.raises(SystemExit) as exc:
        main(argv + (["--out", str(tmp_path / "out")] if argv[0] == "suite" else []))
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert says in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_store_table_times_the_product_and_then_a_relu(tmp_path, capsys):
    # the bundled cora, scipy as the one peer, the smallest timing: the table's shape, not its figures
    # (inherit: another wait policy restarts the process, here pytest's own)
    assert main(["suite", "--graphs", "cora", "--k", "16", "--threads", "1", "--peers", "scipy", "--repeats", "1",
                 "--rounds", "1", "--min-round-ms", "0", "--bf16-graphs", "none", "--skip-ablation",
                 "--store-graphs", "cora", "--wait-policy", "inherit", "--out", str(tmp_path)]) == 0
    md = next(tmp_path.glob("suite-*.md")).read_text().splitlines()
    head = md.index(next(line for line in md if line.startswith("## Stores of Y")))
    cols = [c.strip() for c in md[head + 1].strip("|").split("|")]
    assert cols[5:] == ["cached ms", "stream ms", "stream speedup", "cached + ReLU ms", "stream + ReLU ms",
                        "stream + ReLU speedup", "auto picks"]
    row = [c.strip() for c in md[head + 3].strip("|").split("|")]
    assert row[:3] == ["cora", "16", "1"] and row[-1] == "cached"  # Y and X of 0.2 MiB: auto keeps Y in cache
    assert all(float(c) > 0 for c in row[5:7] + row[8:10])


def test_suite_out_that_cannot_be_a_folder_is_a_usage_error(capsys, tmp_path):
    (tmp_path / "afile").write_text("")
    for out, says in ((tmp_path / "afile", "is a file, not a folder"), (tmp_path / "afile" / "sub", "cannot create")):
        with pytest.raises(SystemExit) as exc:
            main(["suite", "--graphs", "cora", "--k", "16", "--out", str(out)])
        assert exc.value.code == 2
        err = capsys.readouterr().err
        assert says in err and "Traceback" not in err

