"""From a question to a cited answer: the one orchestrator the CLI and the app call."""

from __future__ import annotations

import errno
import os
import shutil
import time
from collections.abc import Generator, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import replace
from datetime import date
from functools import cached_property
from typing import TYPE_CHECKING

from rag.config import CONVERSATIONS_FILE, MINILM_INT8, OLLAMA_EMBED_PREFIX, Settings
from rag.index import Index, OnStored, Scope, SyncReport
from rag.ingest import Progress, read_corpus
from rag.retrieve import Retriever
from rag.types import ANY_DATE, Answer, AnswerStream, DateRange, Hit, LLMError, Mode, UserError

# What writing a file on a full disk (or past a file size limit or quota) raises.
DISK_FULL = {errno.ENOSPC, errno.EFBIG, errno.EDQUOT}

if TYPE_CHECKING:  # onnxruntime and tokenizers load only when a chunk or question is embedded
    from rag.answer.llm import LLMServer
    from rag.answer.query import Query
    from rag.embed import MiniLMEmbedder, OllamaEmbedder

EXTRACTIVE = Mode.EXTRACTIVE
AUTO = "auto"
EXTRACTIVE_NOTICE = "Offline extractive mode: answers quote the articles word for word."
# A question about how something changed reads this many times more passages.
_HISTORY_DEPTH = 3
# Rewritten follow-ups kept per pipeline, so the CLI can show one before streaming the answer.
_STANDALONE_CACHE = 64


class Pipeline:
    """Warm resources (index, embedding model) and the steps from question to answer."""

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or Settings()
        self.index = Index(self.settings)
        self._rewritten: dict[tuple[str, tuple[str, ...]], str] = {}

    @cached_property
    def embedder(self) -> MiniLMEmbedder | OllamaEmbedder:
        """The embedding model the index was built with, loaded on first use."""
        from rag.embed import MiniLMEmbedder, OllamaEmbedder

        settings = self.settings
        embedder: MiniLMEmbedder | OllamaEmbedder
        if settings.embed.startswith(OLLAMA_EMBED_PREFIX):
            embedder = OllamaEmbedder(
                settings.ollama_host,
                settings.embed.removeprefix(OLLAMA_EMBED_PREFIX),
                settings.ollama_timeout,
                settings.cache_dir,
                batch_size=settings.embed_batch_size,
            )
        else:
            embedder = MiniLMEmbedder(
                settings.cache_dir,
                threads=settings.embed_threads,
                batch_size=settings.embed_batch_size,
                quantized=settings.embed == MINILM_INT8,
            )
        embedder.warm_up()
        return embedder

    @cached_property
    def servers(self) -> list[LLMServer]:
        """The LLM servers RAG_LLM lets write answers, in the order `auto` tries them."""
        from rag.answer.llm import servers

        return servers(self.settings)

    @property
    def generator(self) -> LLMServer:
        """The server that writes the answers now: the first of `servers` that answers (each
        probe is cached for a few seconds), else the first, whose problem is then told."""
        return next((s for s in self.servers if s.health().ready), self.servers[0])

    @cached_property
    def retriever(self) -> Retriever:
        return Retriever(self.index, self.embedder, self.settings)

    def ingest(
        self, progress: Progress | None = None, on_stored: OnStored | None = None
    ) -> SyncReport:
        """Bring the index in line with the corpus folder; only new or changed files embed.

        `on_stored` is told how many chunks are durably stored after each write to the store
        (a test kills the process there)."""
        corpus = self.settings.corpus_dir
        if not corpus.is_dir():
            raise UserError(f"Corpus folder {corpus} does not exist: create it or pass --corpus.")
        with self.index.lock(), self._disk_full_said():
            manifest = self.index.manifest()
            repair = self.index.repair(manifest)
            # The model is loaded only when a file needs chunking or a chunk embedding.
            files = read_corpus(
                self.settings, manifest.files, lambda text: self.embedder.count_tokens(text),
                progress,
            )  # fmt: skip
            return self.index.sync(
                manifest, files.parsed, files.skipped, lambda texts: self.embedder.embed(texts),
                progress, on_stored, repair, files.unread,
            )  # fmt: skip

    @contextmanager
    def _disk_full_said(self) -> Iterator[None]:
        """A full disk (or a file size or quota limit) while writing the index, as one line.
        Nothing stored is lost: files are marked complete only once all their chunks are
        stored, so the next ingest redoes just the rest."""
        try:
            yield
        except OSError as error:
            if error.errno not in DISK_FULL:
                raise
            raise UserError(
                f"No space to write the index in {self.index.root} ({error.strerror or error}): "
                "free some space, then run the same command again; it carries on from what "
                "was stored."
            ) from None

    def rebuild(self, progress: Progress | None = None) -> SyncReport:
        """Build the index from nothing beside the old one, and swap it in only once it is
        complete: a failed or killed rebuild leaves the old index as it was.

        For a store that cannot be read at all (a truncated `chroma.sqlite3`), which
        `ingest` cannot repair in place. Embedded stores only: a server's collection is
        named after the index folder, so it cannot be built under another name and moved.
        """
        if self.settings.chroma_host:
            raise UserError(
                "`rag ingest --rebuild` rebuilds an embedded index; with a Chroma server, "
                "run `rag ingest`, which restores what the server lacks."
            )
        root = self.settings.index_path
        staging = root.with_name(root.name + ".rebuild")  # hidden too: never read as corpus
        with self.index.lock():  # no ingest may change the old index meanwhile
            shutil.rmtree(staging, ignore_errors=True)
            try:
                fresh = Pipeline(self.settings.model_copy(update={"index_dir": staging}))
                report = fresh.ingest(progress)
                old = root.with_name(root.name + ".old")
                shutil.rmtree(old, ignore_errors=True)
                os.replace(root, old)
                os.replace(staging, root)
                if (kept := old / CONVERSATIONS_FILE).exists():  # not the index's to drop
                    os.replace(kept, root / CONVERSATIONS_FILE)
                shutil.rmtree(old, ignore_errors=True)
            finally:
                shutil.rmtree(staging, ignore_errors=True)  # left only by a failed build
        self.index = Index(self.settings)  # the old one's store and keywords are gone
        return report

    def ask(
        self,
        question: str,
        history: Sequence[str] = (),
        dates: DateRange = ANY_DATE,
        as_of: date | None = None,
    ) -> Answer:
        """Answer `question` (after the earlier questions in `history`) with citations, from
        the articles dated within `dates`; with `as_of`, as if asked on that day."""
        return self.stream(question, history, dates, as_of).answer

    def mode(self) -> Mode:
        """How the next answer will be made: "ollama", "openai" or "extractive" (probes the
        servers, cached).

        Raises LLMError when RAG_LLM names a server and it cannot answer.
        """
        return self.generator.mode if self.offline_reason() is None else EXTRACTIVE

    def standalone(self, question: str, history: Sequence[str] = ()) -> str:
        """What to search for: with a model, a follow-up rewritten by it into a question that
        stands alone; offline, the question joined to the earlier ones it refers to."""
        from rag.answer.query import check_question, read_question

        return self._standalone(read_question(check_question(question), history))

    def _standalone(self, query: Query) -> str:
        """`standalone` for a question already read."""
        from rag.answer.generate import condense

        question, offline = query.question, query.searched_for
        # A question that names its own subject is asked as it is; a follow-up is rewritten
        # with the turns it points back to only, so an unrelated earlier one cannot leak in.
        if not query.context or self.mode() == EXTRACTIVE:
            return offline
        key = (question, query.context)
        if key not in self._rewritten:
            try:
                rewritten = condense(self.generator, question, query.context)
            except LLMError:
                if self.settings.llm != AUTO:
                    raise
                return offline  # the answer will most likely fall back too, saying why
            if len(self._rewritten) >= _STANDALONE_CACHE:
                self._rewritten.clear()
            self._rewritten[key] = rewritten or offline
        return self._rewritten[key]

    def stream(
        self,
        question: str,
        history: Sequence[str] = (),
        dates: DateRange = ANY_DATE,
        as_of: date | None = None,
    ) -> AnswerStream:
        """Answer `question`: iterate for the text as it is produced, then read `.answer`
        (citations, checks, timings).

        Only articles dated within `dates` are read. `as_of` answers as if asked on that day:
        only articles published by then, and "now" means the newest of those.

        With Ollama the pieces are the model's tokens as they arrive, and the final Answer
        holds the checked text (bad citations removed, unsupported sentences marked);
        offline the one piece is the whole extractive answer. An empty or overlong question,
        or a missing or damaged index, raises UserError here, before any piece.
        """
        # The answering code loads with the first question: `rag ingest` never needs it.
        from rag.answer.query import check_question

        question = check_question(question)
        self._open()  # a damaged index refuses here, before any piece
        return AnswerStream(self._pieces(question, history, dates.up_to(as_of), as_of))

    def _open(self) -> None:
        """Check the index and, the first time, load the embedding model beside it: opening
        the store is mostly importing Chroma, loading the model mostly onnxruntime's own
        threads, so a first question waits for the longer of the two, not for both (0.25 s
        of a cold `rag ask`; `python -m benchmarks.real` measures it)."""
        if "embedder" in self.__dict__:  # loaded by an earlier question
            self.index.check()
            return
        with ThreadPoolExecutor(max_workers=2) as pool:
            loading = pool.submit(lambda: self.embedder)
            if self.settings.llm != EXTRACTIVE:
                pool.submit(lambda: [server.health() for server in self.servers])
            self.index.check()
            loading.result()

    def _pieces(
        self, question: str, history: Sequence[str], dates: DateRange, as_of: date | None
    ) -> Generator[str, None, Answer]:
        from rag.answer import extractive
        from rag.answer.query import read_question

        started = time.perf_counter()
        # The question as typed is read here, once; every later step works from `query`.
        query = read_question(question, history)
        notice = self.offline_reason()
        scope = self.index.scope(dates) if dates.bounded else None
        left_out = _undated_note(scope)
        if notice is None:
            try:
                answer = yield from self._generate(query, scope, started)
                notice = f"{answer.notice or ''}{left_out}".strip() or None
                return replace(answer, as_of=as_of, notice=notice)
            except LLMError as error:
                if self.settings.llm != AUTO:
                    raise
                notice = f"{error} Answered extractively instead."
        hits = self.search(query, scope)
        retrieved = time.perf_counter()
        bm25, min_support = self.index.bm25(), self.settings.min_support
        answer = extractive.answer(
            query, hits, bm25, min_support, notice + left_out, read=self.read_depth(query)
        )
        yield answer.answer
        return replace(_timed(answer, started, retrieved), as_of=as_of)

    def read_depth(self, query: Query) -> int | None:
        """How many of the passages found decide whether and what to answer (None: all). A
        timeline's deeper passages are for its history; the answer is decided as usual."""
        return self.settings.top_k if query.timeline else None

    def offline_reason(self) -> str | None:
        """Why answers are extractive now, or None when a model writes them."""
        if self.settings.llm == EXTRACTIVE:
            return EXTRACTIVE_NOTICE
        problems = []
        for server in self.servers:
            health = server.health()
            if health.ready:
                return None
            problems.append(health.problem or "")
        said = " ".join(problems)
        if self.settings.llm != AUTO:
            raise LLMError(f"{said} (RAG_LLM=auto quotes the articles meanwhile.)")
        return f"{said} Until then answers quote the articles word for word."

    def _generate(
        self, asked: Query, scope: Scope | None, started: float
    ) -> Generator[str, None, Answer]:
        """The model's path: condense, retrieve, stream its answer, check its citations."""
        from rag.answer import extractive
        from rag.answer.generate import generate
        from rag.answer.query import read_question

        question, searched_for = asked.question, self._standalone(asked)
        # A question the model rewrote is new wording, read on its own: it already carries
        # what it refers to. Otherwise the question read at the start is searched.
        query = asked if searched_for == asked.searched_for else read_question(searched_for)
        hits = self.search(query, scope)
        retrieved = time.perf_counter()
        bm25, min_support = self.index.bm25(), self.settings.min_support
        relevance = extractive.extract(query, hits, bm25, min_support)

        def fallback(notice: str) -> Answer:
            read = self.read_depth(query)
            return extractive.answer(query, hits, bm25, min_support, notice, read=read)

        answer = yield from generate(
            question,
            searched_for,
            hits,
            relevance,
            self.generator,
            self.embedder.embed,
            self.settings.claim_min_similarity,
            fallback,
            self.settings.answer_time_limit,
            timeline=query.timeline,
        )
        return _timed(answer, started, retrieved)

    def search(self, query: Query, scope: Scope | None = None) -> list[Hit]:
        """Passages for a query (within a date range's `scope`, if any); a question asking
        two things gets passages for each part, and one about how something changed reads
        deeper, to find every time it was told."""
        top_k = self.settings.top_k * (_HISTORY_DEPTH if query.timeline else 1)
        return self.retriever.search_all(query.search_texts, scope, top_k)


def _undated_note(scope: Scope | None) -> str:
    """How many articles a date range leaves out for having no date (nothing says they
    belong in it), as a sentence to add to the notice; "" without a range or such articles."""
    if scope is None or not scope.undated:
        return ""
    return (
        f" {scope.undated} undated article{'s' * (scope.undated != 1)} left out by the date "
        "range."
    )


def _timed(answer: Answer, started: float, retrieved: float) -> Answer:
    """`answer` with its timings: until the passages were found, then until it was done."""
    done = time.perf_counter()
    timings = {
        "retrieve": (retrieved - started) * 1000,
        "answer": (done - retrieved) * 1000,
        "total": (done - started) * 1000,
    }
    return replace(answer, timings_ms=timings)
