"""Command line: ``pysparsegraph`` / ``python -m pysparsegraph``."""
import argparse
import os
import subprocess
import sys
import time


def _read_any(path, args):
    from pysparsegraph import io

    kw = {}
    fmt = getattr(args, "format", None) or io.detect_format(path)
    if fmt in ("edgelist", "mtx", "pace"):
        kw["progress"] = not args.quiet and sys.stderr.isatty()  # a bar in a log only garbles it
        if fmt == "edgelist" and getattr(args, "symmetrize", False):
            kw["symmetrize"] = True
    g = io.read(path, format=fmt, **kw)
    if getattr(args, "symmetrize", False) and fmt != "edgelist":
        g = _symmetrized(g, path)
    return g


def _symmetrized(g, path):
    """``g`` with (c, r) added for every entry (r, c), as an edge list read with
    --symmetrize gives: a pair stored both ways sums (read_edgelist's duplicates="sum").
    A matrix that is symmetric already (a MatrixMarket "symmetric" file, which
    the reader expands) is returned as it is: summing would double its weights."""
    import numpy as np

    from pysparsegraph import errors, from_edges

    if g.shape[0] != g.shape[1]:
        raise errors.ShapeMismatchError(f"{path}: --symmetrize needs a square matrix, this one is "
                                        f"{g.shape[0]} x {g.shape[1]}")
    src, dst, w = g.to_edges()
    a = from_edges(src, dst, w, shape=g.shape, duplicates="keep")  # sorted rows: comparable
    t = from_edges(dst, src, w, shape=g.shape, duplicates="keep")
    same = (np.array_equal(a.indptr, t.indptr) and np.array_equal(a.indices, t.indices)
            and (w is None or np.array_equal(a.values, t.values, equal_nan=True)))
    return g if same else from_edges(src, dst, w, shape=g.shape, symmetrize=True)


def _cmd_info(args):
    from pysparsegraph.graphinfo import format_info, graph_info, plot_degrees

    plot = args.plot
    if plot:
        if not os.path.splitext(plot)[1]:
            plot += ".png"  # what matplotlib writes for a name without a suffix
        if os.path.isdir(plot) or (os.path.isfile(args.file) and os.path.isfile(plot)
                                   and os.path.samefile(args.file, plot)):
            print(f"pysparsegraph info: --plot {plot} is {'a folder' if os.path.isdir(plot) else 'the input file'}; "
                  "name an image file elsewhere", file=sys.stderr)
            return 2
    t = time.perf_counter()
    g = _read_any(args.file, args)
    dt = time.perf_counter() - t
    info = graph_info(g)
    print(format_info(info, f"{args.file}  (read in {dt:.3f} s)"))
    if plot:
        try:
            plot_degrees(info, plot, os.path.basename(args.file))
        except ImportError:
            print("pysparsegraph info: --plot needs matplotlib (pip install matplotlib)", file=sys.stderr)
            return 1
        except ValueError as exc:  # matplotlib: an image format it cannot write
            print(f"pysparsegraph info: --plot {plot}: {exc}", file=sys.stderr)
            return 1
        print(f"  degree plot written to {plot}")
    return 0


def _cmd_convert(args):
    from pysparsegraph import io

    # (a BVGraph basename or a Planetoid folder name is no single file: only files compare)
    if os.path.isfile(args.input) and os.path.isfile(args.output) and os.path.samefile(args.input, args.output):
        print(f"pysparsegraph convert: {args.output} is the input file; write the result elsewhere",
              file=sys.stderr)
        return 2
    t = time.perf_counter()
    g = _read_any(args.input, args)
    t1 = time.perf_counter()
    io.write(g, args.output)
    t2 = time.perf_counter()
    if not args.quiet:
        print(f"{args.input} -> {args.output}: {g.shape[0]:,} x {g.shape[1]:,}, {g.nnz:,} entries "
              f"(read {t1 - t:.3f} s, write {t2 - t1:.3f} s)")
    return 0


def _cmd_bench(rest):
    """Forwards to ``python -m bench`` (the harness in the source tree's bench/)."""
    try:
        import bench  # noqa: F401
    except ImportError:
        print("pysparsegraph bench: the benchmark harness (bench/) is part of the source tree, not the installed "
              "package; run this from a checkout (e.g. `cd pysparsegraph && python -m bench ...`)", file=sys.stderr)
        return 2
    return subprocess.call([sys.executable, "-m", "bench", *rest])


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["bench"]:
        return _cmd_bench(argv[1:])
    parser = argparse.ArgumentParser(prog="pysparsegraph", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p_demo = sub.add_parser("demo", help="SpMM on the bundled Cora graph beside scipy.sparse")
    p_demo.add_argument("-k", type=int, default=64, help="feature width K (default 64)")
    p_demo.add_argument("--repeats", type=int, default=50, help="timed repetitions (median reported)")
    sub.add_parser("config", help="print build and runtime configuration")
    fmts = ["native", "npz", "mtx", "edgelist", "pace", "bvgraph", "planetoid"]
    p_info = sub.add_parser("info", help="nodes, edges, degree statistics and memory per format of a graph file")
    p_info.add_argument("file")
    p_info.add_argument("--format", choices=fmts, help="input format (default: from the file name)")
    p_info.add_argument("--symmetrize", action="store_true",
                        help="store both directions of every edge (a pair given both ways sums; a symmetric "
                             "matrix is kept as it is)")
    p_info.add_argument("--plot", metavar="PNG", help="write a log-log degree distribution plot")
    p_info.add_argument("--quiet", action="store_true", help="no progress bar")
    p_conv = sub.add_parser("convert", help="convert between formats (.psg .npz .mtx[.gz] .txt[.gz] ...)")
    p_conv.add_argument("input")
    p_conv.add_argument("output")
    p_conv.add_argument("--format", choices=fmts, help="input format (default: from the file name)")
    p_conv.add_argument("--symmetrize", action="store_true",
                        help="store both directions of every edge (a pair given both ways sums; a symmetric "
                             "matrix is kept as it is)")
    p_conv.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    sub.add_parser("bench", help="run the benchmark harness (python -m bench ...)")
    args = parser.parse_args(argv)
    if args.command == "demo":
        from pysparsegraph import demo

        if args.k < 1 or args.repeats < 1:
            p_demo.error("-k and --repeats must be positive")
        try:
            demo.run(k=args.k, repeats=args.repeats)
        except (MemoryError, ValueError) as exc:  # a K whose features do not fit (the library's errors are ValueErrors)
            print(f"pysparsegraph demo: -k {args.k}: {type(exc).__name__}: {exc}", file=sys.stderr)
            return 1
    elif args.command == "config":
        from pysparsegraph import show_config

        show_config()
    elif args.command in ("info", "convert"):
        from pysparsegraph import errors

        try:
            return _cmd_info(args) if args.command == "info" else _cmd_convert(args)
        except (errors.PSGError, OSError) as exc:
            # the library's hints name keyword arguments; here they are options
            msg = str(exc).replace("format=", "--format ")
            print(f"pysparsegraph {args.command}: {msg}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
