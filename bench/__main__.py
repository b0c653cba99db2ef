"""Dispatcher: ``python -m bench <subcommand> [options]``.

Each subcommand is a module of this folder exposing ``main(argv)``. Register a
new one in SUBCOMMANDS (module name, one-line description).
"""
import importlib
import sys

SUBCOMMANDS = {
    "spmm": ("bench.spmm", "SpMM of pysparsegraph beside scipy.sparse on one or more graphs"),
    "suite": ("bench.suite", "SpMM suite: real + generated graphs, every installed peer, ceilings, ablation, plot"),
    "propagation": ("bench.propagation", "SGC propagation S^k X (pysparsegraph.sklearn) beside scipy.sparse"),
}


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in SUBCOMMANDS:
        print("usage: python -m bench <subcommand> [options]\n\nsubcommands:")
        for name, (_, desc) in SUBCOMMANDS.items():
            print(f"  {name:14s} {desc}")
        return 0 if argv and argv[0] in ("-h", "--help") else (2 if argv else 0)
    module = importlib.import_module(SUBCOMMANDS[argv[0]][0])
    return module.main(argv[1:]) or 0


if __name__ == "__main__":
    sys.exit(main())
