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

from pydantic import Field, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

# Bump when cleaning or chunking code changes what ends up in the index, so old indexes are
# never silently reused (the fingerprint below includes it).
PIPELINE_VERSION = 3

INDEX_FOLDER_NAME = ".newsdesk"


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
        description="Embedding model: `minilm` (embedded all-MiniLM-L6-v2, offline).",
    )
    embed_threads: int | None = Field(
        None, ge=1, description="CPU threads for the embedded model; default: onnxruntime's choice."
    )
    embed_batch_size: int = Field(32, ge=1, description="Texts per embedding batch.")
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
    llm: Literal["auto", "ollama", "extractive"] = Field(
        "auto",
        description="`extractive` quotes the passages; `ollama` generates with Ollama; `auto` "
        "generates when Ollama is reachable and quotes otherwise.",
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
        if value != "minilm":
            raise ValueError(f"unknown embedding model {value!r}; use 'minilm'")
        return value

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
    def fingerprint(self) -> str:
        """Short hash of every setting that changes what is stored in the index."""
        keyed = {
            "pipeline": PIPELINE_VERSION,
            "embed": self.embed,
            "chunk_size": self.chunk_size,
            "chunk_overlap": self.chunk_overlap,
        }
        return hashlib.sha256(json.dumps(keyed, sort_keys=True).encode()).hexdigest()[:10]
