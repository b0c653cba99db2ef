"""WebGraph BVGraph reader (``BASENAME.graph`` + ``BASENAME.properties``), as
the Laboratory for Web Algorithmics (LAW) distributes graphs. Decoded in C by
an implementation of the published format (Boldi & Vigna, WWW 2004): gamma,
delta, unary and zeta_k codes, references within a window, copy blocks,
intervals and residuals. See ``src/bvgraph.c`` for the layout."""
import os

import numpy as np

from pysparsegraph import _core, errors
from pysparsegraph.matrix import CSRMatrix

_CODES = {"GAMMA": 0, "DELTA": 1, "ZETA": 2, "UNARY": 3}
_DEFAULTS = {"OUTDEGREES": "GAMMA", "REFERENCES": "UNARY", "BLOCKS": "GAMMA", "INTERVALS": "GAMMA",
             "RESIDUALS": "ZETA", "OFFSETS": "GAMMA", "BLOCK_COUNT": "GAMMA"}
COUNTER_KEYS = ("copiedarcs", "intervalisedarcs", "residualarcs", "bitsforoutdegrees", "bitsforreferences",
                "bitsforblocks", "bitsforintervals", "bitsforresiduals")


def read_properties(path):
    """A Java ``.properties`` file as a dict of strings."""
    props = {}
    with open(path, "r", encoding="latin-1") as fh:
        for line in fh:
            s = line.strip()
            if not s or s[0] in "#!":
                continue
            for sep in ("=", ":"):
                if sep in s:
                    k, v = s.split(sep, 1)
                    props[k.strip()] = v.strip()
                    break
    return props


def _params(props, path):
    def num(key, default=None, bits=32):
        """The integer under ``key``, within the C type (int, or int64 for counts) it goes into."""
        if key not in props:
            if default is None:
                raise errors.FormatError(f"{path}: missing '{key}'")
            return default
        try:
            v = int(props[key])
        except ValueError:
            raise errors.FormatError(f"{path}: '{key}' is not an integer: {props[key]!r}") from None
        if not -2 ** (bits - 1) <= v < 2 ** (bits - 1):
            raise errors.FormatError(f"{path}: '{key}' = {v} is out of range (a {bits}-bit integer)")
        return v

    cls = props.get("graphclass", "")
    if cls and not cls.endswith("BVGraph"):
        raise errors.UnsupportedError(f"{path}: graphclass {cls} is not a BVGraph")
    if num("version", 0) != 0:
        raise errors.UnsupportedError(f"{path}: BVGraph version {props['version']} is not supported (only 0)")
    codes = dict(_DEFAULTS)
    flags = props.get("compressionflags", "").strip()
    for flag in filter(None, (f.strip() for f in flags.split("|"))):
        what, _, code = flag.rpartition("_")
        if what not in codes:
            raise errors.FormatError(f"{path}: unknown compression flag {flag!r}")
        codes[what] = code
    for what, code in codes.items():
        if what == "OFFSETS":
            continue
        if code not in _CODES or (what == "INTERVALS" and code != "GAMMA"):
            raise errors.UnsupportedError(f"{path}: {what} coded with {code} is not supported")
    return dict(n_nodes=num("nodes", bits=64), n_arcs=num("arcs", bits=64), window_size=num("windowsize"),
                max_ref_count=num("maxrefcount", -1), min_interval_length=num("minintervallength"),
                zeta_k=num("zetak", 3), c_out=_CODES[codes["OUTDEGREES"]], c_ref=_CODES[codes["REFERENCES"]],
                c_blk=_CODES[codes["BLOCKS"]], c_res=_CODES[codes["RESIDUALS"]],
                c_bcount=_CODES[codes["BLOCK_COUNT"]])


def read_bvgraph(basename, *, return_counters=False):
    """Reads ``basename.graph`` with ``basename.properties`` into a
    :class:`CSRMatrix` (directed, unweighted; row = source).

    ``return_counters=True`` also returns a dict with the decoder's counts of
    copied / intervalised / residual arcs and bits per component, named like
    the ``.properties`` statistics they can be checked against. The
    ``.offsets`` file is not needed (the stream is decoded front to back)."""
    basename = os.fspath(basename)
    for suf in (".graph", ".properties"):
        if basename.endswith(suf):
            basename = basename[: -len(suf)]
    ppath, gpath = basename + ".properties", basename + ".graph"
    for p in (ppath, gpath):
        if not os.path.exists(p):
            raise errors.MissingFileError(f"{p}: missing BVGraph file")
    props = read_properties(ppath)
    params = _params(props, ppath)
    data = np.fromfile(gpath, dtype=np.uint8)
    try:
        indptr, indices, cnt = _core.bvgraph_decode(data, **params)
    except errors.PSGError as exc:
        raise type(exc)(f"{gpath}: {exc}") from None
    n = params["n_nodes"]
    g = CSRMatrix._trusted(indptr, indices, None, (n, n))
    if return_counters:
        return g, dict(zip(COUNTER_KEYS, cnt))
    return g
