"""The baseline: LlamaIndex's default pipeline with newsdesk's embedding model.

What a developer gets from the LlamaIndex starter example pointed at Chroma:
SimpleDirectoryReader, the default SentenceSplitter (1,024 tokens, 200 overlap), a
VectorStoreIndex over a persistent Chroma collection, the default retriever (top 2) and the
default query engine. The embedding model is the same all-MiniLM-L6-v2 (rag.embed), wrapped
as a llama-index BaseEmbedding by the evaluation's adapter (rag.eval.baseline) with newsdesk's
batch size, so the comparison measures the pipelines around the model, not two models. The
query engine gets MockLLM: there is no LLM here, and MockLLM costs nothing, so its time is
the framework's own answer path.

Run as `python -m benchmarks.baseline ask CHROMA_DIR QUESTION` for the cold-start figure, and
as `python -m benchmarks.baseline ingest CORPUS CHROMA_DIR` for a whole-process ingest (imports
and model load included, like `rag ingest`; benchmarks/real.py times it). Both take the model's
threads from RAG_EMBED_THREADS, as newsdesk does.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llama_index.core import SimpleDirectoryReader, StorageContext, VectorStoreIndex
from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.llms import MockLLM
from llama_index.core.node_parser import SentenceSplitter
from llama_index.core.schema import MetadataMode
from llama_index.vector_stores.chroma import ChromaVectorStore

from rag.eval.baseline import LlamaIndexEmbedding

if TYPE_CHECKING:
    from rag.index import Embedder

COLLECTION = "baseline"
# newsdesk embeds 32 texts per call (Settings.embed_batch_size); llama-index's default of 10
# would make the baseline slower for a reason that has nothing to do with the pipeline.
EMBED_BATCH_SIZE = 32


def embed_model(embedder: Embedder) -> LlamaIndexEmbedding:
    """rag.embed.MiniLMEmbedder (or a stand-in with its `embed`) as a llama-index model."""
    return LlamaIndexEmbedding(embedder, embed_batch_size=EMBED_BATCH_SIZE)


def _chroma(folder: Path) -> ChromaVectorStore:
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    client = chromadb.PersistentClient(
        path=str(folder), settings=ChromaSettings(anonymized_telemetry=False)
    )
    return ChromaVectorStore(chroma_collection=client.get_or_create_collection(COLLECTION))


def _read(corpus: Path) -> list[Any]:
    # The benchmark's corpora sit under benchmarks/.cache, and the reader skips any path
    # with a hidden folder in it; the corpora themselves hold no hidden files.
    return SimpleDirectoryReader(str(corpus), exclude_hidden=False).load_data()


def embed_texts(corpus: Path) -> list[str]:
    """The texts the default pipeline embeds for `corpus` (for the raw model figure)."""
    nodes = SentenceSplitter().get_nodes_from_documents(_read(corpus))
    return [node.get_content(metadata_mode=MetadataMode.EMBED) for node in nodes]


def ingest(corpus: Path, chroma_dir: Path, embed_model: BaseEmbedding) -> VectorStoreIndex:
    """Files to a queryable index, the default way."""
    documents = _read(corpus)
    storage = StorageContext.from_defaults(vector_store=_chroma(chroma_dir))
    return VectorStoreIndex.from_documents(
        documents, storage_context=storage, embed_model=embed_model
    )


def open_index(chroma_dir: Path, embed_model: BaseEmbedding) -> VectorStoreIndex:
    """The index written by `ingest`, as a new process would open it."""
    return VectorStoreIndex.from_vector_store(_chroma(chroma_dir), embed_model=embed_model)


def query_engine(index: VectorStoreIndex) -> Any:
    return index.as_query_engine(llm=MockLLM())


def _model() -> LlamaIndexEmbedding:
    """newsdesk's float model with newsdesk's settings (cache, threads), as a llama-index model."""
    from rag.config import Settings
    from rag.embed import MiniLMEmbedder

    settings = Settings()
    return embed_model(MiniLMEmbedder(settings.cache_dir, threads=settings.embed_threads))


def _ask(chroma_dir: str, question: str) -> None:
    index = open_index(Path(chroma_dir), _model())
    response = query_engine(index).query(question)
    print(response.source_nodes[0].node.get_content()[:200] if response.source_nodes else "")


def _ingest(corpus: str, chroma_dir: str) -> None:
    index = ingest(Path(corpus), Path(chroma_dir), _model())
    print(f"{index.vector_store.client.count()} chunks")


USAGE = (
    "usage: python -m benchmarks.baseline ask CHROMA_DIR QUESTION\n"
    "       python -m benchmarks.baseline ingest CORPUS CHROMA_DIR"
)

if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "ask":
        _ask(sys.argv[2], sys.argv[3])
    elif len(sys.argv) == 4 and sys.argv[1] == "ingest":
        _ingest(sys.argv[2], sys.argv[3])
    else:
        sys.exit(USAGE)
