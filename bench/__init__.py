"""Benchmark harness of pysparsegraph (not part of the installed package).

Run from a checkout: ``python -m bench <subcommand> --help``.
"""
