"""Command line: ``pysparsegraph`` / ``python -m pysparsegraph``."""
import argparse
import sys


def main(argv=None):
    parser = argparse.ArgumentParser(prog="pysparsegraph", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p_demo = sub.add_parser("demo", help="SpMM on the bundled Cora graph beside scipy.sparse")
    p_demo.add_argument("-k", type=int, default=64, help="feature width K (default 64)")
    p_demo.add_argument("--repeats", type=int, default=50, help="timed repetitions (median reported)")
    sub.add_parser("config", help="print build and runtime configuration")
    args = parser.parse_args(argv)
    if args.command == "demo":
        from pysparsegraph import demo

        if args.k < 1 or args.repeats < 1:
            parser.error("-k and --repeats must be positive")
        demo.run(k=args.k, repeats=args.repeats)
    elif args.command == "config":
        from pysparsegraph import show_config

        show_config()
    return 0


if __name__ == "__main__":
    sys.exit(main())
