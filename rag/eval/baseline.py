"""LlamaIndex's out-of-the-box pipeline over the same corpus and embedding model.

The yardstick for "do we do better": `SimpleDirectoryReader`, the default `SentenceSplitter`
(1,024 tokens), a `VectorStoreIndex` over an in-memory Chroma collection, dense top-2
retrieval, and the default response synthesis when an LLM is given. Without an LLM its
answer is the retrieved text, which is what a reader of that pipeline would be shown.
"""

from __future__ import annotations

import time
from collections.abc import Generator, Sequence
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from llama_index.core.constants import DEFAULT_EMBED_BATCH_SIZE
from llama_index.core.embeddings import BaseEmbedding
from pydantic import PrivateAttr

from rag.types import ANY_DATE, Answer, AnswerStream, Chunk, Citation, DateRange, Hit

if TYPE_CHECKING:
    from rag.index import Embedder

BASELINE_TOP_K = 2  # LlamaIndex's default similarity_top_k
MODE = "llamaindex-default"


class LlamaIndexEmbedding(BaseEmbedding):
    """Our embedding model behind llama-index's embedding interface (same vectors); used by
    the evaluation baseline and by benchmarks/baseline.py."""

    _embedder: Embedder = PrivateAttr()

    def __init__(
        self, embedder: Embedder, embed_batch_size: int = DEFAULT_EMBED_BATCH_SIZE
    ) -> None:
        super().__init__(model_name=embedder.name, embed_batch_size=embed_batch_size)
        self._embedder = embedder

    def _get_query_embedding(self, query: str) -> list[float]:
        return self._get_text_embedding(query)

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._get_text_embeddings([text])[0]

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        # numpy's tolist() is typed Any; a 2-D float array gives lists of floats.
        return cast(list[list[float]], self._embedder.embed(texts).tolist())

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._get_query_embedding(query)


class Baseline:
    """The default LlamaIndex pipeline, answering through the same `Answer` record as ours."""

    def __init__(self, corpus_dir: Path, embedder: Embedder, llm: Any = None) -> None:
        import chromadb
        from llama_index.core import SimpleDirectoryReader, StorageContext, VectorStoreIndex
        from llama_index.vector_stores.chroma import ChromaVectorStore

        documents = SimpleDirectoryReader(str(corpus_dir), recursive=True).load_data()
        collection = chromadb.EphemeralClient().get_or_create_collection(
            f"baseline-{time.monotonic_ns()}"
        )
        storage = StorageContext.from_defaults(
            vector_store=ChromaVectorStore(chroma_collection=collection)
        )
        self._index = VectorStoreIndex.from_documents(
            documents, storage_context=storage, embed_model=LlamaIndexEmbedding(embedder)
        )
        self._corpus = corpus_dir.resolve()
        self._llm = llm
        self.model = getattr(llm, "model", None)

    def stream(
        self,
        question: str,
        history: Sequence[str] = (),
        dates: DateRange = ANY_DATE,
        as_of: date | None = None,
    ) -> AnswerStream:
        """Answer like LlamaIndex's default query engine would: history, date ranges and
        as-of dates are not used, as its defaults have none of them."""
        return AnswerStream(self._pieces(question))

    def _pieces(self, question: str) -> Generator[str, None, Answer]:
        started = time.perf_counter()
        retriever = self._index.as_retriever(similarity_top_k=BASELINE_TOP_K)
        nodes = retriever.retrieve(question)
        if self._llm is None:
            text = "\n\n".join(node.node.get_content() for node in nodes)
        else:
            engine = self._index.as_query_engine(llm=self._llm, similarity_top_k=BASELINE_TOP_K)
            text = str(engine.query(question))
        yield text
        hits = tuple(Hit(self._chunk(node), float(node.score or 0.0)) for node in nodes)
        citations = tuple(
            Citation(n, hit.chunk.file, hit.chunk.title, None, hit.chunk.text,
                     hit.chunk.start, hit.chunk.end)
            for n, hit in enumerate(hits, start=1)
        )  # fmt: skip
        elapsed = (time.perf_counter() - started) * 1000
        return Answer(
            question=question,
            answer=text,
            abstained=False,
            # Not one of newsdesk's modes; only its text is read (to_dict, reports).
            mode=MODE,  # type: ignore[arg-type]
            citations=citations,
            hits=hits,
            searched_for=question,
            model=self.model,
            timings_ms={"total": elapsed},
        )

    def _chunk(self, node: Any) -> Chunk:
        """A retrieved node as our `Chunk`, named like our files (relative to the corpus)."""
        name = Path(node.node.metadata.get("file_path", "")).resolve().relative_to(self._corpus)
        return Chunk(
            id=node.node.node_id,
            file=name.as_posix(),
            file_sha256="",
            article=0,
            title=name.name,
            date=None,
            start=node.node.start_char_idx or 0,
            end=node.node.end_char_idx or 0,
            text=node.node.get_content(),
        )
