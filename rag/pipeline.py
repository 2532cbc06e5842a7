"""From a question to a cited answer: the one orchestrator the CLI and the app call."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator, Sequence
from functools import cached_property

from rag.citations import cite
from rag.config import Settings
from rag.extract import Want, extract, holds
from rag.index import Index, SyncReport
from rag.ingest import Chunker, discover, read_corpus_file
from rag.prompts import CANNOT_ANSWER
from rag.retrieve import Retriever
from rag.types import Answer, Hit, ParsedFile, Skipped, UserError

EXTRACTIVE = "extractive"
MAX_QUESTION_CHARS = 2000
# Words that point back to an earlier turn ("which channel did *he* speak to?").
_BACK_REFERENCE = re.compile(
    r"\b(?:he|she|it|they|him|her|his|hers|its|their|them|there|then|that|this|these|those)\b",
    re.IGNORECASE,
)
_MARKER = re.compile(r"\[(\d+)\]")
# How many earlier turns a follow-up is searched with.
_HISTORY_TURNS = 2


class Pipeline:
    """Warm resources (index, embedding model) and the steps from question to answer."""

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or Settings()
        self.index = Index(self.settings)

    @cached_property
    def embedder(self):  # noqa: ANN201 - the embedder type lives behind a lazy import
        from rag.embed import MiniLMEmbedder

        embedder = MiniLMEmbedder(
            self.settings.cache_dir,
            threads=self.settings.embed_threads,
            batch_size=self.settings.embed_batch_size,
        )
        embedder.warm_up()
        return embedder

    @cached_property
    def retriever(self) -> Retriever:
        return Retriever(self.index, self.embedder, self.settings)

    def ingest(self, progress: Callable[[int, int], None] | None = None) -> SyncReport:
        """Bring the index in line with the corpus folder; only new or changed files are embedded."""
        corpus = self.settings.corpus_dir
        if not corpus.is_dir():
            raise UserError(f"Corpus folder {corpus} does not exist: create it or pass --corpus.")
        with self.index.lock():
            chunker = Chunker(
                self.settings.chunk_size, self.settings.chunk_overlap, self.embedder.count_tokens
            )
            known = self.index.manifest().files
            parsed: dict[str, ParsedFile] = {}
            skipped: list[Skipped] = []
            max_bytes = int(self.settings.max_file_mb * 1e6)
            for name, path in discover(corpus):
                source = read_corpus_file(corpus, name, path, max_bytes)
                if isinstance(source, Skipped):
                    skipped.append(source)
                elif (
                    known.get(name) and known[name].complete and known[name].sha256 == source.sha256
                ):
                    parsed[name] = ParsedFile(source, (), ())  # unchanged: nothing to re-chunk
                else:
                    parsed[name] = chunker.parse(source)
                    if not parsed[name].chunks:
                        skipped.append(Skipped(name, "no article text found"))
                        del parsed[name]
            return self.index.sync(parsed, skipped, self.embedder, progress)

    def ask(self, question: str, history: Sequence[str] = ()) -> Answer:
        """Answer `question` (after the earlier questions in `history`) with citations."""
        *_, answer = self.stream(question, history)
        return answer

    def stream(self, question: str, history: Sequence[str] = ()) -> Iterator[str | Answer]:
        """Answer `question`, yielding the answer text in pieces as it is produced, then the
        finished `Answer` (citations, checks, timings) as the last item."""
        started = time.perf_counter()
        question = _check_question(question)
        follow_up = bool(history) and bool(_BACK_REFERENCE.search(question))
        context = tuple(history[-_HISTORY_TURNS:]) if follow_up else ()
        searched_for = " ".join([*context, question])

        hits = self.retriever.search(searched_for)
        retrieved = time.perf_counter()
        answer = self._extractive(question, context, hits, searched_for)
        yield answer.answer
        done = time.perf_counter()
        answer.timings_ms = {
            "retrieve": (retrieved - started) * 1000,
            "answer": (done - retrieved) * 1000,
            "total": (done - started) * 1000,
        }
        yield answer

    def _extractive(
        self, question: str, history: Sequence[str], hits: list[Hit], searched_for: str
    ) -> Answer:
        found = extract(question, history, hits, self.index.bm25(), self.settings.min_support)
        if found.abstained:
            text, citations = CANNOT_ANSWER, []
        else:
            numbers, citations = cite(found.sentences, hits)
            parts = []
            for sentence, n in zip(found.sentences, numbers, strict=True):
                note = ""
                if found.want is Want.DATE and not holds(sentence.text, Want.DATE, question):
                    # The sentence says what happened; the article's date says when.
                    note = f" (from {sentence.chunk.heading})"
                parts.append(f"{_defuse_markers(sentence.text)}{note} [{n}]")
            text = " ".join(parts)
        return Answer(
            question=question,
            answer=text,
            abstained=found.abstained,
            mode=EXTRACTIVE,
            citations=citations,
            hits=hits,
            searched_for=searched_for,
            notice="Offline extractive mode: answers quote the articles word for word.",
        )


def _check_question(question: str) -> str:
    cleaned = re.sub(r"[\x00-\x08\x0b-\x1f\x7f]", " ", question).strip()
    if not cleaned:
        raise UserError("The question is empty: type what you want to know about the articles.")
    if len(cleaned) > MAX_QUESTION_CHARS:
        raise UserError(
            f"The question is {len(cleaned):,} characters long; keep it under "
            f"{MAX_QUESTION_CHARS:,} (ask about one thing at a time)."
        )
    return cleaned


def _defuse_markers(text: str) -> str:
    """Quoted text may itself hold "[3]"; shown as "(3)" so the only [n] are our citations."""
    return _MARKER.sub(r"(\1)", text)
