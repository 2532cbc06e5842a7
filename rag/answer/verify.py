"""The citation check of a generated answer: parse its `[n]` markers and check each sentence
against the passages it cites (numbers, names and dates present; meaning close by embedding).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np

from rag.answer.citations import MARKER, UNSUPPORTED_MARK, citation, markers
from rag.answer.context import passage, passage_sentences
from rag.answer.prompts import CANNOT_ANSWER
from rag.answer.timeline import date_backed, read_line
from rag.dates import annotate_relative
from rag.grammar import DIRECTIONS, month_number
from rag.lexical import terms, words
from rag.sentences import sentence_spans
from rag.types import Citation, Claim, Hit, Sentence, TimelineEntry

# Markers the sentence splitter put at the start of the next sentence ("... 2020. [1] Then").
_LEADING_MARKERS = re.compile(rf"\s*(?:{MARKER.pattern}\s*)+")
_CAPITALISED = re.compile(r"\b[A-Z][\w'’.-]*")
_SENTENCE_END = re.compile(r"[\s.!?…\"”’')]*$")

Embed = Callable[[Sequence[str]], np.ndarray]  # texts -> L2-normalised rows


@dataclass(frozen=True)
class Checked:
    """A generated answer after its citations were checked."""

    text: str  # bad markers removed, unsupported sentences marked
    claims: list[Claim]
    citations: list[Citation]  # only passages cited by a supported sentence, by number
    dropped: tuple[int, ...]  # cited numbers that were not in the context
    abstained: bool
    unrelated: tuple[int, ...] = ()  # passages cut from sentences they do not support

    def note(self, passages: int) -> str:
        """What the check changed, for the answer's notice ("" when it changed nothing)."""
        notes = []
        if self.dropped:
            notes.append(
                f"Removed citation {markers(self.dropped)}: the model was given passages "
                f"[1] to [{passages}] only."
            )
        if self.unrelated:
            notes.append(
                f"Removed citation {markers(self.unrelated)} from sentences that passage does "
                "not support."
            )
        unsupported = sum(not claim.supported for claim in self.claims)
        if unsupported:
            notes.append(
                f"{unsupported} of {len(self.claims)} sentences marked {UNSUPPORTED_MARK}: no "
                "cited passage supports them; do not rely on them."
            )
        return " ".join(notes)


@dataclass(frozen=True)
class _Marker:
    start: int  # of the whitespace before the marker, so removing it leaves no gap
    end: int
    numbers: tuple[int, ...]


@dataclass(frozen=True)
class _Span:
    start: int
    end: int
    markers: tuple[_Marker, ...]


def check_answer(text: str, hits: Sequence[Hit], embed: Embed, min_similarity: float) -> Checked:
    """Parse the `[n]` markers of a generated answer and check each sentence against the
    passages it cites (numbers, names and dates present; meaning close by embedding)."""
    spans = _spans(text)
    claims, dropped = _claims(text, spans, len(hits))
    real = [
        i
        for i, claim in enumerate(claims)
        if terms(claim.text) and not _is_cannot_answer(claim.text)
    ]
    support = _Support(hits, [claims[i] for i in real if claims[i].citations], embed)
    checked = {
        i: support.judge(claims[i], min_similarity)
        if claims[i].citations
        else _uncited(claims[i], spans[i], len(hits))
        for i in real
    }
    kept = [checked[i] for i in real]
    # Nothing but the phrase (perhaps with an explanation), or no sentence at all.
    if not kept or (_is_cannot_answer(text) and not any(c.supported for c in kept)):
        return Checked(CANNOT_ANSWER, [], [], tuple(dropped), True)
    supported = [claim for claim in kept if claim.supported]
    return Checked(
        text=_rewrite(text, spans, checked),
        claims=kept,
        citations=support.citations(supported),
        dropped=tuple(dropped),
        abstained=False,
        unrelated=_unrelated(claims, checked),
    )


def _unrelated(written: Sequence[Claim], checked: dict[int, Claim]) -> tuple[int, ...]:
    """Passages a supported sentence cited that do not back it (cut from its markers)."""
    cut = [
        n
        for i, claim in checked.items()
        if claim.supported
        for n in written[i].citations
        if n not in claim.citations
    ]
    return tuple(dict.fromkeys(cut))


def _claims(text: str, spans: Sequence[_Span], passages: int) -> tuple[list[Claim], list[int]]:
    """Each sentence as the model wrote it, not yet checked, citing the valid numbers of its
    markers; and the numbers cited that were not in the context."""
    claims: list[Claim] = []
    dropped: list[int] = []
    for span in spans:
        cited = tuple(dict.fromkeys(n for m in span.markers for n in m.numbers))
        valid = tuple(n for n in cited if 1 <= n <= passages)
        dropped += [n for n in cited if n not in valid and n not in dropped]
        claims.append(Claim(_clean(text[span.start : span.end]), valid, supported=False))
    return claims, dropped


def _uncited(claim: Claim, span: _Span, passages: int) -> Claim:
    """A sentence citing no passage of the context: unsupported, saying what it cited."""
    numbers = [n for m in span.markers for n in m.numbers]
    why = "cites no passage"
    if numbers:
        why = f"cites only {markers(numbers)}, but the context held passages [1] to [{passages}]"
    return Claim(claim.text, (), False, why)


def _spans(text: str) -> list[_Span]:
    """Sentences of `text` with their markers; markers opening a sentence go to the one before."""
    spans: list[_Span] = []
    for start, end in sentence_spans(text):
        leading = _LEADING_MARKERS.match(text, start, end)
        if leading and spans and leading.end() > start:
            previous = spans[-1]
            spans[-1] = _Span(
                previous.start, previous.end, previous.markers + _find(text, start, leading.end())
            )
            start = leading.end()
        if start < end:
            spans.append(_Span(start, end, _find(text, start, end)))
    return spans


def _find(text: str, start: int, end: int) -> tuple[_Marker, ...]:
    markers = []
    for match in MARKER.finditer(text, start, end):
        gap = len(text[start : match.start()]) - len(text[start : match.start()].rstrip())
        numbers = tuple(int(n) for n in match.group(1).split(","))
        markers.append(_Marker(match.start() - gap, match.end(), numbers))
    return tuple(markers)


def _clean(sentence: str) -> str:
    """A sentence without its markers and the spaces they leave."""
    without = MARKER.sub("", sentence)
    return re.sub(r"\s+([.,;:!?])", r"\1", re.sub(r"\s+", " ", without)).strip()


def _is_cannot_answer(text: str) -> bool:
    phrase = " ".join(words(CANNOT_ANSWER))
    return phrase in " ".join(words(MARKER.sub(" ", text)))


def _rewrite(text: str, spans: Sequence[_Span], checked: dict[int, Claim]) -> str:
    """The answer with markers cut to the valid numbers of supported sentences, and every
    unsupported sentence marked where its markers were (or at its end)."""
    edits: list[tuple[int, int, str]] = []
    for i, span in enumerate(spans):
        claim = checked.get(i)
        if claim is None:  # no words (a stray marker) or the cannot-answer phrase
            edits += [(m.start, m.end, "") for m in span.markers]
            continue
        if not claim.supported:
            edits += [(m.start, m.end, "") for m in span.markers]
            at = span.markers[0].start if span.markers else _before_end(text, span)
            edits.append((at, at, f" {UNSUPPORTED_MARK}"))
            continue
        seen: set[int] = set()
        held = ""  # the space before a removed marker goes to the next kept one: "a [9][1]"
        for marker in span.markers:
            keep = [n for n in marker.numbers if n in claim.citations and n not in seen]
            seen.update(keep)
            gap = text[marker.start : marker.end].split("[", 1)[0]
            if keep:
                edits.append((marker.start, marker.end, (gap or held) + markers(keep)))
                held = ""
            else:
                edits.append((marker.start, marker.end, ""))
                held = held or gap
    for start, end, replacement in sorted(edits, key=lambda e: (e[0], e[1]), reverse=True):
        text = text[:start] + replacement + text[end:]
    return text.strip()


def _before_end(text: str, span: _Span) -> int:
    """Where a mark goes in a sentence: before its closing punctuation and quotes."""
    sentence = text[span.start : span.end]
    trailing = _SENTENCE_END.search(sentence)  # always matches, perhaps nothing
    return span.start + len(sentence) - (len(trailing.group(0)) if trailing else 0)


def _checkable(sentence: str) -> list[tuple[str, str]]:
    """(as written, term) for the numbers, dates and names of a sentence: what a passage
    must contain for the sentence to be its claim. The first word is left out: it is
    capitalised because it starts the sentence."""
    found: dict[str, str] = {}
    for word in words(sentence):
        if any(ch.isdigit() for ch in word):
            for term in _lexicon(word):
                found.setdefault(term, word)
    first = re.search(r"\w", sentence)
    for match in _CAPITALISED.finditer(sentence):
        if first and match.start() == first.start():
            continue
        for term in _lexicon(match.group(0)):
            found.setdefault(term, match.group(0).rstrip("."))
    return [(written, term) for term, written in found.items()]


def _reversed(claim: str, saying: Sequence[str]) -> str | None:
    """How the claim reverses its source ("says 'rose' where the source says 'was cut'"),
    when it has a word of change or outcome and the sentences saying it have only the
    opposite one."""
    said = {word for text in saying for word in words(text)}
    for group in DIRECTIONS:
        for own, opposite in (group, group[::-1]):
            claimed = [word for word in words(claim) if word in own]
            if claimed and not said & own and (against := sorted(said & opposite)):
                return f"says '{claimed[0]}' where the source says '{against[0]}'"
    return None


def _moved_figures(written_terms: Sequence[tuple[str, str]], saying: Sequence[str]) -> str | None:
    """The claim's numbers and dates that its passage holds, but not in the sentences saying
    what the claim says (a figure or date moved from elsewhere in the passage)."""
    held = set().union(*(_lexicon(text) for text in saying))
    moved = [
        written
        for written, term in written_terms
        if (term.startswith("month-") or any(ch.isdigit() for ch in term)) and term not in held
    ]
    return f"{', '.join(moved)} not said with it" if moved else None


def _lexicon(text: str) -> set[str]:
    """The terms of `text` as the support check compares them: stemmed, "2,500" as "2500",
    and a month however written ("Sept.", "September") as its number."""
    found = set()
    for word in words(text):
        month = month_number(word)
        found.update([f"month-{month}"] if month else terms(word))
    return found


class _Support:
    """The cited passages' sentences, embedded once, and the checks against them."""

    def __init__(self, hits: Sequence[Hit], claims: Sequence[Claim], embed: Embed) -> None:
        self.hits = hits
        cited = sorted({n for claim in claims for n in claim.citations})
        self.sentences = {n: passage_sentences(n, hits[n - 1]) for n in cited}
        self.terms = {n: _lexicon(passage(n, hits[n - 1])) for n in cited}
        texts = [c.text for c in claims] + [s.text for n in cited for s in self.sentences[n]]
        vectors = embed(texts) if texts else np.zeros((0, 0), dtype=np.float32)
        self.claim_vectors = {c.text: vectors[i] for i, c in enumerate(claims)}
        rows = iter(vectors[len(claims) :])
        self.sentence_vectors = {n: [next(rows) for _ in self.sentences[n]] for n in cited}
        self.best: dict[tuple[str, int], Sentence] = {}

    def judge(self, claim: Claim, min_similarity: float) -> Claim:
        """`claim` checked: supported and citing only the passages that back it, or why not.

        The cited passages together must hold its numbers, names and dates. A passage backs
        it when one of its sentences means nearly the same (embedding similarity) and it holds
        some of those terms, or when it is the only one holding some of them.
        """
        written_terms = _checkable(claim.text)
        checkable = {term for _, term in written_terms}
        known = set().union(*(self.terms[n] for n in claim.citations))
        missing = [written for written, term in written_terms if term not in known]
        cited = markers(claim.citations)
        if missing:
            return Claim(claim.text, claim.citations, False, f"{', '.join(missing)} not in {cited}")
        similarity = {n: self._closest(claim, n) for n in claim.citations}

        def only_holder(n: int) -> bool:
            others = set().union(*(self.terms[m] for m in claim.citations if m != n))
            return bool(checkable & self.terms[n] - others)

        backing = tuple(
            n
            for n in claim.citations
            if only_holder(n)
            or (similarity[n] >= min_similarity and (not checkable or checkable & self.terms[n]))
        )
        if max(similarity.values()) < min_similarity or not backing:
            best = max(similarity.values())
            return Claim(
                claim.text, claim.citations, False,
                f"no sentence of {cited} says this (similarity {best:.2f})",
            )  # fmt: skip
        saying = self._saying(claim, backing, min_similarity)
        if problem := _reversed(claim.text, saying) or _moved_figures(written_terms, saying):
            return Claim(claim.text, claim.citations, False, f"{problem} in {markers(backing)}")
        return Claim(claim.text, backing, True)

    def _closest(self, claim: Claim, n: int) -> float:
        """How close passage `n`'s closest sentence comes to the claim; its quote for the
        claim is remembered: the sentence sharing most words with it, then meaning most."""
        claim_terms = set(terms(claim.text))
        scored = [
            (float(vector @ self.claim_vectors[claim.text]), sentence)
            for sentence, vector in zip(self.sentences[n], self.sentence_vectors[n], strict=True)
        ]
        _, self.best[(claim.text, n)] = max(
            scored, key=lambda pair: (len(claim_terms & set(terms(pair[1].text))), pair[0])
        )
        return max(score for score, _ in scored)

    def _saying(self, claim: Claim, backing: Sequence[int], min_similarity: float) -> list[str]:
        """The sentences of the backing passages that say what the claim says: its best match
        in each, and every other sentence at least `min_similarity` close to it, with their
        relative dates resolved as the model read them."""
        vector = self.claim_vectors[claim.text]
        found = [self.best[(claim.text, n)] for n in backing]
        for n in backing:
            for sentence, row in zip(self.sentences[n], self.sentence_vectors[n], strict=True):
                if float(row @ vector) >= min_similarity:
                    found.append(sentence)
        return [annotate_relative(s.text, s.chunk.date) for s in found]

    def citations(self, claims: Sequence[Claim]) -> list[Citation]:
        """One citation per passage the supported claims cite: the stretch of the passage from
        the first to the last sentence that supports them."""
        chosen: dict[int, list[Sentence]] = {}
        for claim in claims:
            for n in claim.citations:
                chosen.setdefault(n, []).append(self.best[(claim.text, n)])
        citations = []
        for n in sorted(chosen):
            # One quote per passage, from one file: the chunk (passage or folded copy) that
            # backs the most claims, the passage itself on a tie.
            rank = [self.hits[n - 1].chunk, *self.hits[n - 1].copies]
            chunk = max(
                dict.fromkeys(s.chunk for s in chosen[n]),
                key=lambda c: (sum(s.chunk is c for s in chosen[n]), -rank.index(c)),
            )
            quoted = [s for s in chosen[n] if s.chunk is chunk]
            first = min(quoted, key=lambda s: s.start)
            last = max(quoted, key=lambda s: s.end)
            text = first.chunk.text[first.start - first.chunk.start : last.end - first.chunk.start]
            span = Sentence(n - 1, first.chunk, first.start, last.end, text)
            citations.append(citation(n, span, self.hits[n - 1]))
        return citations


def check_timeline(
    reply: str, hits: Sequence[Hit], embed: Embed, min_similarity: float
) -> tuple[Checked, tuple[TimelineEntry, ...]]:
    """Check a model-written timeline line by line: each statement as any answer sentence
    is checked, and its date against the passages backing it (a day they give, a year they
    name). The text is rewritten oldest first; only lines that pass become entries. A reply
    with no dated line is checked as ordinary prose."""
    written = [read_line(line) for line in reply.splitlines() if line.strip()]
    lines = [line for line in written if line is not None]
    if not lines:
        return check_answer(reply, hits, embed, min_similarity), ()
    rows: list[tuple[date, str]] = []
    claims: list[Claim] = []
    citations: dict[int, Citation] = {}
    dropped: set[int] = set()
    entries: list[TimelineEntry] = []
    for line in lines:
        checked = check_answer(line.statement, hits, embed, min_similarity)
        dropped.update(checked.dropped)
        backing = tuple(dict.fromkeys(n for c in checked.claims for n in c.citations))
        supported = bool(checked.claims) and all(c.supported for c in checked.claims)
        statement = _clean(line.statement)
        dated = date_backed(line.dated, hits, backing) if supported else None
        if supported and dated is None:
            problem = f"{line.dated.text} is not a date {markers(backing)} gives"
            claims.append(Claim(statement, backing, False, problem))
            # Marked as any unsupported sentence is: where its markers were.
            spans = _spans(line.statement)
            unsupported = {i: Claim(statement, backing, False, problem) for i in range(len(spans))}
            marked = _rewrite(line.statement, spans, unsupported)
            rows.append((line.dated.when, f"- {line.dated.text}: {marked}"))
            continue
        claims.extend(checked.claims)
        rows.append((line.dated.when, f"- {line.dated.text}: {checked.text}"))
        if dated is not None:
            citations.update({c.n: c for c in checked.citations})
            entries.append(TimelineEntry(
                dated.when, dated.text, dated.precision, dated.basis, statement, backing
            ))  # fmt: skip
    text = "\n".join(row for _, row in sorted(rows, key=lambda row: row[0]))
    kept = Checked(
        text, claims, [citations[n] for n in sorted(citations)], tuple(sorted(dropped)), False
    )
    return kept, tuple(sorted(entries, key=lambda entry: entry.when))
