"""The model's path: the model writes the answer from the numbered passages, streamed, and
every sentence of it is checked against the passages it cites before it is shown."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from dataclasses import replace

from rag.answer.confidence import CALIBRATOR
from rag.answer.context import numbered_context
from rag.answer.extractive import Extract, closest_passages
from rag.answer.llm import LLMServer
from rag.answer.prompts import CANNOT_ANSWER, render
from rag.answer.query import MAX_QUESTION_CHARS
from rag.answer.verify import Embed, check_answer, check_timeline
from rag.types import Answer, Claim, Confidence, Hit, LLMError

# A reply is cut here: answers are a few sentences, and a small model left to run on writes
# pages of lists. The cut text is still checked like any other.
MAX_ANSWER_CHARS = 2000
# A reply whose same line (list numbers aside) comes this many times is stopped: the model
# is looping, and the rest would be more of the same.
REPEATS_TO_STOP = 3
# Fewer than this share of a reply's sentences supported by the passages they cite, and the
# reply is set aside for the extractive answer: a reader would be left to find the few
# sound sentences among the rest.
MIN_SUPPORTED_SHARE = 0.5

# The extractive answer from the same passages, told the line that says why it replaces the
# model's (Pipeline makes it: it holds the keyword index the reader needs).
Fallback = Callable[[str], Answer]


def generate(
    question: str,
    searched_for: str,
    hits: Sequence[Hit],
    relevance: Extract,
    client: LLMServer,
    embed: Embed,
    min_similarity: float,
    fallback: Fallback,
    time_limit: float,
    timeline: bool = False,
) -> Generator[str, None, Answer]:
    """Stream the model's answer to `searched_for` from `hits`, then return it checked.

    With `timeline` (a question about how something changed) the model is asked for one
    dated line per statement, and each line's statement and date are checked.

    `relevance` is the extractive answerer's judgement of the passages: when nothing
    retrieved is about the question, the model is not asked, so it cannot answer from its
    own knowledge. Raises LLMError only before the first piece; a reply that breaks off
    later ends as an answer that says so. The reply is stopped after `time_limit` seconds,
    at MAX_ANSWER_CHARS or when it repeats itself; one that the passages mostly do not
    support is replaced by `fallback`'s answer (the streamed pieces then give way to it).
    """
    model = client.model
    if relevance.off_topic:
        shown = () if relevance.unrelated else tuple(hits)
        answer = Answer(
            question=question, answer=CANNOT_ANSWER, abstained=True, mode=client.mode,
            citations=(), hits=shown, searched_for=searched_for,
            notice=f"Not asking {model}: {relevance.reason}.", model=model,
            closest=closest_passages(shown),
        )  # fmt: skip
        yield answer.answer
        return answer
    context = numbered_context(hits)
    if timeline:
        prompt = render("timeline", context=context, question=searched_for)
    else:
        prompt = render("answer", context=context, question=searched_for, hint=hint(relevance))
    pieces: list[str] = []
    broke_off = ""
    try:
        written = without_thinking(client.stream(prompt, system=render("system")))
        stream = bounded(written, time_limit)
        for piece in stream:
            pieces.append(piece)
            yield piece
        broke_off = stream.stopped
    except LLMError as error:
        if not pieces:
            raise
        broke_off = str(error)
    reply = "".join(pieces)
    if timeline:
        checked, entries = check_timeline(reply, hits, embed, min_similarity)
    else:
        checked, entries = check_answer(reply, hits, embed, min_similarity), ()
    reason = set_aside(checked.abstained, checked.claims, model)
    if reason:
        instead = fallback(" ".join(filter(None, [broke_off, reason])))
        return replace(instead, model=model, claims=tuple(checked.claims), fallback_reason=reason)
    notice = " ".join(filter(None, [broke_off, checked.note(len(hits))]))
    return Answer(
        question=question, answer=checked.text, abstained=checked.abstained, mode=client.mode,
        citations=tuple(checked.citations), hits=tuple(hits), searched_for=searched_for,
        notice=notice or None, model=model, claims=tuple(checked.claims), timeline=entries,
        confidence=confidence(checked.abstained, checked.claims, relevance),
    )  # fmt: skip


class bounded:  # noqa: N801 - used like the generator it wraps
    """The model's pieces until `time_limit` seconds have passed, the reply reaches
    MAX_ANSWER_CHARS or a line of it comes REPEATS_TO_STOP times; `stopped` then says which
    ("" when the model finished by itself). Stopping closes the request."""

    def __init__(self, pieces: Iterable[str], time_limit: float) -> None:
        self._pieces = iter(pieces)
        self._deadline = time.monotonic() + time_limit
        self._time_limit = time_limit
        self._reply = ""
        self.stopped = ""

    def __iter__(self) -> bounded:
        return self

    def __next__(self) -> str:
        if self.stopped:
            raise StopIteration
        piece = next(self._pieces)
        self._reply += piece
        if time.monotonic() > self._deadline:
            self.stopped = f"The model was stopped after {self._time_limit:g} s of writing."
        elif len(self._reply) > MAX_ANSWER_CHARS:
            self.stopped = f"The model was stopped at {MAX_ANSWER_CHARS:,} characters."
        elif piece.count("\n") and _repeats(self._reply):
            self.stopped = "The model was stopped: it was repeating itself."
        if self.stopped:
            close = getattr(self._pieces, "close", None)
            if close:
                close()
        return piece


# A reasoning model's thinking, written before its answer (qwen3, deepseek-r1 and others).
_THINK_OPEN, _THINK_CLOSE = "<think>", "</think>"


def without_thinking(pieces: Iterable[str]) -> Iterator[str]:
    """The reply's pieces without its <think>...</think> part: the thinking is neither shown
    as answer text nor checked as claims. Closing this closes `pieces`."""
    held, thinking, thought = "", False, False
    try:
        for piece in pieces:
            held += piece
            if thought and not thinking:  # the answer starts after the blank lines that follow
                held = held.lstrip()
            shown = []
            while True:
                if thinking:
                    end = held.find(_THINK_CLOSE)
                    if end < 0:  # keep what could be the start of the closing tag
                        held = held[-len(_THINK_CLOSE) :]
                        break
                    held, thinking, thought = held[end + len(_THINK_CLOSE) :].lstrip(), False, True
                    continue
                start = held.find(_THINK_OPEN)
                if start >= 0:
                    shown.append(held[:start])
                    held, thinking = held[start + len(_THINK_OPEN) :], True
                    continue
                keep = _open_tag_begun(held)
                shown.append(held[: len(held) - keep])
                held = held[len(held) - keep :]
                break
            if "".join(shown):
                thought = False
                yield "".join(shown)
        if held and not thinking:
            yield held
    finally:
        close = getattr(pieces, "close", None)
        if close:
            close()


def _open_tag_begun(text: str) -> int:
    """How many of `text`'s last characters could begin an opening think tag."""
    for size in range(min(len(text), len(_THINK_OPEN) - 1), 0, -1):
        if _THINK_OPEN.startswith(text[-size:]):
            return size
    return 0


# A list item's number or bullet, left out when comparing lines.
_LIST_MARK = re.compile(r"^\s*(?:\d+[.)]|[-*•])\s*")


def _repeats(reply: str) -> bool:
    """Whether one finished line of `reply` (list numbers aside) comes REPEATS_TO_STOP times."""
    lines = [_LIST_MARK.sub("", line).strip().lower() for line in reply.split("\n")[:-1]]
    counts: dict[str, int] = {}
    for line in filter(None, lines):
        counts[line] = counts.get(line, 0) + 1
        if counts[line] >= REPEATS_TO_STOP:
            return True
    return False


def set_aside(abstained: bool, claims: Sequence[Claim], model: str) -> str | None:
    """Why a checked reply must not be shown as the answer: fewer than MIN_SUPPORTED_SHARE
    of its sentences are supported by the passages they cite (None: it may be shown)."""
    if abstained or not claims:
        return None
    supported = sum(claim.supported for claim in claims)
    if supported >= MIN_SUPPORTED_SHARE * len(claims):
        return None
    return (
        f"{model}'s answer was set aside ({supported} of its {len(claims)} sentences are "
        "supported by the passages they cite); the answer quotes the articles instead."
    )


def confidence(abstained: bool, claims: Sequence[Claim], relevance: Extract) -> Confidence:
    """How sure a generated answer is: "high" only when every sentence of it is supported by
    a passage it cites and the extractive reading of the same passages is sure of its own
    answer; "none" for a decline."""
    if abstained:
        return Confidence.NONE
    if relevance.evidence is None or not all(claim.supported for claim in claims):
        return Confidence.LOW
    return CALIBRATOR.level(relevance.evidence)


def hint(relevance: Extract) -> str:
    """A line for the prompt when the passages are about the question but the extractive
    reading found none that holds what it asks for ("" otherwise): small models tend to
    answer from a nearby fact instead of saying the passages do not tell."""
    if not relevance.abstained or relevance.off_topic:
        return ""
    return (
        f"\n- Note: a reading of these passages found that {relevance.reason.value}; check "
        "that one really answers the question before you answer from it."
    )


def condense(client: LLMServer, question: str, history: Sequence[str]) -> str | None:
    """A follow-up rewritten by the model into a question that stands alone, or None when
    the reply is empty or too long to be one. Raises LLMError."""
    reply = client.complete(render("condense", history="\n".join(history), question=question))
    # Small models sometimes repeat the label, quote the question or explain after it.
    lines = (
        line.removeprefix("Standalone question:").strip(" \"'") for line in reply.splitlines()
    )
    rewritten = next((line for line in lines if line), "")
    return rewritten if 0 < len(rewritten) <= MAX_QUESTION_CHARS else None
