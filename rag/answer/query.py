"""A question read once: its parts, what each asks for, its weighted terms, years and role.

Every later stage (retrieval, the extractive answerer, the Ollama path) works from the
`Query` built here instead of parsing the question again.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from rag.grammar import MONTH_WORDS, YEAR, YEAR_PATTERN
from rag.lexical import terms
from rag.types import UserError

MAX_QUESTION_CHARS = 2000
# Words that point back to an earlier turn ("which channel did *he* speak to?").
_BACK_REFERENCE = re.compile(
    r"\b(?:he|she|it|they|him|her|his|hers|its|their|them|there|then|that|this|these|those)\b",
    re.IGNORECASE,
)
# "How old was Dan O'Herlihy when he died?": a question whose subject, after its question
# word and verb, is a name of its own says whom its pronouns mean ("he" is O'Herlihy); one
# whose subject is a pronoun or "the ..." leans on the turns before ("What is his job?").
_SUBJECT = re.compile(
    r"^\W*(?:how \w+|what|which|who|whom|whose|when|where|why)(?:\s+[\w'’-]+){0,5}?\s+"
    r"(?:is|was|are|were|did|does|do|has|have|had|will|would|could|can)\s+(?P<subject>[\w'’-]+)",
    re.IGNORECASE,
)
# Words that open a subject without naming it.
_NOT_A_NAME = re.compile(
    r"(?:the|a|an|any|some|each|every|all|both|my|our|your|many|much|more|most|one|ones|"
    r"who|what|which|\d[\d,.]*)",
    re.IGNORECASE,
)
# How many earlier turns a follow-up is searched with, at most: a chain of follow-ups.
HISTORY_TURNS = 2
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
    r"|,\s+and\s+(?=(?:the|a|an)\b)"  # "the group whose guard ..., and the party whose ..."
    r"|\s+(?:compared?\s+(?:with|to)|versus|vs\.?)\s+",  # "how did X compare with Y?"
    re.I,
)
# "compare X with Y": two things to find, each a part.
_COMPARE = re.compile(
    r"^\W*compare\s+(?P<first>.+?)\s+(?:with|to|against)\s+(?P<second>.+?)\W*$", re.I
)
# A time: "2021", "in april 2021".
_A_TIME = re.compile(rf"\s*\b(?:in\s+)?(?:(?:{MONTH_WORDS})\.?\s+)?{YEAR}\b", re.I)
# "How many troops are there now?": the answer is the newest one, not the best worded.
_PRESENT = re.compile(
    r"\b(?:now|currently|current|latest|today|at present|these days|still|so far|to date)\b",
    re.I,
)
# Words of the present that say when, never what about: a question of nothing else ("how
# are you doing today") has no subject to search for.
NOW_TERMS = frozenset(terms("now currently current latest today"))
# "How did troop levels change?", "Since when ...?": the answer is a history.
_CHANGE = re.compile(
    r"\bhow (?:did|has|have|had|does|do)\b.*\bchang|\bsince when\b|\bover (?:time|the years)\b"
    r"|\bhistory of\b|\btimeline\b|\bevolv",
    re.I,
)
# "How many troops were/are/remain ...": asks for a level, not for what an event counted.
_LEVEL = re.compile(
    r"\bhow (?:many|much)\b(?:(?!\b(?:did|does|do|will|would)\b)[^?])*?"
    r"\b(?:are|were|is|was|remain|remains|remained|have|has|had)\b",
    re.I,
)
# Words that tie a question to one time ("in March", "after the attack", "this year").
_ANCHORED = re.compile(
    rf"\b(?:{MONTH_WORDS}|this|last|next|after|before|during|since|until|when|by)\b", re.I
)
# "... between February 2018 and April 2021?", "... from feb 2018 to april 2021": the same
# question at two times.
_BETWEEN_TIMES = re.compile(
    rf"\s+(?:between|from)\s+((?:\w+\s+)?{YEAR})\s+(?:and|to|until|till)\s+"
    rf"((?:\w+\s+)?{YEAR})\s*\?*$",
    re.I,
)
# Where a time clause starts: a linking word after the question's first words.
_TIME_CLAUSE = re.compile(r"(?<=\w )(?:when|while|after|before|during|as)\b", re.IGNORECASE)


class Want(StrEnum):
    """What kind of thing a question asks for."""

    DATE = "date"
    NUMBER = "number"
    PERSON = "person"
    PLACE = "place"
    NAME = "name"  # preferred, not required: "which base ...?" is often answered by a name
    ANY = "any"


_ABBREVIATED_ROLES = {"general": r"gen\.", "president": r"pres\.", "secretary": r"sec\."}
PERSON_NOUNS = (
    "spokesman|spokeswoman|spokesperson|official|general|minister|cleric|leader|president|"
    "commander|chief|secretary|adviser|advisor|envoy|ambassador|person|man|woman|analyst|"
    "contractor|soldier|civilian|protester|journalist|reporter|candidate|mayor|governor|judge|"
    # General English nouns for people by occupation or part played, not taken from questions.
    "lawyer|attorney|player|striker|defender|midfielder|goalkeeper|captain|coach|manager|boss|"
    "executive|founder|chairman|chairwoman|director|producer|actor|actress|singer|rapper|"
    "musician|guitarist|bassist|drummer|artist|author|writer|novelist|presenter|host|winner|"
    "champion|scientist|doctor|chancellor|economist|designer|owner|founder"
)
# Nouns for places: a "which ..." question about one is answered by a place name.
PLACE_NOUNS = (
    "city|town|village|country|county|state|region|province|capital|place|venue|ground|stadium|"
    "arena|street|island|continent|area|location|site|court|hospital|prison|airport|port|"
    "plant|factory|university|school"
)
# Nouns for quantities: a "what ..." question about one is answered by a number.
QUANTITY_NOUNS = (
    "number|total|amount|figure|rate|price|cost|budget|revenue|profit|loss|salary|fee|fine|"
    "score|population|turnover|sales|percentage|share|sum|value|deficit|debt|growth|age"
)
# A role, whole: "chief executive" is an executive, "police chief" a chief (the last noun of
# a compound is its head).
_ROLE = re.compile(rf"\b(?:(?:{PERSON_NOUNS})\s+)*(?P<head>{PERSON_NOUNS})\b")
# How a role is written in a sentence: "Maj. Gen. Tahseen al-Khafaji".
# One role written for a man, a woman or anyone: a question about the "spokesperson" is
# answered by the article's "spokesman".
_ROLE_FAMILIES = (("spokesman", "spokeswoman", "spokesperson"), ("chairman", "chairwoman"))
_SAME_ROLE = {noun: family for family in _ROLE_FAMILIES for noun in family}
ROLE_IN_TEXT = {
    noun: re.compile(
        rf"\b(?:{'|'.join(_SAME_ROLE.get(noun, (noun,)))}|{_ABBREVIATED_ROLES.get(noun, noun)})",
        re.I,
    )
    for noun in PERSON_NOUNS.split("|")
}
_WANT_PATTERNS = [
    (
        Want.DATE,
        re.compile(r"^(?:when\b|(?:\w+ )?(?:what|which) (?:date|day|year|month)\b)"),
    ),
    (
        Want.NUMBER,
        re.compile(
            r"\bhow (?:many|much|long|big|large|high|old|far|tall|heavy|fast)\b|"
            r"\b(?:number|percentage|share|figure)s? (?:of|for)\b|"
            r"\bdeath toll\b|"
            rf"^(?:\w+ )?(?:what|which)(?: (?:is|was|are|were))?(?: [\w'’-]+){{0,3}}? "
            rf"(?:{QUANTITY_NOUNS})s?\b(?! of (?:the )?(?:{PERSON_NOUNS}))"
        ),
    ),
    (
        Want.PERSON,
        re.compile(
            rf"^(?:who|whom|whose)\b|^what (?:is|was|are|were) the names? of\b|"
            rf"^which (?:\w+ ){{0,2}}(?:{PERSON_NOUNS})\b|^what (?:{PERSON_NOUNS})\b"
        ),
    ),
    (
        Want.PLACE,
        re.compile(rf"^where\b|^(?:\w+ )?(?:what|which)(?: [\w'’-]+){{0,2}}? (?:{PLACE_NOUNS})\b"),
    ),
    (Want.NAME, re.compile(r"^which\b")),
]
# Words that open an instruction instead of a question: "tell me who ...", "name the ...".
_LEAD_IN = re.compile(
    r"^(?:(?:please|so|ok|okay|and|but|now)\s+)*(?:(?:can|could|would) you\s+)?(?:please\s+)?"
    r"(?:tell me|show me|give me|find|list|name|i want to know|i'd like to know|do you know)"
    r"\s+(?:about\s+)?",
    re.IGNORECASE,
)
# A question word that opens a clause, or follows a preposition ("links to which group?");
# after a noun it opens a relative clause of a noun phrase ("court where he got bail").
_QUESTION_WORD = re.compile(
    r"\W*(?:.*\b(?:for|in|to|at|by|with|from|on|of|about|since|until|into)\s+)?"
    r"(?:who|whom|whose|what|which|when|where|why|how)\b"
)
# Where a noun phrase's head ends: "date | of the attack", "court | where he got bail".
_PHRASE_BREAK = re.compile(
    r"\b(?:of|for|in|at|on|to|from|by|with|about|who|whom|whose|that|which|where|when)\b"
)
# Nouns that say what a noun phrase asks for, in this order of precedence when a word is
# several: the general noun lists above, and the words for a point in time.
_KIND_NOUNS = (
    (Want.DATE, re.compile(r"dates?|days?|years?|months?")),
    (Want.NUMBER, re.compile(rf"(?:{QUANTITY_NOUNS})s?")),
    (Want.PERSON, re.compile(rf"(?:{PERSON_NOUNS})s?")),
    (Want.PLACE, re.compile(rf"(?:{PLACE_NOUNS})s?")),
)
# A capitalised word that does not open the text: a name, or part of one.
CAPITALISED = re.compile(r"(?<!^)\b[A-Z][\w'’-]+")
# "How many US troops were ...": the words naming what is counted, up to the verb.
_HOW_MANY = re.compile(
    r"\bhow many ((?:(?!(?:did|do|does|were|was|are|is|had|have|has|will|would|could|can|"
    r"remained|remain)\b)[\w'’-]+\s*){1,3})",
    re.IGNORECASE,
)
# The same typed as a noun phrase: "number of us forces", "us troop numbers".
_NUMBER_OF = (
    re.compile(
        r"\bnumbers? of ((?:(?!(?:in|at|on|for|during|by|from|to|who|that)\b)[\w'’-]+\s*){1,3})",
        re.I,
    ),
    re.compile(r"((?:\b[\w'’-]+\s+){1,2})(?=numbers?\b|count\b|totals?\b)", re.I),
)
# Nouns for amounts of money: a question about one is answered by a sum ("$6bn", "£339").
MONEY_NOUNS = (
    "price|cost|budget|revenue|profit|salary|fee|fine|turnover|sales|deficit|debt|wage|bid|"
    "money|earnings|income|investment|funding|compensation|damages|bonus"
)
_ASKS_MONEY = re.compile(
    rf"\bhow (?:much|big|large|high)\b.*\b(?:cost|costs|pay|paid|earn|spend|spent|price|worth|"
    rf"raise|{MONEY_NOUNS})"
    rf"|^(?:\w+ )?(?:what|which)(?: (?:is|was|are|were))?(?: [\w'’-]+){{0,3}}? "
    rf"(?:{MONEY_NOUNS})s?\b",
    re.I,
)


@dataclass(frozen=True)
class Part:
    """One thing a question asks ("Who ..., and which ...?" has two parts)."""

    text: str
    want: Want
    weights: dict[str, float]  # stemmed term -> weight: 1 asked, less for clause and history
    years: frozenset[str]  # years the part names: a story dated otherwise cannot answer it
    role: str | None  # "spokesman" in "who is the spokesman?": the name must stand beside it
    counted: frozenset[str] | None  # terms of what "how many ..." counts
    counted_noun: str | None  # its last term, the thing counted: "troop" in "US troops"
    asks_money: bool  # "how much did it cost?": the answer is an amount of money
    asks_owner: bool  # "whose refinery ...?": the one asked for may be a company, not a person
    asked: frozenset[str]  # every term of the part
    named: frozenset[str]  # terms of the capitalised words: names the part already gives
    present: bool = False  # asks how things stand now: the newest evidence answers
    over_time: bool = False  # asks how something changed, or a figure at no stated time


@dataclass(frozen=True)
class Query:
    """A question read once, with the earlier turns it refers back to."""

    question: str
    context: tuple[str, ...]  # earlier questions a follow-up points back to
    parts: tuple[Part, ...]
    whole: Part  # the question read as one part
    search_texts: tuple[str, ...]  # what to search for: one text per part of searched_for

    @property
    def timeline(self) -> bool:
        """Whether the answer may be a timeline: one question about how something changed."""
        return self.whole.over_time and len(self.parts) == 1

    @property
    def searched_for(self) -> str:
        """The question joined to the earlier turns it refers to."""
        return " ".join([*self.context, self.question])


def check_question(question: str) -> str:
    """The question without control characters; UserError when empty or too long."""
    cleaned = re.sub(r"[\x00-\x08\x0b-\x1f\x7f]", " ", question).strip()
    if not cleaned:
        raise UserError("The question is empty: type what you want to know about the articles.")
    if len(cleaned) > MAX_QUESTION_CHARS:
        raise UserError(
            f"The question is {len(cleaned):,} characters long; keep it under "
            f"{MAX_QUESTION_CHARS:,} (ask about one thing at a time)."
        )
    return cleaned


def read_question(question: str, history: Sequence[str] = ()) -> Query:
    """Read `question` (after the earlier questions in `history`) once, for every stage."""
    context = referred_to(question, history)
    texts = split_question(question)
    # Later parts may refer back to the first ("which of *the group's* leaders ..."); the
    # parts of "between 2018 and 2021" are the same question at two times, and do not.
    linked = not _BETWEEN_TIMES.search(question)
    parts = tuple(
        read_part(text, [*context, *(texts[:i] if linked else ())])
        for i, text in enumerate(texts)
    )
    searched_for = " ".join([*context, question])
    return Query(
        question=question,
        context=context,
        parts=parts,
        whole=parts[0] if len(parts) == 1 else read_part(question, context),
        search_texts=tuple(split_question(searched_for)),
    )


def read_part(text: str, history: Sequence[str] = ()) -> Part:
    """One part of a question, read: what it wants and which words matter how much."""
    # The first reading that names what is counted ("how many us troops", "troop numbers").
    matches = (pattern.search(text) for pattern in (_HOW_MANY, *_NUMBER_OF))
    named = (terms(m.group(1)) for m in matches if m)
    counted = next((found for found in named if found), [])
    role = _ROLE.search(text.lower())
    want = wanted(text)
    # A question that names what it counts ("how did us troop numbers change") asks for a
    # figure, however it is put.
    if counted and want is Want.ANY:
        want = Want.NUMBER
    return Part(
        text=text,
        want=want,
        weights=weighted_terms(text, history),
        years=frozenset(YEAR_PATTERN.findall(text)),
        role=role["head"] if role else None,
        counted=frozenset(counted) if counted else None,
        counted_noun=counted[-1] if counted else None,
        asks_money=asks_money(text, want),
        asks_owner=bool(re.search(r"\bwhose\b", text, re.IGNORECASE)),
        asked=frozenset(terms(text)),
        named=frozenset(terms(" ".join(CAPITALISED.findall(text.strip())))),
        present=bool(_PRESENT.search(text)),
        over_time=asks_over_time(text),
    )


def asks_money(text: str, want: Want) -> bool:
    """Whether the answer is an amount of money: "how much did it cost?", "what was the
    budget?", "how big was the budget", and a noun phrase whose head is a money noun
    ("net profit q4 2004"), not one that only mentions money ("growth despite the price").
    `want` is what the question asks for (`wanted(text)`)."""
    if _ASKS_MONEY.search(text):
        return True
    phrase = _LEAD_IN.sub("", text.strip().lower())
    if _QUESTION_WORD.match(phrase) or want is not Want.NUMBER:
        return False
    head, _, _ = _split_head(phrase)
    return bool(re.search(rf"\b(?:{MONEY_NOUNS})s?\b", head))


def asks_over_time(text: str) -> bool:
    """Whether the answer is a history: the question asks how something changed ("how has
    ... changed", "since when"), or asks how many there are or were without saying when
    ("How many US troops were in Iraq?"): a level news reports differently as time goes on,
    unlike what one event cost or counted ("How much did the attack cost?")."""
    if _CHANGE.search(text):
        return True
    return (
        bool(_LEVEL.search(text))
        and not YEAR_PATTERN.search(text)
        and not _PRESENT.search(text)
        and not _ANCHORED.search(text)
    )


def referred_to(question: str, history: Sequence[str]) -> tuple[str, ...]:
    """The earlier questions a follow-up points back to ("... did *he* ..."), offline; none
    for a question that names its own subject."""
    if not (history and leans_back(question)):
        return ()
    # Back to the last question that stood on its own: one asked before it is about
    # something else ("How old was Dan O'Herlihy?" after a Fed question, then "when did he
    # die?" is about O'Herlihy only).
    referred = [history[-1]]
    for earlier in reversed(history[-HISTORY_TURNS:-1]):
        if not leans_back(referred[0]):
            break
        referred.insert(0, earlier)
    return tuple(referred)


def leans_back(question: str) -> bool:
    """Whether a question points back to earlier turns ("... did *he* ...") instead of
    naming its own subject."""
    return bool(_BACK_REFERENCE.search(question)) and not names_its_subject(question)


def names_its_subject(question: str) -> bool:
    """Whether the question's subject is a name of its own ("How old was Dan O'Herlihy when
    he died?"), not a pronoun or a noun phrase pointing back ("Which channel did he ...?",
    "What were the protesters there demanding?")."""
    found = _SUBJECT.match(question)
    if found is None:
        return False
    subject = found["subject"]
    return not (_BACK_REFERENCE.fullmatch(subject) or _NOT_A_NAME.fullmatch(subject))


def wanted(question: str) -> Want:
    """The kind of answer a question asks for, however it is typed: a question ("Who heads
    BT?"), an instruction ("tell me who heads BT", "name the bassist ..."), a question after
    a clause ("bmw's investment, which plant"), or a noun phrase whose nouns say it ("bt
    chief exec", "date of the attack", "council leader name")."""
    text = question.strip().lower()
    instruction = _LEAD_IN.sub("", text)
    clauses = [c.strip() for c in re.split(r"[,;:]\s+|\s+-\s+", instruction)]
    for candidate in dict.fromkeys([text, instruction, *clauses]):
        for want, pattern in _WANT_PATTERNS:
            if pattern.search(candidate):
                return want
    if any(_QUESTION_WORD.match(clause) for clause in clauses):
        return Want.ANY  # "why ...?", "what did he say?": no one kind of thing
    return _named_kind(instruction)


def _named_kind(phrase: str) -> Want:
    """The kind a noun phrase asks for: that of its head, the last noun for a date, a
    quantity, a person or a place before the first preposition or relative word ("council
    leader name", "date of the attack", "court where ..."), else of the first such noun
    after an "of"; a name when it asks for one ("tv station name"); anything otherwise."""
    head, link, rest = _split_head(phrase)
    # Typed as a string of nouns, a phrase may end with its head ("mac mini on sale date");
    # past the head, only "name of the city ..." says the kind: after another word the rest
    # is about the head ("party office raided by forces after a protester was killed").
    last_word = " ".join(re.findall(r"[\w'’-]+", phrase)[-1:])
    after_of = rest if link == "of" else ""
    for words, last in ((head, True), (last_word, True), (after_of, False)):
        kinds = [_noun_kind(word) for word in re.findall(r"[\w'’-]+", words)]
        found = [kind for kind in kinds if kind is not None]
        if found:
            return found[-1] if last else found[0]
    return Want.NAME if re.search(r"\bnames?\b", phrase) else Want.ANY


def _split_head(phrase: str) -> tuple[str, str, str]:
    """A noun phrase cut at its first preposition or relative word: head, word, the rest."""
    found = _PHRASE_BREAK.search(phrase)
    if found is None:
        return phrase, "", ""
    return phrase[: found.start()], found.group(0), phrase[found.end() :]


def _noun_kind(word: str) -> Want | None:
    return next((want for want, nouns in _KIND_NOUNS if nouns.fullmatch(word)), None)


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


def split_question(question: str) -> list[str]:
    """The parts of a question that asks two things; the question itself otherwise.

    "Who ..., and which ...?" and "How did X compare with Y?" split in two; "How did X
    change between 2018 and 2021?" becomes "How did X ... in 2018" and "... in 2021". Typed,
    "compare X with Y" and two noun phrases that each say what they ask for ("v festival
    venues and leeds festival location") split too.
    """
    span = _BETWEEN_TIMES.search(question)
    if span:
        stem = question[: span.start()]
        return [f"{stem} in {span.group(1)}", f"{stem} in {span.group(2)}"]
    if pair := _COMPARE.match(question):
        first, second = pair["first"], pair["second"]
        # "compare troop numbers in 2018 with 2021": the second is the first at another time.
        if _A_TIME.fullmatch(second):
            when = re.sub(r"^in\s+", "", second.strip(), flags=re.I)
            second = f"{_A_TIME.sub('', first).strip()} in {when}"
        return [first, second]
    parts = [p.strip(" ,") for p in _COMPOUND.split(question) if p.strip(" ,?")]
    if len(parts) == 1:
        # "v festival venues and leeds festival location": two noun phrases, each saying
        # what it asks for.
        phrase = _LEAD_IN.sub("", question.strip())
        halves = re.split(r"\s+and\s+", phrase, maxsplit=1, flags=re.I)
        if (
            len(halves) == 2
            and not _QUESTION_WORD.match(phrase.lower())
            and all(_named_kind(half.lower()) is not Want.ANY for half in halves)
        ):
            return halves
    return parts if len(parts) > 1 else [question]
