"""Dispatcher: ``python -m bench <subcommand> [options]``.

Each subcommand is a module of this folder exposing ``main(argv)``. Register a
new one in SUBCOMMANDS (module name, one-line description).
"""
import importlib
import sys

SUBCOMMANDS = {
    "spmm": ("bench.spmm", "SpMM of pysparsegraph beside scipy.sparse on one or more graphs"),
    "gnn": ("bench.gnn", "GNN kernels: transpose/forward ratio, reducers, sddmm, edge softmax vs peers"),
    "io": ("bench.io", "graph file reading speed and peak memory, mmap load, reordering speedups"),
    "suite": ("bench.suite", "SpMM suite: real + generated graphs, every installed peer, ceilings, ablation, plot"),
    "propagation": ("bench.propagation", "SGC propagation S^k X (pysparsegraph.sklearn) beside scipy.sparse"),
    "model": ("bench.model", "pruned linear layers (MiniLM FFN shapes) and the Sparse DNN Graph Challenge vs peers"),
}


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in SUBCOMMANDS:
        unknown = bool(argv) and argv[0] not in ("-h", "--help")
        out = sys.stderr if unknown else sys.stdout
        print("usage: python -m bench <subcommand> [options]\n\nsubcommands:", file=out)
        for name, (_, desc) in SUBCOMMANDS.items():
            print(f"  {name:14s} {desc}", file=out)
        if unknown:
            print(f"python -m bench: error: unknown subcommand {argv[0]!r}", file=sys.stderr)
        return 2 if unknown else 0
    module = importlib.import_module(SUBCOMMANDS[argv[0]][0])
    return module.main(argv[1:]) or 0


if __name__ == "__main__":
    sys.exit(main())
