"""Benchmark corpora: news-shaped files assembled from shuffled sentences of many sources.

Repeating the five articles would let deduplication and caching flatter the numbers, and no
news collection ships offline. So the sentences come from every English prose source on the
machine: the five articles, Python's reference manual (pydoc topics), the docstrings of the
standard library and the descriptions of the installed packages. Each generated file is a
headline, a date line and a few paragraphs of sentences drawn at random, so no two chunks
repeat. Every corpus also holds the five real articles, so the gold questions still have
answers at every size. Generation is seeded: the same machine always makes the same files.
"""

from __future__ import annotations

import ast
import email.message
import importlib.metadata
import json
import random
import re
import shutil
import sysconfig
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import cast

REPO = Path(__file__).resolve().parent.parent
REAL_CORPUS = REPO / "corpus"
GOLD = REPO / "eval" / "gold.jsonl"
CACHE = REPO / "benchmarks" / ".cache"

SEED = 20240601
# Sentences kept from the sources; enough that chunks of a 100,000-chunk corpus rarely share
# more than one sentence, few enough to embed all of them once in a few minutes.
POOL_SIZE = 30_000
SENTENCE_WORDS = (8, 40)
# Sentences per file and per paragraph: short wire items of one or two chunks each, like
# the "969 short news passages".
FILE_SENTENCES = (3, 7)
PARAGRAPH_SENTENCES = (1, 3)
HEADLINE_WORDS = (5, 9)
FIRST_DATE, DATE_SPAN_DAYS = date(2015, 1, 1), 3650
QUESTIONS_PER_CORPUS = 40
QUESTION_WORDS = 12

_SENTENCE_BREAK = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")
# Plain prose only: no markup, code or links, so the cleaner reads every line as story text.
_PROSE = re.compile(r"^[A-Z][A-Za-z0-9 ,;:'\"()\-.%$’“”]+[.!?]$")
_MARKUP_START = ("#", "*", "-", ">", "|", "`", "..", ":", "=")


def _sentences(text: str) -> Iterator[str]:
    """Prose sentences of `text`, paragraph by paragraph."""
    for paragraph in re.split(r"\n\s*\n", text):
        joined = " ".join(line.strip() for line in paragraph.splitlines())
        if joined.startswith(_MARKUP_START):
            continue
        for sentence in _SENTENCE_BREAK.split(joined):
            sentence = sentence.strip()
            low, high = SENTENCE_WORDS
            if (
                low <= len(sentence.split()) <= high
                and _PROSE.match(sentence)
                and "http" not in sentence
                and "()" not in sentence
            ):
                yield sentence


def _docstrings(folder: Path) -> Iterator[str]:
    for path in sorted(folder.rglob("*.py")):
        if {"site-packages", "test", "tests", "idle_test"} & set(path.parts):
            continue
        try:
            tree = ast.parse(path.read_text(errors="ignore"))
        except (SyntaxError, ValueError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
                yield ast.get_docstring(node) or ""


def _source_texts() -> Iterator[tuple[str, str]]:
    """(source name, text) of every prose source, in a fixed order."""
    import pydoc_data.topics

    for path in sorted(REAL_CORPUS.glob("*.txt")):
        yield "articles", path.read_text()
    for topic in sorted(pydoc_data.topics.topics):
        yield "python reference", pydoc_data.topics.topics[topic]
    for docstring in _docstrings(Path(sysconfig.get_paths()["stdlib"])):
        yield "stdlib docstrings", docstring
    for dist in sorted(importlib.metadata.distributions(), key=lambda d: d.metadata["Name"]):
        # The metadata is an email.message.Message whose body is the long description; the
        # PackageMetadata protocol it is typed as has no way to read that body.
        payload = cast(email.message.Message, dist.metadata).get_payload()
        yield "package descriptions", payload if isinstance(payload, str) else ""


def sentence_pool() -> tuple[list[str], dict[str, int]]:
    """Up to POOL_SIZE distinct sentences, shuffled, and how many each source gave."""
    path = CACHE / "sentences.json"
    if path.exists():
        cached = json.loads(path.read_text())
        return cached["sentences"], cached["sources"]
    first_source: dict[str, str] = {}
    for source, text in _source_texts():
        for sentence in _sentences(text):
            first_source.setdefault(sentence, source)
    sentences = sorted(first_source)
    random.Random(SEED).shuffle(sentences)
    sentences = sentences[:POOL_SIZE]
    sources: dict[str, int] = {}
    for sentence in sentences:
        sources[first_source[sentence]] = sources.get(first_source[sentence], 0) + 1
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"sentences": sentences, "sources": sources}))
    return sentences, sources


@dataclass(frozen=True)
class Document:
    """One generated file: what it says and the pool sentences its body is made of."""

    name: str
    text: str
    body: tuple[str, ...]


def documents(pool: list[str]) -> Iterator[Document]:
    """An endless, seeded stream of news-shaped files; every corpus is a prefix of it."""
    rng = random.Random(SEED)
    for number in range(10**9):
        headline_words = pool[rng.randrange(len(pool))].rstrip(".!?").split()
        headline = " ".join(headline_words[: rng.randint(*HEADLINE_WORDS)]).rstrip(",;:")
        day = FIRST_DATE + timedelta(days=rng.randrange(DATE_SPAN_DAYS))
        body = tuple(rng.sample(pool, rng.randint(*FILE_SENTENCES)))
        paragraphs, at = [], 0
        while at < len(body):
            take = rng.randint(*PARAGRAPH_SENTENCES)
            paragraphs.append(" ".join(body[at : at + take]))
            at += take
        text = f"{headline}\n{day:%B} {day.day}, {day.year}\n\n" + "\n\n".join(paragraphs) + "\n"
        yield Document(f"gen_{number:06d}.txt", text, body)


def write_corpus(folder: Path, files: int, pool: list[str]) -> list[Document]:
    """The five real articles plus the first `files` generated ones, written once."""
    generated = []
    for document, _ in zip(documents(pool), range(files), strict=False):
        generated.append(document)
    marker = folder.with_name(folder.name + ".complete")  # beside it: readers see no extra file
    if not marker.exists():
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        for path in sorted(REAL_CORPUS.glob("*.txt")):
            shutil.copy(path, folder / path.name)
        for document in generated:
            (folder / document.name).write_text(document.text)
        marker.write_text(str(files))
    return generated


def questions(generated: list[Document], count: int = QUESTIONS_PER_CORPUS) -> list[str]:
    """Half gold questions about the real articles, half the opening words of generated
    sentences (a reader searching for a passage they half remember)."""
    gold = [json.loads(line) for line in GOLD.read_text().splitlines() if line.strip()]
    asked = [item["question"] for item in gold if "turns" not in item]
    picked = asked[: count // 2] if generated else asked[:count]
    rng = random.Random(SEED + len(generated))
    while generated and len(picked) < count:
        sentence = rng.choice(rng.choice(generated).body)
        picked.append(" ".join(sentence.split()[:QUESTION_WORDS]).rstrip(".,;:") + "?")
    return picked
