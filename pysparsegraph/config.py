"""Build and runtime configuration report."""
import platform
import sys

import numpy as np

from pysparsegraph import _core, errors


def _openmp_runtimes():
    try:
        from threadpoolctl import threadpool_info
    except ImportError:  # pragma: no cover - threadpoolctl is a dependency
        return []
    return [i for i in threadpool_info() if i.get("user_api") == "openmp"]


def config_dict():
    """The facts ``show_config`` prints, as a dict."""
    from pysparsegraph import __version__

    return {
        "pysparsegraph": __version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "numpy": np.__version__,
        "openmp_compiled": _core.has_openmp(),
        "openmp_runtimes": [{k: r.get(k) for k in ("internal_api", "filepath", "version", "num_threads")}
                            for r in _openmp_runtimes()],
        "cpu_features": _core.cpu_features(),
        "effective_threads": _core.max_threads(),
        "spmm_isa": _spmm_isa(),
        "cache_bytes": {"l1d": _core.cache_bytes(1), "l2": _core.cache_bytes(2), "last": _core.cache_bytes(0)},
    }


def _spmm_isa():
    from pysparsegraph.plan import active_isa
    import os

    forced = os.environ.get("PYSPARSEGRAPH_ISA")
    return active_isa() + (f" (PYSPARSEGRAPH_ISA={forced})" if forced else "")


def show_config(file=None):
    """Prints versions, the OpenMP runtime, CPU SIMD features and the thread
    count kernels would use now (``n_threads=None``). Returns the dict."""
    out = sys.stdout if file is None else file
    if not callable(getattr(out, "write", None)):
        raise errors.InvalidArgumentError(f"file must be a text stream with a write method, got {file!r}")
    cfg = config_dict()
    print(f"pysparsegraph {cfg['pysparsegraph']}  (python {cfg['python']}, numpy {cfg['numpy']})", file=out)
    print(f"platform:           {cfg['platform']}", file=out)
    omp = "yes" if cfg["openmp_compiled"] else "NO - the C core runs single-threaded"
    print(f"built with OpenMP:  {omp}", file=out)
    for r in cfg["openmp_runtimes"]:
        print(f"OpenMP runtime:     {r['internal_api']} {r['version']} at {r['filepath']} "
              f"(num_threads={r['num_threads']})", file=out)
    print(f"CPU SIMD features:  {' '.join(cfg['cpu_features']) or 'none detected'}", file=out)
    print(f"effective threads:  {cfg['effective_threads']}", file=out)
    print(f"SpMM SIMD path:     {cfg['spmm_isa']}", file=out)
    c = cfg["cache_bytes"]
    print(f"caches:             L1d {c['l1d'] >> 10} KiB and L2 {c['l2'] >> 10} KiB per core, last level "
          f"{c['last'] >> 10} KiB (as the SpMM planner assumes)", file=out)
    return cfg
