"""From a question to a cited answer: the one orchestrator the CLI and the app call."""

from __future__ import annotations

import re
import time
from collections.abc import Generator, Iterator, Sequence
from dataclasses import replace
from functools import cached_property
from pathlib import Path

from rag.citations import check_answer, cite, numbered_context
from rag.config import MINILM_INT8, OLLAMA_EMBED_PREFIX, Settings
from rag.dates import relative_note
from rag.extract import Want, extract, holds, split_question
from rag.generate import OllamaClient, OllamaError
from rag.index import READING, Index, Progress, SyncReport
from rag.ingest import Chunker, discover, read_corpus_file, unchanged
from rag.prompts import CANNOT_ANSWER, render
from rag.retrieve import Retriever
from rag.types import Answer, AnswerStream, Claim, Hit, Mode, ParsedFile, Skipped, UserError

EXTRACTIVE = Mode.EXTRACTIVE
OLLAMA = Mode.OLLAMA
EXTRACTIVE_NOTICE = "Offline extractive mode: answers quote the articles word for word."
MAX_QUESTION_CHARS = 2000
# Words that point back to an earlier turn ("which channel did *he* speak to?").
_BACK_REFERENCE = re.compile(
    r"\b(?:he|she|it|they|him|her|his|hers|its|their|them|there|then|that|this|these|those)\b",
    re.IGNORECASE,
)
_MARKER = re.compile(r"\[(\d+)\]")
# How many earlier turns a follow-up is searched with.
_HISTORY_TURNS = 2
# Most progress reports while reading the corpus (one per file would flood a progress bar).
PROGRESS_UPDATES = 200
# Rewritten follow-ups kept per pipeline, so the CLI can show one before streaming the answer.
_STANDALONE_CACHE = 64


class Pipeline:
    """Warm resources (index, embedding model) and the steps from question to answer."""

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or Settings()
        self.index = Index(self.settings)
        self._standalone: dict[tuple[str, tuple[str, ...]], str] = {}

    @cached_property
    def embedder(self):  # noqa: ANN201 - the embedder type lives behind a lazy import
        from rag.embed import MiniLMEmbedder, OllamaEmbedder

        settings = self.settings
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
    def generator(self) -> OllamaClient:
        """The Ollama LLM, with its health probe cached for a few seconds."""
        return OllamaClient(self.settings)

    @cached_property
    def retriever(self) -> Retriever:
        return Retriever(self.index, self.embedder, self.settings)

    def ingest(self, progress: Progress | None = None) -> SyncReport:
        """Bring the index in line with the corpus folder; only new or changed files embed."""
        corpus = self.settings.corpus_dir
        if not corpus.is_dir():
            raise UserError(f"Corpus folder {corpus} does not exist: create it or pass --corpus.")
        with self.index.lock():
            # Made on the first file that needs chunking: it imports llama-index, seconds of
            # start-up that an ingest with nothing changed does not need.
            chunker: Chunker | None = None
            manifest = self.index.manifest()
            known = manifest.files
            parsed: dict[str, ParsedFile] = {}
            skipped: list[Skipped] = []
            max_bytes = int(self.settings.max_file_mb * 1e6)
            for name, path in _reported(list(discover(corpus)), progress):
                entry = known.get(name)
                if entry is not None and not entry.complete:
                    entry = None  # an interrupted file is redone whatever its content
                if entry and unchanged(path, entry.stamp):
                    # Neither read nor hashed: at 100,000 files reading took most of the run.
                    parsed[name] = ParsedFile(entry.source(name), (), ())
                    continue
                source = read_corpus_file(corpus, name, path, max_bytes)
                if isinstance(source, Skipped):
                    skipped.append(source)
                elif entry and entry.sha256 == source.sha256:
                    parsed[name] = ParsedFile(source, (), ())  # unchanged: nothing to re-chunk
                else:
                    chunker = chunker or Chunker(
                        self.settings.chunk_size,
                        self.settings.chunk_overlap,
                        self.embedder.count_tokens,
                    )
                    parsed[name] = chunker.parse(source)
                    if not parsed[name].chunks:
                        skipped.append(Skipped(name, "no article text found"))
                        del parsed[name]
            # The model is loaded only when a chunk needs embedding.
            return self.index.sync(
                manifest, parsed, skipped, lambda texts: self.embedder.embed(texts), progress
            )

    def ask(self, question: str, history: Sequence[str] = ()) -> Answer:
        """Answer `question` (after the earlier questions in `history`) with citations."""
        return self.stream(question, history).answer

    def mode(self) -> Mode:
        """How the next answer will be made: "ollama" or "extractive" (probes Ollama, cached).

        Raises OllamaError when RAG_LLM=ollama and Ollama cannot answer.
        """
        return OLLAMA if self._offline_reason() is None else EXTRACTIVE

    def standalone(self, question: str, history: Sequence[str] = ()) -> str:
        """What to search for: with Ollama, a follow-up rewritten by the model into a question
        that stands alone; offline, the question joined to the earlier ones it refers to."""
        question = _check_question(question)
        offline = " ".join([*_referred_to(question, history), question])
        if not history or self.mode() != OLLAMA:
            return offline
        key = (question, tuple(history))
        if key not in self._standalone:
            prompt = render("condense", history="\n".join(history), question=question)
            try:
                reply = self.generator.complete(prompt)
            except OllamaError:
                if self.settings.llm == OLLAMA:
                    raise
                return offline  # the answer will most likely fall back too, saying why
            # Small models sometimes repeat the label, quote the question or explain after it.
            lines = (
                line.removeprefix("Standalone question:").strip(" \"'")
                for line in reply.splitlines()
            )
            rewritten = next((line for line in lines if line), "")
            if len(self._standalone) >= _STANDALONE_CACHE:
                self._standalone.clear()
            fits = 0 < len(rewritten) <= MAX_QUESTION_CHARS
            self._standalone[key] = rewritten if fits else offline
        return self._standalone[key]

    def stream(self, question: str, history: Sequence[str] = ()) -> AnswerStream:
        """Answer `question`: iterate for the text as it is produced, then read `.answer`
        (citations, checks, timings).

        With Ollama the pieces are the model's tokens as they arrive, and the final Answer
        holds the checked text (bad citations removed, unsupported sentences marked);
        offline the one piece is the whole extractive answer. An empty or overlong question
        raises UserError here, before any piece.
        """
        question = _check_question(question)
        return AnswerStream(self._pieces(question, history))

    def _pieces(self, question: str, history: Sequence[str]) -> Generator[str, None, Answer]:
        started = time.perf_counter()
        notice = self._offline_reason()
        if notice is None:
            try:
                return (yield from self._generate(question, history, started))
            except OllamaError as error:
                if self.settings.llm == OLLAMA:
                    raise
                notice = f"{error} Answered extractively instead."
        context = _referred_to(question, history)
        searched_for = " ".join([*context, question])
        hits = self._search(searched_for)
        retrieved = time.perf_counter()
        answer = self._extractive(question, context, hits, searched_for, notice)
        yield answer.answer
        return _timed(answer, started, retrieved)

    def _offline_reason(self) -> str | None:
        """Why answers are extractive now, or None when Ollama writes them."""
        if self.settings.llm == EXTRACTIVE:
            return EXTRACTIVE_NOTICE
        health = self.generator.health()
        if health.ready:
            return None
        if self.settings.llm == OLLAMA:
            raise OllamaError(f"{health.problem} (RAG_LLM=auto quotes the articles meanwhile.)")
        return f"{health.problem} Until then answers quote the articles word for word."

    def _generate(
        self, question: str, history: Sequence[str], started: float
    ) -> Generator[str, None, Answer]:
        """The Ollama path: condense, retrieve, stream the model's answer, check its citations.

        Raises OllamaError only before the first piece; a reply that breaks off later ends
        as an answer that says so.
        """
        searched_for = self.standalone(question, history)
        hits = self._search(searched_for)
        retrieved = time.perf_counter()
        model = self.settings.ollama_model
        # The extractive answerer's judgement of relevance: when nothing retrieved is about
        # the question, the model is not asked, so it cannot answer from its own knowledge.
        found = extract(searched_for, (), hits, self.index.bm25(), self.settings.min_support)
        if found.off_topic:
            answer = Answer(
                question=question, answer=CANNOT_ANSWER, abstained=True, mode=OLLAMA,
                citations=(), hits=tuple(hits), searched_for=searched_for,
                notice=f"Not asking {model}: {found.reason}.", model=model,
            )  # fmt: skip
            yield answer.answer
            return _timed(answer, started, retrieved)
        prompt = render("answer", context=numbered_context(hits), question=searched_for)
        pieces: list[str] = []
        broke_off = ""
        try:
            for piece in self.generator.stream(prompt, system=render("system")):
                pieces.append(piece)
                yield piece
        except OllamaError as error:
            if not pieces:
                raise
            broke_off = str(error)
        checked = check_answer(
            "".join(pieces), hits, self.embedder.embed, self.settings.claim_min_similarity
        )
        notice = " ".join(filter(None, [broke_off, checked.note(len(hits))]))
        answer = Answer(
            question=question, answer=checked.text, abstained=checked.abstained, mode=OLLAMA,
            citations=tuple(checked.citations), hits=tuple(hits), searched_for=searched_for,
            notice=notice or None, model=model, claims=tuple(checked.claims),
        )  # fmt: skip
        return _timed(answer, started, retrieved)

    def _search(self, query: str) -> list[Hit]:
        """Passages for a query; a question asking two things gets passages for each part."""
        parts = split_question(query)
        if len(parts) == 1:
            return self.retriever.search(query)
        found = [self.retriever.search(part) for part in parts]
        merged: dict[str, Hit] = {}
        for rank in range(self.settings.top_k):  # interleave so each part keeps its best
            for hits in found:
                if rank < len(hits):
                    merged.setdefault(hits[rank].chunk.id, hits[rank])
        return list(merged.values())

    def _extractive(
        self,
        question: str,
        history: Sequence[str],
        hits: list[Hit],
        searched_for: str,
        notice: str,
    ) -> Answer:
        found = extract(question, history, hits, self.index.bm25(), self.settings.min_support)
        claims: list[Claim] = []
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
                if relative := relative_note(sentence.text, sentence.chunk.date):
                    note += f" ({relative})"  # "Sunday = April 4, 2021": the quote stays verbatim
                parts.append(f"{_defuse_markers(sentence.text)}{note} [{n}]")
                claims.append(Claim(sentence.text, (n,), True))
            text = " ".join(parts)
        return Answer(
            question=question,
            answer=text,
            abstained=found.abstained,
            mode=EXTRACTIVE,
            citations=tuple(citations),
            hits=tuple(hits),
            searched_for=searched_for,
            notice=notice,
            claims=tuple(claims),
        )


def _reported(
    files: list[tuple[str, Path]], progress: Progress | None
) -> Iterator[tuple[str, Path]]:
    """`files`, reporting how many were dealt with as the next one is asked for: reading and
    chunking 100,000 files takes minutes before any embedding starts."""
    step = max(1, len(files) // PROGRESS_UPDATES)
    for number, file in enumerate(files, start=1):
        yield file
        if progress and (number % step == 0 or number == len(files)):
            progress(READING, number, len(files))


def _referred_to(question: str, history: Sequence[str]) -> tuple[str, ...]:
    """The earlier questions a follow-up points back to ("... did *he* ..."), offline."""
    if history and _BACK_REFERENCE.search(question):
        return tuple(history[-_HISTORY_TURNS:])
    return ()


def _timed(answer: Answer, started: float, retrieved: float) -> Answer:
    """`answer` with its timings: until the passages were found, then until it was done."""
    done = time.perf_counter()
    timings = {
        "retrieve": (retrieved - started) * 1000,
        "answer": (done - retrieved) * 1000,
        "total": (done - started) * 1000,
    }
    return replace(answer, timings_ms=timings)


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
