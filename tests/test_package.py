"""Packaging facts: light import, configuration report, demo, bundled data."""
import io
import subprocess
import sys

import numpy as np

import pysparsegraph as psg


def test_import_needs_only_numpy_and_threadpoolctl(tmp_path):
    code = ("import sys, pysparsegraph; heavy = [m for m in ('scipy', 'sklearn', 'torch', 'matplotlib', "
            "'safetensors', 'tqdm', 'mpi4py') if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=tmp_path).stdout  # away from the source folder: test the installed package
    assert out.strip() == "[]"


def test_show_config_reports_openmp_cpu_and_threads():
    buf = io.StringIO()
    cfg = psg.show_config(file=buf)
    text = buf.getvalue()
    assert "built with OpenMP" in text and "effective threads" in text and "CPU SIMD features" in text
    assert cfg["effective_threads"] >= 1
    import pytest

    for bad in (5, "out.txt", object()):  # 5 gave print()'s AttributeError after the work
        with pytest.raises(psg.errors.InvalidArgumentError, match="^file must be a text stream"):
            psg.show_config(file=bad)
    if cfg["openmp_compiled"]:
        assert any("gomp" in (r["filepath"] or "") or "omp" in (r["filepath"] or "")
                   for r in cfg["openmp_runtimes"])


def test_bundled_cora_matches_published_counts():
    d = psg.datasets.load_cora()
    assert d.graph.shape == (2708, 2708) and d.graph.nnz == 10556
    assert d.features.shape == (2708, 1433) and d.features.dtype == np.float32
    assert d.num_classes == 7 and len(d.idx_train) == 140 and len(d.idx_val) == 500 and len(d.idx_test) == 1000
    S = d.graph.to_scipy()
    assert (S != S.T).nnz == 0  # PyG's Cora is symmetric


def test_demo_runs_and_agrees_with_scipy():
    lines = []
    from pysparsegraph import demo

    res = demo.run(k=16, repeats=3, out=lines.append)
    assert res["max_abs_diff"] < 1e-4
    assert any("GFLOP/s" in line for line in lines)


def test_cli_demo_subprocess(tmp_path):
    r = subprocess.run([sys.executable, "-m", "pysparsegraph", "demo", "-k", "8", "--repeats", "2"],
                       capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "pysparsegraph.spmm" in r.stdout and "scipy" in r.stdout


def test_python_dash_m_from_the_source_checkout(tmp_path):
    """``python -m pysparsegraph`` run inside the checkout imports the source
    folder first; it must still find a compiled core (its own or the installed one)."""
    import os

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    if not os.path.isdir(os.path.join(root, "pysparsegraph")):
        import pytest

        pytest.skip("not run from a source checkout")
    r = subprocess.run([sys.executable, "-m", "pysparsegraph", "config"], capture_output=True, text=True, cwd=root)
    assert r.returncode == 0, r.stderr
    assert "effective threads" in r.stdout


def test_a_pysparsegraph_isa_it_cannot_use_is_named_and_the_path_shown():
    # an unknown or unsupported PYSPARSEGRAPH_ISA was ignored without a word
    import os

    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(psg.__file__)))
    code = "import pysparsegraph as p, io; b = io.StringIO(); print(p.show_config(file=b)['spmm_isa'])"
    for value, says in (("AVX2", "is not one of"), ("avx-2", "is not one of")):
        r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           env=dict(env, PYSPARSEGRAPH_ISA=value))
        assert r.returncode == 0, r.stderr
        assert says in r.stderr and f"PYSPARSEGRAPH_ISA={value}" in r.stdout
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       env=dict(env, PYSPARSEGRAPH_ISA="generic"))
    assert r.stdout.startswith("generic") and "Warning" not in r.stderr
    buf = io.StringIO()
    psg.show_config(file=buf)
    assert f"SpMM SIMD path:     {psg.plan.active_isa()}" in buf.getvalue()


def test_omp_thread_limit_caps_the_reported_and_planned_team():
    # OMP_THREAD_LIMIT caps every team, but omp_get_max_threads() ignores it: show_config said 2 threads and
    # plans were cut for 2 while the kernels ran 1
    import os

    if not psg.show_config(file=io.StringIO())["openmp_compiled"]:
        import pytest

        pytest.skip("built without OpenMP")
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(psg.__file__)), OMP_NUM_THREADS="3",
               OMP_THREAD_LIMIT="1")
    code = ("import io, numpy as np, pysparsegraph as p; c = p.show_config(file=io.StringIO()); "
            "A = p.from_edges(np.arange(9), np.arange(9)[::-1]); p.spmm(A, np.ones((9, 4), np.float32)); "
            "print(c['effective_threads'], p.plan_spmm(A, 4).n_threads, p._core.last_team_size())")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["1", "1", "1"]
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       env=dict(env, OMP_THREAD_LIMIT="2"))
    assert r.returncode == 0, r.stderr
    assert r.stdout.split()[:2] == ["2", "2"]


def test_examples_refuse_bad_arguments_before_working():
    import os

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    if not os.path.isdir(os.path.join(root, "examples")):
        import pytest

        pytest.skip("not run from a source checkout")
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(psg.__file__)))
    for script, args in (("gcn_numpy.py", ["--epochs", "-3"]), ("gat_numpy.py", ["--epochs", "0"]),
                         ("minilm_prune.py", ["--sparsity", "0.5,abc"]), ("minilm_prune.py", ["--threads", "0"]),
                         ("sgc_pipeline.py", ["--bogus"])):
        r = subprocess.run([sys.executable, os.path.join(root, "examples", script), *args], capture_output=True,
                           text=True, env=env, timeout=120)
        assert r.returncode == 2 and "Traceback" not in r.stderr, (script, args, r.stderr)
