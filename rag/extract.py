"""The offline answerer: quote the sentence or two of the retrieved passages that answer.

Each sentence of the top passages is scored by how much of the question it covers
(idf-weighted stemmed terms; the article title and the rest of its passage count half) and
whether it holds what the question asks for: a date for "when", a number for "how many", a
name for "who". It abstains, with the fixed cannot-answer phrase, when the question is mostly
about words the articles never use, when no sentence covers enough of it, or when no
well-covering sentence holds the kind of thing asked for.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from functools import cache

from rag.lexical import Bm25Index, terms, words
from rag.types import Chunk, Hit

# Words that frame a question without saying what it is about ("what is his job?").
FRAME_WORDS = frozenset(
    terms(
        "name names job role position title kind type happen happened called call mean "
        "many much long often number date year day time exactly roughly approximately "
        "least happen did does do get gave give"
    )
)
# Earlier turns of a conversation still steer a follow-up, at this weight.
HISTORY_WEIGHT = 0.5
# Share of a sentence's credit for a term found only in its title or surrounding passage.
CONTEXT_CREDIT = 0.5
# Added to a sentence's score when it holds the kind of thing the question asks for.
TYPE_BONUS = 0.3
# Small preference for sentences from better-ranked passages.
RANK_WEIGHT = 0.1
# A second sentence is quoted when it scores at least this share of the best one.
SECOND_SENTENCE_RATIO = 0.8
# Abstain when this share of the question's weight is on words the articles never use.
MAX_UNKNOWN_SHARE = 0.5


class Want(Enum):
    """What kind of thing a question asks for."""

    DATE = "date"
    NUMBER = "number"
    PERSON = "person"
    ANY = "any"


_PERSON_NOUNS = (
    "spokesman|spokeswoman|spokesperson|official|general|minister|cleric|leader|president|"
    "commander|chief|secretary|adviser|advisor|envoy|ambassador|person|man|woman|analyst"
)
_WANT_PATTERNS = [
    (Want.DATE, re.compile(r"^(?:when\b|(?:on |in |by )?(?:what|which) (?:date|day|year|month)\b)")),
    (Want.NUMBER, re.compile(r"\bhow (?:many|much)\b|\bwhat (?:number|percentage|share)\b|\bdeath toll\b")),
    (Want.PERSON, re.compile(rf"^(?:who|whom|whose)\b|^(?:which|what) (?:\w+ ){{0,2}}(?:{_PERSON_NOUNS})\b")),
]

_MONTHS = (
    "january|february|march|april|may|june|july|august|september|october|november|december|"
    "jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec"
)
_DATE_EXPRESSION = re.compile(
    rf"\b(?:(?:{_MONTHS})\.?\s+\d{{1,2}}|\d{{1,2}}\s+(?:{_MONTHS})|(?:19|20)\d\d|"
    r"(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)|"
    r"(?:last|next|this) (?:year|month|week)|yesterday|today|"
    rf"(?:early|mid|late|in) (?:{_MONTHS}))\b",
    re.IGNORECASE,
)
_NUMBER_WORDS = (
    "one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|dozen|dozens|hundred|"
    "hundreds|thousand|thousands|million|millions|billion"
)
_NUMBER = re.compile(rf"\b(?:\d[\d,.]*|{_NUMBER_WORDS})\b", re.IGNORECASE)
# A name: capitalised words in a row (allowing "al-", "bin", initials), not at the very start.
_NAME = re.compile(
    r"(?<!^)(?<![.!?]\s)\b(?:[A-Z][\w'’-]+|al-\w+|bin|Al)(?:\s+(?:[A-Z][\w'’.-]+|al-\w+|bin|Al))+"
)


def wanted(question: str) -> Want:
    """The kind of answer a question asks for."""
    text = question.strip().lower()
    for want, pattern in _WANT_PATTERNS:
        if pattern.search(text):
            return want
    return Want.ANY


def holds(sentence: str, want: Want, question: str) -> bool:
    """Whether `sentence` holds something of the wanted kind that the question lacks."""
    if want is Want.ANY:
        return True
    pattern = {Want.DATE: _DATE_EXPRESSION, Want.NUMBER: _NUMBER, Want.PERSON: _NAME}[want]
    asked = set(words(question))
    return any(set(words(m.group(0))) - asked for m in pattern.finditer(sentence))


@dataclass(frozen=True)
class Sentence:
    """A sentence of a retrieved passage, located in its file."""

    hit: int  # index of its hit in the retrieval results
    chunk: Chunk
    start: int  # offsets in the file
    end: int
    text: str


@dataclass(frozen=True)
class Scored:
    """A candidate sentence with its score and question coverage."""

    sentence: Sentence
    score: float
    support: float
    has_wanted: bool


@dataclass(frozen=True)
class Extract:
    """The extractive answerer's decision: the sentences to quote, or an abstention."""

    sentences: tuple[Sentence, ...]
    abstained: bool
    reason: str
    want: Want


@cache
def _sentence_splitter():  # noqa: ANN202 - nltk has no type hints
    import copy

    from llama_index.core.utils import globals_helper

    splitter = copy.deepcopy(globals_helper.punkt_tokenizer)
    # Titles and abbreviations common in news copy that end in a period mid-sentence.
    splitter._params.abbrev_types.update(
        "maj gen brig lt col sgt capt cpl adm mr mrs ms dr gov sen rep st no u.s u.k u.n "
        "jan feb mar apr jun jul aug sep sept oct nov dec".split()
    )
    return splitter


def split_sentences(hit_number: int, chunk: Chunk) -> list[Sentence]:
    """The sentences of a chunk (also cut at line breaks), with file offsets."""
    found = []
    for line in re.finditer(r"[^\n]+", chunk.text):
        for start, end in _sentence_splitter().span_tokenize(line.group(0)):
            a, b = line.start() + start, line.start() + end
            found.append(
                Sentence(hit_number, chunk, chunk.start + a, chunk.start + b, chunk.text[a:b])
            )
    return found


def weighted_terms(question: str, history: Sequence[str]) -> dict[str, float]:
    """Question terms with weights: the question's own count fully, earlier turns less."""
    weights: dict[str, float] = {}
    for turn in history:
        for term in terms(turn):
            if term not in FRAME_WORDS:
                weights[term] = HISTORY_WEIGHT
    for term in terms(question):
        if term not in FRAME_WORDS:
            weights[term] = 1.0
    return weights


def extract(
    question: str,
    history: Sequence[str],
    hits: Sequence[Hit],
    bm25: Bm25Index,
    min_support: float,
) -> Extract:
    """Pick the sentence or two of `hits` that answer `question`, or abstain."""
    want = wanted(question)
    weights = weighted_terms(question, history)
    mass = {term: weight * bm25.idf(term) for term, weight in weights.items()}
    total = sum(mass.values())
    if not hits or total == 0:
        return Extract((), True, "nothing to search for", want)
    unknown = sum(m for term, m in mass.items() if bm25.document_frequency(term) == 0)
    if unknown / total > MAX_UNKNOWN_SHARE:
        return Extract((), True, "the question is about words the articles never use", want)

    scored = _score(question, hits, mass, total, want)
    best = scored[0] if scored else None
    if best is None or best.support < min_support:
        return Extract((), True, "no passage covers enough of the question", want)
    if not any(s.has_wanted for s in scored if s.support >= min_support):
        return Extract((), True, f"no passage that fits the question holds a {want.value}", want)
    chosen = [best.sentence]
    second = next((s for s in scored[1:] if s.support >= min_support), None)
    if second and second.score >= SECOND_SENTENCE_RATIO * best.score and not _same_text(
        second.sentence, best.sentence
    ):
        chosen.append(second.sentence)
    return Extract(tuple(chosen), False, "answered from the passages", want)


def _score(
    question: str, hits: Sequence[Hit], mass: dict[str, float], total: float, want: Want
) -> list[Scored]:
    seen: set[tuple[str, int]] = set()
    scored = []
    for number, hit in enumerate(hits):
        context = set(terms(hit.chunk.title)) | set(terms(hit.chunk.text))
        for sentence in split_sentences(number, hit.chunk):
            key = (sentence.chunk.file, sentence.start)
            if key in seen:  # overlapping chunks repeat sentences
                continue
            seen.add(key)
            own = set(terms(sentence.text))
            covered = sum(
                m if term in own else CONTEXT_CREDIT * m if term in context else 0.0
                for term, m in mass.items()
            )
            support = covered / total
            has_wanted = holds(sentence.text, want, question) or (
                want is Want.DATE and hit.chunk.date is not None
            )
            score = support + (TYPE_BONUS if has_wanted else 0.0) + RANK_WEIGHT / (1 + number)
            scored.append(Scored(sentence, score, support, has_wanted))
    return sorted(scored, key=lambda s: -s.score)


def _same_text(a: Sentence, b: Sentence) -> bool:
    """Two sentences saying the same (copies of one story)."""
    ta, tb = set(terms(a.text)), set(terms(b.text))
    return bool(ta and tb) and len(ta & tb) / len(ta | tb) > 0.6
