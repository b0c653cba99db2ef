"""CLI: info and convert on real files (run in-process through main())."""
import os

import numpy as np
import pytest

from pysparsegraph import io
from pysparsegraph.__main__ import main
from pysparsegraph.datasets import shared_data_dir
from pysparsegraph.graphinfo import gini, graph_info, top_share

DATA = shared_data_dir()
needs_data = pytest.mark.skipif(DATA is None, reason="shared/data not found (set PYSPARSEGRAPH_DATA)")


def test_gini_and_top_share_reference():
    assert gini([1, 1, 1, 1]) == pytest.approx(0.0)
    assert gini([0, 0, 0, 10]) == pytest.approx(0.75)  # (n-1)/n for one holder
    assert top_share(np.arange(100)) == pytest.approx(99 / 4950)
    assert gini([]) == 0.0


@needs_data
def test_info_matches_published_statistics(capsys):
    # the README table of shared/data: Gini out/in 0.731 / 0.700, top-1% 0.234, 78,303 loops
    path = os.path.join(DATA, "soc-Slashdot0902", "soc-Slashdot0902.txt.gz")
    assert main(["info", path, "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "948,464" in out and "Gini 0.731" in out and "Gini 0.700" in out and "78,303" in out
    assert "top-1% share 0.234" in out
    info = graph_info(io.read(os.path.join(DATA, "coAuthorsDBLP", "coAuthorsDBLP.npz")))
    assert info["out_degree"]["max"] == 336 and round(info["out_degree"]["gini"], 3) == 0.534


@needs_data
def test_convert_chain_preserves_graph(tmp_path, capsys):
    src = os.path.join(DATA, "suitesparse-small", "bcsstk13.mtx.gz")
    ref = io.read(src)
    for out in ("a.psg", "b.npz", "c.mtx.gz", "d.txt.gz"):
        assert main(["convert", src, str(tmp_path / out), "--quiet"]) == 0
        back = io.read(tmp_path / out, **({"n_nodes": ref.n_rows, "dtype": np.float64} if out.endswith("txt.gz")
                                         else {}))
        np.testing.assert_array_equal(back.indptr, ref.indptr)
        np.testing.assert_array_equal(back.indices, ref.indices)
        np.testing.assert_array_equal(back.values, ref.values)


def test_cli_errors(tmp_path, capsys):
    assert main(["info", str(tmp_path / "nope.mtx")]) == 1
    assert "no such file" in capsys.readouterr().err
    (tmp_path / "bad.mtx").write_text("junk\n")
    assert main(["info", str(tmp_path / "bad.mtx")]) == 1
    assert "line 1" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["convert", "only-one-arg"])


def test_plot(tmp_path):
    pytest.importorskip("matplotlib")
    g = io.CSRMatrix.from_edges([0, 0, 1, 2], [1, 2, 2, 0])
    io.write(g, tmp_path / "g.psg")
    assert main(["info", str(tmp_path / "g.psg"), "--plot", str(tmp_path / "d.png")]) == 0
    assert (tmp_path / "d.png").read_bytes()[:4] == b"\x89PNG"


def test_cli_output_and_plot_errors_are_one_line(tmp_path, capsys):
    g = io.CSRMatrix.from_edges([0, 0, 1, 2], [1, 2, 2, 0])
    src = tmp_path / "g.psg"
    io.write(g, src)
    # a missing output folder is named as given, not as the hidden temporary file
    assert main(["convert", str(src), str(tmp_path / "nodir" / "g.mtx"), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(tmp_path / "nodir" / "g.mtx") in err and ".tmp" not in err
    # formats that are not compressed as a whole refuse a compressed name instead of lying about it
    for out in ("a.psg.gz", "b.npz.xz"):
        assert main(["convert", str(src), str(tmp_path / out), "--quiet"]) == 1
        assert "suffix" in capsys.readouterr().err and not (tmp_path / out).exists()
    with pytest.raises(SystemExit):
        main(["demo", "-k", "0"])
    assert "usage: pysparsegraph demo" in capsys.readouterr().err
    pytest.importorskip("matplotlib")
    assert main(["info", str(src), "--quiet", "--plot", str(tmp_path / "d.xyz")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("pysparsegraph info: --plot") and err.count("\n") == 1


def test_symmetrize_applies_to_every_format_and_convert_refuses_its_input_as_output(tmp_path, capsys):
    # --symmetrize was applied to edge lists only and silently ignored for the other formats
    sp = pytest.importorskip("scipy.sparse")
    src = os.path.join(DATA, "suitesparse-small", "west0067.mtx.gz")  # not symmetric
    S = io.read(src).to_scipy()
    ref = sp.csr_array(S + S.T)  # a pair given both ways sums, as read_edgelist(symmetrize=True)
    ref.setdiag(S.diagonal())  # a loop is not mirrored
    ref.eliminate_zeros()
    assert main(["convert", src, str(tmp_path / "w.npz"), "--symmetrize", "--quiet"]) == 0
    got = io.read(tmp_path / "w.npz").to_scipy()
    assert (got != got.T).nnz == 0
    np.testing.assert_allclose(got.toarray(), ref.toarray())
    assert main(["convert", src, str(tmp_path / "plain.npz"), "--quiet"]) == 0
    assert (io.read(tmp_path / "plain.npz").to_scipy() != S).nnz == 0
    capsys.readouterr()
    io.write(io.read(src), tmp_path / "copy.mtx")
    before = (tmp_path / "copy.mtx").read_bytes()
    assert main(["convert", str(tmp_path / "copy.mtx"), str(tmp_path / "copy.mtx")]) == 2
    assert "is the input file" in capsys.readouterr().err
    assert (tmp_path / "copy.mtx").read_bytes() == before
    (tmp_path / "g.xyz").write_text("0 1\n")
    assert main(["info", str(tmp_path / "g.xyz")]) == 1
    err = capsys.readouterr().err
    assert "pass --format" in err and "'pace'" in err and "format=" not in err
    assert main(["info", str(tmp_path / "copy.mtx"), "--format", "planetoid"]) == 1
    assert "ind.NAME" in capsys.readouterr().err


def test_symmetrize_keeps_a_symmetric_weighted_file_and_convert_reads_bvgraph_basenames(tmp_path, capsys):
    # a MatrixMarket "symmetric" file is expanded by the reader: symmetrizing it again doubled its weights
    (tmp_path / "s.mtx").write_text("%%MatrixMarket matrix coordinate real symmetric\n3 3 2\n2 1 4.0\n3 3 1.5\n")
    assert main(["convert", str(tmp_path / "s.mtx"), str(tmp_path / "s.npz"), "--symmetrize", "--quiet"]) == 0
    np.testing.assert_array_equal(io.read(tmp_path / "s.npz").to_scipy().toarray(),
                                  [[0, 4, 0], [4, 0, 0], [0, 0, 1.5]])
    base = os.path.join(DATA, "cnr-2000", "cnr-2000")  # a BVGraph is named by its basename, not one file
    if not os.path.exists(base + ".graph"):
        pytest.skip("cnr-2000 not in the shared data")
    out = tmp_path / "cnr.psg"
    out.write_bytes(b"old")  # an existing output used to make the input==output check fail
    assert main(["convert", base, str(out), "--format", "bvgraph", "--quiet"]) == 0
    assert io.read(out).nnz == io.read_bvgraph(base).nnz


def test_plot_never_replaces_the_input_and_names_what_it_wrote(tmp_path, capsys):
    src = tmp_path / "graph.png"  # an edge list with an image's name
    src.write_text("0 1\n1 2\n2 0\n")
    assert main(["info", str(src), "--format", "edgelist", "--quiet", "--plot", str(src)]) == 2
    assert "is the input file" in capsys.readouterr().err
    assert src.read_text() == "0 1\n1 2\n2 0\n"
    (tmp_path / "shots.png").mkdir()
    assert main(["info", str(src), "--format", "edgelist", "--quiet", "--plot", str(tmp_path / "shots.png")]) == 2
    assert "is a folder" in capsys.readouterr().err
    pytest.importorskip("matplotlib")
    assert main(["info", str(src), "--format", "edgelist", "--quiet", "--plot", str(tmp_path / "deg")]) == 0
    assert f"written to {tmp_path / 'deg.png'}" in capsys.readouterr().out
    assert (tmp_path / "deg.png").read_bytes()[:4] == b"\x89PNG"


def test_cli_messages_for_huge_k_and_csv(tmp_path, capsys):
    for k in ("1000000000", "99999999999999999999"):  # features that cannot be allocated: one line, no traceback
        assert main(["demo", "-k", k, "--repeats", "1"]) == 1
        err = capsys.readouterr().err
        assert err.startswith(f"pysparsegraph demo: -k {k}:") and "Traceback" not in err and err.count("\n") == 1
    (tmp_path / "g.csv").write_text("0,1\n")
    assert main(["info", str(tmp_path / "g.csv")]) == 1
    assert "pass --format 'edgelist' if" in capsys.readouterr().err


def test_graph_info_of_hypersparse_and_scipy_input_and_checked_helpers(tmp_path, capsys):
    import scipy.sparse as sp

    from pysparsegraph import CSRMatrix, errors
    from pysparsegraph.graphinfo import degree_stats

    # 2**40 columns: in-degrees from the columns that occur (an array per column was 8 TiB)
    W = CSRMatrix(np.array([0, 2]), np.array([5, 2 ** 39]), shape=(1, 2 ** 40))
    io.save(W, tmp_path / "wide.psg")
    assert main(["info", str(tmp_path / "wide.psg"), "--quiet"]) == 0
    s = graph_info(W)["in_degree"]
    assert s["max"] == 1 and s["zero"] == 2 ** 40 - 2 and s["median"] == 0 and s["mean"] == 2 / 2 ** 40
    assert graph_info(sp.csr_array(np.eye(3)))["in_degree"]["max"] == 1
    rng = np.random.default_rng(0)
    for _ in range(200):  # the zeros left out and counted give the stats of the whole array
        full = rng.integers(0, 5, rng.integers(1, 40)) * (rng.random() < 0.8)
        a, b = degree_stats(full), degree_stats(full[full > 0], int((full == 0).sum()))
        assert a["max"] == b["max"] and a["zero"] == b["zero"] and a["median"] == b["median"] == np.median(full)
        for key in ("mean", "gini", "top1_share"):
            assert a[key] == pytest.approx(b[key])
    for bad in (lambda: gini(5), lambda: gini([[1, 2], [3, 4]]), lambda: degree_stats([np.nan, 1]),
                lambda: top_share([1, 2], np.nan)):
        with pytest.raises(errors.InvalidArgumentError):
            bad()


def test_read_and_write_take_bytes_paths_and_name_wrong_types(tmp_path):
    from pysparsegraph import errors, from_edges

    A = from_edges([0, 1], [1, 2], shape=(3, 3))
    p = str(tmp_path / "g.mtx").encode()
    io.write(A, p)
    assert np.array_equal(io.read(p).indices, A.indices)
    with pytest.raises(errors.DTypeError, match="path must be"):
        io.read(None)
    with pytest.raises(errors.DTypeError, match="path must be"):
        io.write(A, 5)

