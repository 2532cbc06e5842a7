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

from rag.lexical import Bm25Index, terms
from rag.sentences import sentence_spans
from rag.types import Chunk, Hit

# Words that frame a question without saying what it is about ("what is his job?").
FRAME_WORDS = frozenset(
    terms(
        "name names job role position title kind type happen happened called call mean "
        "many much long often number date year day time exactly roughly approximately "
        "least happen did does do get gave give last lasted take took change changed compare "
        "compared differ"
    )
)
# Earlier turns of a conversation still steer a follow-up, at this weight.
HISTORY_WEIGHT = 0.5
# A question's time clause ("... when X happened") locates the answer, at this weight.
CLAUSE_WEIGHT = 0.5
# "..., and who ...?": where a second question begins.
_COMPOUND = re.compile(
    r",?\s+and\s+(?=(?:who|whom|whose|what|which|when|where|how|why)\b)"
    r"|\s+(?:compared?\s+(?:with|to)|versus|vs\.?)\s+",  # "how did X compare with Y?"
    re.I,
)
# "... between February 2018 and April 2021?": the same question at two times.
_BETWEEN_TIMES = re.compile(
    r"\s+between\s+((?:\w+\s+)?(?:19|20)\d\d)\s+and\s+((?:\w+\s+)?(?:19|20)\d\d)\s*\?*$", re.I
)
# Where a time clause starts: a linking word after the question's first words.
_TIME_CLAUSE = re.compile(r"(?<=\w )(?:when|while|after|before|during|as)\b", re.IGNORECASE)
# Share of a sentence's credit for a term found only in its title or surrounding passage.
CONTEXT_CREDIT = 0.5
# Added to a sentence's score when it holds the kind of thing the question asks for.
TYPE_BONUS = 0.3
# Small preference for sentences from better-ranked passages.
RANK_WEIGHT = 0.1
# A second sentence is quoted when it scores at least this share of the best one.
SECOND_SENTENCE_RATIO = 0.8
# ... or when it covers at least this share of the question's weight the best one misses.
MIN_GAIN = 0.2
# Abstain when this share of the question's weight is on words the articles never use.
MAX_UNKNOWN_SHARE = 0.5


class Want(Enum):
    """What kind of thing a question asks for."""

    DATE = "date"
    NUMBER = "number"
    PERSON = "person"
    NAME = "name"  # preferred, not required: "which base ...?" is often answered by a name
    ANY = "any"


_ABBREVIATED_ROLES = {"general": r"gen\.", "president": r"pres\.", "secretary": r"sec\."}  # fmt: skip
_PERSON_NOUNS = (
    "spokesman|spokeswoman|spokesperson|official|general|minister|cleric|leader|president|"
    "commander|chief|secretary|adviser|advisor|envoy|ambassador|person|man|woman|analyst|"
    "contractor|soldier|civilian|protester|journalist|reporter|candidate|mayor|governor|judge"
)
_ROLE = re.compile(rf"\b(?:{_PERSON_NOUNS})\b")
# How a role is written in a sentence: "Maj. Gen. Tahseen al-Khafaji".
_ROLE_IN_TEXT = {
    noun: rf"\b(?:{noun}|{_ABBREVIATED_ROLES.get(noun, noun)})" for noun in _PERSON_NOUNS.split("|")
}
_WANT_PATTERNS = [
    (
        Want.DATE,
        re.compile(r"^(?:when\b|(?:on |in |by )?(?:what|which) (?:date|day|year|month)\b)"),
    ),
    (
        Want.NUMBER,
        re.compile(
            r"\bhow (?:many|much|long)\b|\b(?:number|percentage|share|figure)s? (?:of|for)\b|"
            r"\bdeath toll\b"
        ),
    ),
    (
        Want.PERSON,
        re.compile(
            rf"^(?:who|whom|whose)\b|^what (?:is|was|are|were) the names? of\b|^which (?:\w+ ){{0,2}}(?:{_PERSON_NOUNS})\b|^what (?:{_PERSON_NOUNS})\b"
        ),
    ),
    (Want.NAME, re.compile(r"^which\b")),
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
_CAPITALISED = re.compile(r"(?<!^)\b[A-Z][\w'’-]+")
# "How many US troops were ...": the words naming what is counted, up to the verb.
_HOW_MANY = re.compile(
    r"\bhow many ((?:(?!(?:did|do|does|were|was|are|is|had|have|has|will|would|could|can|"
    r"remained|remain)\b)[\w'’-]+\s*){1,3})",
    re.IGNORECASE,
)
_ASKS_MONEY = re.compile(
    r"\bhow much\b.*\b(?:cost|costs|pay|paid|earn|spend|spent|price|worth|raise)", re.I
)
_MONEY = re.compile(
    r"[£$€]\s?\d|\b\d[\d,.]*\s*(?:million|billion|bn|m)?\s*(?:dollars|pounds|euros)\b", re.I
)
_YEAR = re.compile(r"\b(?:19|20)\d\d\b")
_NUMBER_WORDS = (
    "one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|dozen|dozens|hundred|"
    "hundreds|thousand|thousands|million|millions|billion"
)
_NUMBER = re.compile(rf"\b(?:\d[\d,.]*|{_NUMBER_WORDS})\b", re.IGNORECASE)
# A full name: two or more capitalised words in a row, allowing "al-", "bin" and titles
# ("Maj. Gen. Tahseen al-Khafaji"). A capitalised first word of a sentence may be caught
# too ("The Pentagon"); holds() compares content terms, so "The" does not count.
_NAME_WORD = r"(?:[A-Z][\w'’-]*\.?|al-\w+|bin)"
_NAME = re.compile(rf"\b{_NAME_WORD}(?:\s+{_NAME_WORD})+")


def wanted(question: str) -> Want:
    """The kind of answer a question asks for."""
    text = question.strip().lower()
    for want, pattern in _WANT_PATTERNS:
        if pattern.search(text):
            return want
    return Want.ANY


def holds(sentence: str, want: Want, question: str) -> bool:
    """Whether `sentence` holds something of the wanted kind that the question lacks.

    The sentence must also mention what the question is about: the role in "who is the
    ambassador?", the thing counted in "how many votes?", money in "how much did it cost?".
    A name beside another role, or a number of something else, answers another question.
    """
    if want is Want.ANY:
        return True
    role = _ROLE.search(question.lower())
    if want is Want.PERSON and role and not re.search(_ROLE_IN_TEXT[role.group(0)], sentence, re.I):
        return False
    if want is Want.NUMBER and not _counts_the_same_thing(sentence, question):
        return False
    pattern = {
        Want.DATE: _DATE_EXPRESSION,
        Want.NUMBER: _NUMBER,
        Want.PERSON: _NAME,
        Want.NAME: _CAPITALISED,
    }[want]
    asked = set(terms(question))
    # A name is new when it is not someone the question already names ("al-Kadhimi").
    named = set(terms(" ".join(_CAPITALISED.findall(question.strip()))))
    return any(
        set(found) - asked and not (want is Want.PERSON and set(found) & named)
        for found in (terms(m.group(0)) for m in pattern.finditer(sentence))
    )


def _counts_the_same_thing(sentence: str, question: str) -> bool:
    counted = _HOW_MANY.search(question)
    if counted and not set(terms(counted.group(1))) & set(terms(sentence)):
        return False
    return not (_ASKS_MONEY.search(question) and not _MONEY.search(sentence))


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
    own: dict[str, float]  # question terms in the sentence itself
    credit: dict[str, float]  # question terms in the sentence (1) or its context (half)


# Reasons to abstain that mean nothing retrieved is about the question, as opposed to no
# sentence holding the kind of thing asked for. An LLM is not asked either in these cases.
NOTHING_TO_SEARCH = "nothing to search for"
UNKNOWN_WORDS = "the question is about words the articles never use"
NO_PASSAGE = "no passage to quote"
NOT_COVERED = "no passage covers enough of the question"
_OFF_TOPIC = frozenset({NOTHING_TO_SEARCH, UNKNOWN_WORDS, NO_PASSAGE, NOT_COVERED})


@dataclass(frozen=True)
class Extract:
    """The extractive answerer's decision: the sentences to quote, or an abstention."""

    sentences: tuple[Sentence, ...]
    abstained: bool
    reason: str
    want: Want

    @property
    def off_topic(self) -> bool:
        """Abstained because no retrieved passage is about the question."""
        return self.abstained and self.reason in _OFF_TOPIC


def split_sentences(hit_number: int, chunk: Chunk) -> list[Sentence]:
    """The sentences of a chunk, with file offsets."""
    return [
        Sentence(hit_number, chunk, chunk.start + a, chunk.start + b, chunk.text[a:b])
        for a, b in sentence_spans(chunk.text)
    ]


def weighted_terms(question: str, history: Sequence[str]) -> dict[str, float]:
    """Question terms with weights: what it asks fully; its time clause and earlier turns less.

    In "How many troops did the Pentagon report when the groups demanded a withdrawal?" the
    clause from "when" on only says which moment is meant; the answer is about the rest.
    """
    cut = _TIME_CLAUSE.search(question)
    main, clause = (question[: cut.start()], question[cut.start() :]) if cut else (question, "")
    weights: dict[str, float] = {}
    for text, weight in [
        *((t, HISTORY_WEIGHT) for t in history),
        (clause, CLAUSE_WEIGHT),
        (main, 1.0),
    ]:
        for term in terms(text):
            if term not in FRAME_WORDS:
                weights[term] = max(weight, weights.get(term, 0.0))
    return weights


def extract(
    question: str,
    history: Sequence[str],
    hits: Sequence[Hit],
    bm25: Bm25Index,
    min_support: float,
) -> Extract:
    """Pick the sentence or two of `hits` that answer `question`, or abstain.

    A question that asks two things ("Who ..., and which ...?") is answered part by part.
    """
    questions = split_question(question)
    # Later parts may refer back to the first ("which of *the group's* leaders ..."); the
    # parts of "between 2018 and 2021" are the same question at two times, and do not.
    linked = not _BETWEEN_TIMES.search(question)
    parts = [
        _answer_part(part, [*history, *(questions[:i] if linked else ())], hits, bm25, min_support)
        for i, part in enumerate(questions)
    ]
    answered = [part for part in parts if not part.abstained]
    if len(parts) == 1 or not answered:
        return parts[0]
    sentences = tuple(dict.fromkeys(s for part in answered for s in part.sentences))
    return Extract(sentences, False, "answered part by part", parts[0].want)


def split_question(question: str) -> list[str]:
    """The parts of a question that asks two things; the question itself otherwise.

    "Who ..., and which ...?" and "How did X compare with Y?" split in two; "How did X
    change between 2018 and 2021?" becomes "How did X ... in 2018" and "... in 2021".
    """
    span = _BETWEEN_TIMES.search(question)
    if span:
        stem = question[: span.start()]
        return [f"{stem} in {span.group(1)}", f"{stem} in {span.group(2)}"]
    parts = [p.strip(" ,") for p in _COMPOUND.split(question) if p.strip(" ,?")]
    return parts if len(parts) > 1 else [question]


def _answer_part(
    question: str,
    history: Sequence[str],
    hits: Sequence[Hit],
    bm25: Bm25Index,
    min_support: float,
) -> Extract:
    want = wanted(question)
    weights = weighted_terms(question, history)
    mass = {term: weight * bm25.idf(term) for term, weight in weights.items()}
    total = sum(mass.values())
    if not hits or total == 0:
        return Extract((), True, NOTHING_TO_SEARCH, want)
    # Words no article uses cannot be matched; too many of them means the question is
    # about something else. The rest is judged on the words the articles do use.
    unknown = sum(m for term, m in mass.items() if bm25.document_frequency(term) == 0)
    if unknown / total > MAX_UNKNOWN_SHARE:
        return Extract((), True, UNKNOWN_WORDS, want)
    known = {term: m for term, m in mass.items() if bm25.document_frequency(term) > 0}

    scored = _score(question, hits, known, want)
    if not scored:
        return Extract((), True, NO_PASSAGE, want)
    best = scored[0]
    chosen = [best]
    second = _second(best, scored[1:], known)
    if second is not None:
        chosen.append(second)
    if _support([c.credit for c in chosen], known) < min_support:
        return Extract((), True, NOT_COVERED, want)
    if want is not Want.NAME and not any(c.has_wanted for c in chosen):
        return Extract((), True, f"no passage that fits the question holds a {want.value}", want)
    return Extract(tuple(c.sentence for c in chosen), False, "answered from the passages", want)


def _second(best: Scored, others: Sequence[Scored], known: dict[str, float]) -> Scored | None:
    """A sentence worth quoting beside the best: nearly as good, or covering what it misses."""
    total = sum(known.values())

    def gain(candidate: Scored) -> float:
        return (
            sum(m for t, m in known.items() if candidate.own.get(t) and not best.own.get(t)) / total
        )

    for candidate in others:
        if same_text(candidate.sentence, best.sentence):
            continue
        if candidate.score >= SECOND_SENTENCE_RATIO * best.score or gain(candidate) >= MIN_GAIN:
            return candidate
    return None


def _support(credits: Sequence[dict[str, float]], known: dict[str, float]) -> float:
    """Share of the question's known-term weight the sentences cover together."""
    total = sum(known.values())
    covered = sum(m * max(c.get(t, 0.0) for c in credits) for t, m in known.items())
    return covered / total if total else 0.0


def _score(question: str, hits: Sequence[Hit], known: dict[str, float], want: Want) -> list[Scored]:
    seen: set[tuple[str, int]] = set()
    scored = []
    # A year in the question is a hard limit: "in 2019" rules out a story dated 2020 (with
    # several years, as in a comparison, a story must match one of them).
    years = set(_YEAR.findall(question))
    for number, hit in enumerate(hits):
        for chunk in (hit.chunk, *hit.copies):
            scored.extend(_score_chunk(question, number, chunk, known, want, years, seen))
    return sorted(scored, key=lambda s: -s.score)


def _score_chunk(
    question: str,
    number: int,
    chunk: Chunk,
    known: dict[str, float],
    want: Want,
    years: set[str],
    seen: set[tuple[str, int]],
) -> list[Scored]:
    scored = []
    context = set(terms(chunk.indexed_text))
    if chunk.date and years and not years & context:
        return scored
    for sentence in split_sentences(number, chunk):
        key = (sentence.chunk.file, sentence.start)
        if key in seen:  # overlapping chunks repeat sentences
            continue
        seen.add(key)
        own_terms = set(terms(sentence.text))
        own = {t: 1.0 for t in known if t in own_terms}
        credit = {t: 1.0 if t in own else CONTEXT_CREDIT for t in known if t in own or t in context}
        support = _support([credit], known)
        has_wanted = holds(sentence.text, want, question) or (
            want is Want.DATE and chunk.date is not None
        )
        score = support + (TYPE_BONUS if has_wanted else 0.0) + RANK_WEIGHT / (1 + number)
        scored.append(Scored(sentence, score, support, has_wanted, own, credit))
    return scored


def same_text(a: Sentence, b: Sentence) -> bool:
    """Two sentences saying the same (copies of one story)."""
    ta, tb = set(terms(a.text)), set(terms(b.text))
    return bool(ta and tb) and len(ta & tb) / len(ta | tb) > 0.6
