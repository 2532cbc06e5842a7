"""One settings object for the CLI, the app and the tests.

Values come, highest first, from keyword arguments, `RAG_*` environment variables, a `rag.toml`
file in the working directory, then the defaults below. Nothing else in the package reads
`os.environ`.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit, urlunsplit

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

# Bump when cleaning or chunking code changes what ends up in the index, so old indexes are
# never silently reused (the fingerprint below includes it).
PIPELINE_VERSION = 8

INDEX_FOLDER_NAME = ".newsdesk"
# The app's conversations and the accounts, in the data folder (the index folder unless
# RAG_DATA_DIR is set). One file: `rag ingest --rebuild` carries it over into the new index
# folder, and accounts kept in a file of their own would be dropped there, opening the app.
CONVERSATIONS_FILE = "conversations.sqlite3"
OLLAMA_EMBED_PREFIX = "ollama:"
MINILM_INT8 = "minilm-int8"
_OLLAMA_PORT = 11434


class Settings(BaseSettings):
    """Every tunable of newsdesk, with its environment variable `RAG_<NAME>`."""

    model_config = SettingsConfigDict(
        env_prefix="RAG_", toml_file="rag.toml", extra="ignore", validate_default=True
    )

    corpus_dir: Path = Field(
        Path("corpus"), description="Folder of articles to index (.txt, .md, .html)."
    )
    index_dir: Path | None = Field(
        None,
        description="Where the index of corpus_dir lives; default: a hidden "
        f"`{INDEX_FOLDER_NAME}` folder inside corpus_dir, so two corpora never share one.",
    )
    cache_dir: Path = Field(
        Path.home() / ".cache" / "newsdesk",
        description="Cache for derived model files (the ONNX graph of the embedding model).",
    )
    data_dir: Path | None = Field(
        None,
        description="Where the app keeps conversations and accounts (conversations.sqlite3); "
        "default: the index folder.",
    )
    session_hours: float = Field(
        12,
        gt=0,
        description="Hours a login to the app lasts before its user must log in again (API "
        "tokens last until `rag users revoke`).",
    )
    results_dir: Path = Field(
        Path("eval/results"),
        description="Where `rag eval` writes its report folders (unless --results-dir is given) "
        "and `latest.json`, which the app's Evaluation page reads.",
    )
    bench_dir: Path = Field(
        Path(__file__).resolve().parent.parent.parent / "shared" / "bench",
        description="Benchmark data written by other people (RGB, BBC) that `rag eval --set` "
        "reads; it is never copied into the repository, and the sets' indexes go under "
        "cache_dir/bench. Default: `../shared/bench` from the repository's root, where CI has "
        "it too.",
    )
    max_file_mb: float = Field(
        20, gt=0, description="Files larger than this many megabytes are skipped at ingest."
    )
    chroma_host: str | None = Field(
        None,
        description="Chroma server host (`chroma run`); default: an embedded Chroma stored in "
        "index_dir.",
    )
    chroma_port: int = Field(8000, ge=1, le=65535, description="Chroma server port.")
    embed: str = Field(
        "minilm",
        description="Embedding model: `minilm` (embedded all-MiniLM-L6-v2, offline), "
        f"`{MINILM_INT8}` (its int8-quantized copy: faster, vectors slightly different) or "
        "`ollama:MODEL` (e.g. `ollama:nomic-embed-text`, served by Ollama at ollama_host). "
        "Each model gets its own index.",
    )
    embed_threads: int | None = Field(
        None, ge=1, description="CPU threads for the embedded model; default: onnxruntime's choice."
    )
    embed_batch_size: int = Field(32, ge=1, description="Texts per embedding batch.")
    store_batch_size: int = Field(
        1024,
        ge=1,
        description="Embedded chunks written to Chroma per call. Each call has a fixed cost "
        "(about 60 ms embedded), so large batches speed up ingest; a killed ingest redoes "
        "at most the files not yet marked complete.",
    )
    chunk_size: int = Field(
        160,
        ge=32,
        le=240,
        description="Chunk size in word pieces of the embedding model. all-MiniLM-L6-v2 reads "
        "256 at most, and the article title is put in front of each chunk.",
    )
    chunk_overlap: int = Field(32, ge=0, description="Word pieces shared by adjacent chunks.")
    top_k: int = Field(5, ge=1, le=50, description="Passages returned by retrieval.")
    candidates: int = Field(
        30, ge=1, description="Candidates each retriever (BM25, dense) proposes before fusion."
    )
    rrf_k: int = Field(
        60, ge=1, description="Reciprocal rank fusion constant (Cormack et al. use 60)."
    )
    duplicate_overlap: float = Field(
        0.5,
        gt=0,
        le=1,
        description="Share of content words (Jaccard) two passages must share to count as "
        "copies of one story; copies collapse into one hit that keeps every source file.",
    )
    min_support: float = Field(
        0.5,
        ge=0,
        le=1,
        description="Share of the question's idf-weighted terms a passage must contain for the "
        "extractive answerer to answer; below it, it abstains.",
    )
    llm: Literal["auto", "ollama", "openai", "extractive"] = Field(
        "auto",
        description="`extractive` quotes the passages; `ollama` generates with Ollama; `openai` "
        "with the OpenAI-compatible server at openai_base_url; `auto` with Ollama when it "
        "answers, else with that server when one is set and answers, and quotes otherwise.",
    )
    # Read from OLLAMA_HOST, the variable Ollama's own tools use, not RAG_OLLAMA_HOST.
    ollama_host: str = Field(
        f"http://127.0.0.1:{_OLLAMA_PORT}",
        validation_alias=AliasChoices("OLLAMA_HOST", "ollama_host"),
        description="Ollama server (env OLLAMA_HOST), e.g. `http://127.0.0.1:11434` or "
        "`gpu-box:11434`.",
    )
    ollama_model: str = Field(
        "llama3.2:3b",
        min_length=1,
        description="Ollama model that writes the answers (`ollama pull` it first).",
    )
    openai_base_url: str = Field(
        "",
        description="An OpenAI-compatible server (llama.cpp's llama-server, LM Studio, vLLM, "
        "LocalAI), e.g. `http://127.0.0.1:8080/v1`; `/v1` is added to an address without a "
        "path.",
    )
    openai_model: str = Field(
        "",
        description="The model the OpenAI-compatible server answers with; empty: the first "
        "it lists.",
    )
    openai_api_key: SecretStr = Field(
        SecretStr(""),
        description="API key for the OpenAI-compatible server, if it asks for one (sent as "
        "`Authorization: Bearer`; never shown or written to results).",
    )
    ollama_timeout: float = Field(
        120.0,
        gt=0,
        description="Seconds the LLM server (Ollama or OpenAI-compatible) may take to start "
        "answering, or stay silent mid-answer, "
        "before the request is given up (a small model on a laptop CPU needs tens of seconds "
        "to read the passages).",
    )
    ollama_max_output: int = Field(
        512,
        ge=16,
        description="Most tokens the model may write in one answer (Ollama's num_predict, an "
        "OpenAI-compatible server's max_tokens).",
    )
    answer_time_limit: float = Field(
        60.0,
        gt=0,
        description="Seconds the model may spend writing one answer; it is stopped there, and "
        "what it wrote by then is checked like any answer.",
    )
    ollama_max_context: int = Field(
        32768,
        ge=2048,
        description="Largest context window (num_ctx) to ask Ollama for. The window is sized "
        "to each prompt; a prompt that would not fit is refused rather than cut.",
    )
    ollama_temperature: float = Field(
        0.1,
        ge=0,
        le=2,
        description="Sampling temperature (both servers): low keeps the model to the passages.",
    )
    claim_min_similarity: float = Field(
        0.4,
        ge=-1,
        le=1,
        description="Cosine similarity (embedding model) an answer sentence needs with a sentence "
        "of a passage it cites to count as supported by it.",
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls))

    @field_validator("embed")
    @classmethod
    def _known_embedder(cls, value: str) -> str:
        if value in ("minilm", MINILM_INT8) or (
            value.startswith(OLLAMA_EMBED_PREFIX) and value[len(OLLAMA_EMBED_PREFIX) :].strip()
        ):
            return value
        raise ValueError(
            f"unknown embedding model {value!r}; use 'minilm', '{MINILM_INT8}' or "
            f"'{OLLAMA_EMBED_PREFIX}MODEL' (e.g. 'ollama:nomic-embed-text')"
        )

    @field_validator("ollama_host")
    @classmethod
    def _host_url(cls, value: str) -> str:
        # Read the way Ollama's own client reads it: empty means the default, no scheme means
        # http on port 11434, an explicit http:// or https:// without a port means 80 or 443.
        url = value.strip().rstrip("/") or f"http://127.0.0.1:{_OLLAMA_PORT}"
        default_port = None
        if "://" not in url:
            url, default_port = f"http://{url}", _OLLAMA_PORT
        parts = urlsplit(url)
        try:
            port = parts.port
        except ValueError:
            port = -1
        if parts.scheme not in ("http", "https") or not parts.hostname or port == -1:
            raise ValueError(
                f"OLLAMA_HOST {value!r} is not a server address; e.g. http://127.0.0.1:11434"
            )
        if port is None and default_port:
            url = urlunsplit(parts._replace(netloc=f"{parts.netloc}:{default_port}"))
        return url

    @field_validator("openai_base_url")
    @classmethod
    def _openai_url(cls, value: str) -> str:
        url = value.strip().rstrip("/")
        if not url:
            return ""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(
                f"RAG_OPENAI_BASE_URL {value!r} is not a server address; e.g. "
                "http://127.0.0.1:8080/v1"
            )
        # Such servers answer under /v1; an address given without a path means that.
        return url if parts.path else f"{url}/v1"

    @model_validator(mode="after")
    def _overlap_below_size(self) -> Settings:
        if self.chunk_overlap >= self.chunk_size:
            raise ValueError(
                f"chunk_overlap ({self.chunk_overlap}) must be smaller than "
                f"chunk_size ({self.chunk_size})"
            )
        return self

    @property
    def index_path(self) -> Path:
        """The folder holding this corpus's index."""
        return self.index_dir or self.corpus_dir / INDEX_FOLDER_NAME

    @property
    def data_path(self) -> Path:
        """The folder holding the app's conversations and accounts."""
        return self.data_dir or self.index_path

    @property
    def fingerprint(self) -> str:
        """Short hash of every setting that changes what is stored in the index."""
        keyed = {
            "pipeline": PIPELINE_VERSION,
            "embed": self.embed,
            "chunk_size": self.chunk_size,
            "chunk_overlap": self.chunk_overlap,
        }
        return hashlib.sha256(json.dumps(keyed, sort_keys=True).encode()).hexdigest()[:10]
