"""newsdesk in the browser: a chat whose answers cite the articles they come from.

Thin by design: it renders `Answer` objects from `rag.pipeline` and lays out the sidebar;
retrieval, parsing, safe saving and highlighting live in the package. Start it with
`make run` (or `streamlit run app.py`).
"""

from __future__ import annotations

import json
import math
from datetime import datetime
from itertools import chain

import streamlit as st
from streamlit.navigation.page import StreamlitPage

import ui
from rag import export
from rag.answer.citations import strip_markers
from rag.answer.query import MAX_QUESTION_CHARS, check_question
from rag.config import Settings
from rag.conversations import Conversations, labels
from rag.evidence import Segment, gather, mark, passage_of, split_at_passage, unsupported_marks
from rag.index import Health, Status, Verdict
from rag.manifest import FileEntry, Manifest
from rag.markdown import answer_markdown, escape, highlight, message
from rag.pipeline import EXTRACTIVE_NOTICE
from rag.read import SUPPORTED_SUFFIXES
from rag.types import Answer, Citation, Confidence, DateRange
from rag.uploads import UploadError, save_upload

MODES = {
    "auto": "Auto: model if reachable",
    "ollama": "Ollama",
    "openai": "OpenAI-compatible server",
    "extractive": "Offline extractive",
}
MAX_TOP_K = 20
# Conversations listed before their list scrolls in a box of this height (pixels).
SHOWN_CONVERSATIONS, CONVERSATIONS_HEIGHT = 6, 260
# What a reader's thumb says, shown beside it once given.
_VERDICTS = {1: "You marked this answer right.", 0: "You marked this answer wrong."}
# How much of a question too long to answer is shown back.
_ECHOED_CHARS = 200
CLOSEST_PASSAGES = 3
# The link's query parameters naming the open conversation: one's own by its id, another's
# by its read-only share token. Session keys of the chat: the link its turns were read for,
# and whether they are a share, shown read-only.
CONVERSATION, SHARE = "c", "share"
TURNS, CONFIRM_DELETE, OPENED, READ_ONLY = "turns", "confirm_delete", "opened", "read_only"
# Session key: the note that the app is open (there are no accounts) has been shown.
OPEN_NOTED = "open_noted"
# A question to ask again on its own, without the turns before it ("Ask as a new question").
ASK_ALONE = "ask_alone"
# What an answer's badge says of its confidence; a decline says nothing. Not orange: the
# theme's orange is the strong one that marks quotes, and orange text on it cannot be read.
_CONFIDENCE_BADGES = {
    Confidence.HIGH: ":green-badge[:material/verified: high confidence]",
    Confidence.LOW: ":yellow-badge[:material/help: low confidence · check the quote]",
    Confidence.NONE: "",
}
# Characters of a first question shown in the list of conversations.
TITLE_CHARS = 48
# Session keys of the Dates panel.
AS_OF, SINCE, UNTIL = "as_of", "published_since", "published_until"


# -- sidebar ---------------------------------------------------------------------------------


def settings_panel(allowed: ui.Access) -> None:
    """Mode, Ollama model and passages per answer; defaults from the CLI's settings."""
    base = ui.defaults()
    st.subheader("Settings")
    modes: list[str] = list(MODES)
    st.selectbox(
        "Answers", modes, index=modes.index(base.llm), format_func=MODES.__getitem__,
        key=ui.OVERRIDES["llm"],
    )  # fmt: skip
    chosen = st.session_state[ui.OVERRIDES["llm"]]
    st.text_input(
        "Ollama model", base.ollama_model, key=ui.OVERRIDES["ollama_model"],
        help=f"A model on the Ollama server at {base.ollama_host} (`ollama pull` it first).",
        disabled=chosen in ("extractive", "openai"),
    )  # fmt: skip
    if chosen == "openai" or (chosen == "auto" and base.openai_base_url):
        st.text_input(
            "OpenAI-compatible server", base.openai_base_url, key=ui.OVERRIDES["openai_base_url"],
            placeholder="http://127.0.0.1:8080/v1",
            help="llama.cpp's llama-server, LM Studio, vLLM or LocalAI; its API key, if it "
            "needs one, is set with RAG_OPENAI_API_KEY."
            + ("" if allowed.can_configure else " Only an admin may change it."),
            disabled=not allowed.can_configure,
        )  # fmt: skip
        st.text_input(
            "Its model", base.openai_model, key=ui.OVERRIDES["openai_model"],
            placeholder="the first it lists",
        )  # fmt: skip
    if chosen != "extractive":
        # The probe is cached with the pipeline for a few seconds, and the answer needs it too.
        generator = ui.pipeline(ui.settings()).generator
        if models := generator.health().models:
            st.caption(escape(f"On the {generator.mode.server} server: {', '.join(models)}"))
    st.slider(
        "Passages per answer", 1, MAX_TOP_K, min(base.top_k, MAX_TOP_K),
        key=ui.OVERRIDES["top_k"],
    )  # fmt: skip


def account_panel(allowed: ui.Access) -> None:
    """Who is logged in, with Log out; with no accounts, once a session, that the app is
    open to everyone and how to change that."""
    if allowed.user is None:
        if not st.session_state.get(OPEN_NOTED):
            st.session_state[OPEN_NOTED] = True
            st.info("Anyone who can reach this app can use it: there are no accounts. To ask "
                    "for a login, add an admin on the server: `rag users add NAME --role "
                    "admin`.", icon=":material/lock_open:")  # fmt: skip
        return
    who, out = st.columns([3, 1], vertical_alignment="center")
    who.caption(escape(f"Logged in as {allowed.user.name} ({allowed.user.role})"))
    if out.button("Log out", key="logout", type="tertiary"):
        ui.accounts(ui.settings()).logout(st.session_state[ui.SESSION])
        # Nothing of this login stays for the next: its conversation, its settings, its link.
        st.session_state.clear()
        st.query_params.clear()
        st.rerun()


def conversations_panel(allowed: ui.Access) -> None:
    """The latest conversations this session may open, by first question and date; one
    click reopens one."""
    mine = allowed.user.name if allowed.user else None  # None: everyone's, with no accounts
    recent = ui.conversations(ui.settings()).recent(owner=mine, unowned=allowed.sees_all)
    if not recent:
        return
    st.subheader("Conversations")
    # A box of its own that scrolls: however many there are, Settings and the rest stay in
    # view below it.
    tall = len(recent) > SHOWN_CONVERSATIONS
    with st.container(height=CONVERSATIONS_HEIGHT if tall else "content", key="conversations"):
        for kept, label in zip(recent, labels(recent, TITLE_CHARS), strict=True):
            opened = kept.id == st.query_params.get(CONVERSATION)
            about = f"{kept.turns} question(s), started {kept.started:%Y-%m-%d %H:%M} UTC"
            # The open one is marked as such, not greyed out as if it could not be used.
            if st.button(label, key=f"open_{kept.id}", type="secondary" if opened else "tertiary",
                         help=about, width="stretch"):  # fmt: skip
                show_conversation(kept.id)
                st.rerun()


def dates_panel() -> None:
    """Which articles answers read: a date range, or everything as it stood on one day."""
    st.subheader("Dates")
    st.date_input(
        "As of", value=None, key=AS_OF, format="YYYY-MM-DD",
        help="Answer as if asked on this day: only articles published by then are read, and "
        "'now' means the newest of them. Undated articles are left out.",
    )  # fmt: skip
    since, until = st.columns(2)
    since.date_input("Published from", value=None, key=SINCE, format="YYYY-MM-DD")
    until.date_input("Published until", value=None, key=UNTIL, format="YYYY-MM-DD")


def corpus_panel(allowed: ui.Access) -> None:
    """Counts and the list of indexed files; upload and re-index for those who may edit."""
    settings = ui.settings()
    st.subheader("Corpus")
    notes: list[tuple[str, str]] = st.session_state.pop("corpus_notes", [])
    for kind, note in notes:
        getattr(st, kind)(message(note))
    numbers = st.container()
    if allowed.can_edit:
        corpus_changes(settings)
    manifest = ui.manifest(settings)
    status = ui.status(settings)
    with numbers:
        if status.health.verdict == Verdict.DAMAGED:
            # Unless a failed Re-index has just said what is wrong, in its own words.
            said = any(kind == "error" for kind, _ in notes)
            offer_rebuild(settings, status.health, said, allowed.can_edit)
        index_counts(status, allowed.can_edit)
    if status.files:
        st.caption(escape(ui.date_range(manifest)))
    with st.expander(f"Indexed files ({status.files})"):
        indexed_files(manifest, status)


def corpus_changes(settings: Settings) -> None:
    """Upload articles into the corpus, and Re-index."""
    uploaded = st.file_uploader(
        "Add articles",
        type=sorted(suffix.lstrip(".") for suffix in SUPPORTED_SUFFIXES),
        accept_multiple_files=True,
        max_upload_size=math.ceil(settings.max_file_mb),
        # A new key empties the uploader once its files are in the corpus.
        key=f"uploads-{st.session_state.setdefault('upload_round', 0)}",
    )
    if uploaded and st.button("Add to the corpus and index", type="primary", key="add"):
        add_uploads(settings, [(file.name, file.getvalue()) for file in uploaded])
    if st.button("Re-index", help="Index new and changed files; drop deleted ones.", key="reindex"):
        ui.reindex(settings)
        st.rerun()


def offer_rebuild(settings: Settings, health: Health, said: bool, can_edit: bool) -> None:
    """For a store that cannot be read, which Re-index cannot mend in place: what is wrong,
    in one line (unless it was just `said`), and to those who `can_edit` the rebuild
    `rag ingest --rebuild` runs."""
    if not said:
        st.error(message(health.problem or str(health)), icon=":material/error:")
    # A server's collection is restored by Re-index, never rebuilt beside it.
    if can_edit and not settings.chroma_host and st.button(
        "Rebuild index", type="primary", key="rebuild",
        help="Index the corpus from nothing beside the damaged index, and put the new one "
             "in its place once it is complete.",
    ):  # fmt: skip
        ui.reindex(settings, rebuild=True)
        st.rerun()


def index_counts(status: Status, can_edit: bool) -> None:
    """Files, articles and passages in the index, and when it was last updated; when it is
    empty, how to fill it (for those who `can_edit`, or whom to ask)."""
    left, middle, right = st.columns(3)
    left.metric("Files", status.files)
    middle.metric("Articles", status.articles)
    right.metric("Passages", status.chunks)
    when = datetime.fromisoformat(status.last_indexed) if status.last_indexed else None
    st.caption(f"Last indexed {when:%Y-%m-%d %H:%M} UTC" if when else "Never indexed")
    if not status.files and can_edit:
        st.warning("The index is empty: add articles here, or put them in the corpus "
                   "folder and press Re-index.")  # fmt: skip
    elif not status.files:
        st.warning("The index is empty: ask an editor or an admin to add articles.")


def indexed_files(manifest: Manifest, status: Status) -> None:
    """The complete files with their counts, then the skipped ones with the reason."""
    st.dataframe(
        [
            {"file": name, "articles": len(entry.articles), "passages": entry.chunks}
            for name, entry in manifest.complete_files().items()
        ],
        hide_index=True,
    )
    for name, reason in status.skipped.items():
        st.caption(f"Skipped {escape(name)}: {escape(reason)}")


def add_uploads(settings: Settings, files: list[tuple[str, bytes]]) -> None:
    """Save uploaded files into the corpus, then index them."""
    notes = []
    for name, data in files:
        try:
            path = save_upload(settings.corpus_dir, name, data, int(settings.max_file_mb * 1e6))
        except UploadError as error:
            notes.append(("error", str(error)))
        else:
            renamed = f" (saved as {path.name})" if path.name != name else ""
            notes.append(("success", f"Added {name}{renamed}."))
    st.session_state.upload_round += 1
    st.session_state.corpus_notes = notes
    if any(kind == "success" for kind, _ in notes):
        ui.reindex(settings)
    st.rerun()  # shows the notes and an empty uploader


# -- chat ------------------------------------------------------------------------------------


def chat() -> None:
    """The chat page: the conversation so far, then a box for the next question (none under
    another user's conversation shared read-only)."""
    settings = ui.settings()
    allowed = ui.visitor()
    kept = ui.conversations(settings)
    turns = open_conversation(kept, allowed)
    read_only: bool = st.session_state[READ_ONLY]
    title, delete, new = st.columns([4, 1, 1], vertical_alignment="bottom")
    title.title("newsdesk")
    delete_slot = delete.empty()  # filled last: the first answer may start the conversation
    if new.button("New chat", icon=":material/add_comment:", key="new_chat"):
        show_conversation(None)
        st.rerun()
    if st.session_state.get(CONFIRM_DELETE):
        confirm_delete(kept)
    if read_only:
        owner = kept.owner(st.session_state[CONVERSATION]) or "Someone"  # '' before accounts
        st.info(escape(f"{owner} shared this conversation read-only: you can read it, not add "
                       "to it. New chat starts one of your own."),
                icon=":material/visibility:")  # fmt: skip
    said = status_line(settings)
    manifest = ui.manifest(settings)
    for i, (question, answer) in enumerate(turns):
        with st.chat_message("user"):
            st.markdown(escape(question))
        with st.chat_message("assistant"):
            render(answer, manifest.files, settings, key=str(i), said=said)
    if not turns:
        st.caption("Ask about the articles in the corpus. Every answer cites its sources; "
                   "open a source to see the passage in its article.")  # fmt: skip
    done: Answer | None = None
    typed = None if read_only else st.chat_input("Ask about the articles")
    alone = st.session_state.pop(ASK_ALONE, None)
    if (asked := typed or alone) and not asked.strip():
        with ui.guard("reading the question"):
            check_question(asked)  # a blank question: said why, with no empty bubble
    elif asked:
        with st.chat_message("user"):
            st.markdown(escape(echoed(asked)))
        with st.chat_message("assistant"), ui.guard("answering"):
            answer = stream(asked, [] if alone and not typed else [q for q, _ in turns], settings)
            turns.append((asked, answer))
            keep(kept, asked, answer, ui.manifest(settings), allowed.owner)
            render(answer, ui.manifest(settings).files, settings, str(len(turns) - 1), said)
            done = answer
    if turns:
        export_conversation(turns)
    # Read on this run's end: the first answer may just have started the conversation.
    own = None if read_only else st.session_state.get(CONVERSATION)
    if own and allowed.user:  # with no accounts everyone reads everything: nothing to share
        share_control(kept, own)
    if done is not None:
        answer_done(done)
    if own and delete_slot.button("Delete", key="delete_chat"):
        st.session_state[CONFIRM_DELETE] = True
        st.rerun()


# Once the page has laid out: the newest answer's first line scrolled to the top of the view
# (the chat otherwise follows the page's end, the last source card, and the answer scrolls
# away), and the answer read out by screen readers from a polite live region kept in the page.
_ANSWER_DONE = """<script>
// In a block of its own: the script is added again after every answer, and a second
// top-level `const` of the same name would stop it with a SyntaxError.
{
const answerStart = () => {
  const messages = document.querySelectorAll('[data-testid="stChatMessage"]');
  if (messages.length) messages[messages.length - 1].scrollIntoView({block: "start"});
};
// Twice: the chat's own scroll to its end can come after the first.
setTimeout(answerStart, 300);
setTimeout(answerStart, 1200);
let region = document.getElementById("newsdesk-announce");
if (!region) {
  region = document.body.appendChild(document.createElement("div"));
  region.id = "newsdesk-announce";
  region.setAttribute("role", "status");
  region.setAttribute("aria-live", "polite");
  region.style.cssText = "position:absolute;width:1px;height:1px;overflow:hidden;"
    + "clip:rect(0 0 0 0);white-space:nowrap";
}
region.textContent = ANNOUNCEMENT;
}
</script>"""
# What the live region says: the answer's text, without its markers, at most this long.
_ANNOUNCED_CHARS = 300


def answer_done(answer: Answer) -> None:
    """Bring the start of the answer just given into view, and announce it."""
    said = " ".join(strip_markers(answer.answer).split())
    if len(said) > _ANNOUNCED_CHARS:
        said = said[:_ANNOUNCED_CHARS].rsplit(" ", 1)[0] + " …"
    # A JSON string is a JavaScript string; "</" is escaped so it cannot close the script.
    text = json.dumps(f"Answer ready. {said}").replace("</", "<\\/")
    st.html(_ANSWER_DONE.replace("ANNOUNCEMENT", text), unsafe_allow_javascript=True)


def echoed(question: str) -> str:
    """A question as the chat shows it back: one too long to be answered (it is refused in
    a line below it) by its start and its length, not as a wall of text."""
    if len(question) <= MAX_QUESTION_CHARS:
        return question
    return f"{question[:_ECHOED_CHARS].rstrip()} … ({len(question):,} characters)"


def open_conversation(kept: Conversations, allowed: ui.Access) -> list[tuple[str, Answer]]:
    """The turns of the conversation the page's link names, read once per session and link
    (a reload reopens it): one's own by its id, another's shared read-only by its token."""
    state = st.session_state
    if TURNS not in state or state.get(OPENED) != linked():
        token = st.query_params.get(SHARE)
        wanted = shared_conversation(kept, token) if token else own_conversation(kept, allowed)
        state[CONVERSATION], state[READ_ONLY] = wanted, bool(token and wanted)
        state[OPENED] = linked()  # as it is now, less any part just refused
        state[TURNS] = [(t.question, t.answer) for t in kept.turns(wanted)] if wanted else []
    turns: list[tuple[str, Answer]] = state[TURNS]
    return turns


def linked() -> tuple[str | None, str | None]:
    """The conversation the page's link names: by its id, and by a share token."""
    return st.query_params.get(CONVERSATION), st.query_params.get(SHARE)


def own_conversation(kept: Conversations, allowed: ui.Access) -> str | None:
    """The conversation the link names by its id, if this session may open it; if not, why
    in one line, and the link no longer names it (so the next run is quiet)."""
    wanted = st.query_params.get(CONVERSATION)
    owner = kept.owner(wanted) if wanted else None
    if wanted is None or (owner is not None and allowed.may_open(owner)):
        return wanted
    if owner is None:
        st.info("That conversation was deleted, or the link is incomplete: this is a new "
                "one.", icon=":material/link_off:")  # fmt: skip
    else:
        st.info("That conversation is another user's: ask them for its read-only link. This "
                "is a new one.", icon=":material/lock:")  # fmt: skip
    st.query_params.pop(CONVERSATION, None)
    return None


def shared_conversation(kept: Conversations, token: str) -> str | None:
    """The conversation a share token opens read-only; for a token that opens none, why in
    one line, and the link no longer holds it."""
    if wanted := kept.shared(token):
        return wanted
    st.info("That read-only link was stopped by its owner, or it is incomplete: this is a "
            "new conversation.", icon=":material/link_off:")  # fmt: skip
    st.query_params.pop(SHARE, None)
    return None


def show_conversation(conversation: str | None) -> None:
    """Make `conversation` the open one (None: a new chat), in the session and the link."""
    st.session_state.pop(CONFIRM_DELETE, None)
    st.session_state.pop(TURNS, None)  # read again from the store by open_conversation
    st.query_params.pop(SHARE, None)  # one's own, not another's read-only
    if conversation is None:
        st.query_params.pop(CONVERSATION, None)
    else:
        st.query_params[CONVERSATION] = conversation


def keep(
    kept: Conversations, question: str, answer: Answer, manifest: Manifest, owner: str
) -> None:
    """Store a new turn, starting a conversation of `owner`'s (and putting it in the link) if
    needed; with the hashes of the cited files, to tell later whether they changed."""
    state = st.session_state
    if not state.get(CONVERSATION):
        state[CONVERSATION] = kept.start(owner)
        st.query_params[CONVERSATION] = state[CONVERSATION]
        state[OPENED] = linked()
    cited = {c.file for c in answer.citations if c.file in manifest.files}
    kept.add(state[CONVERSATION], question, answer,
             {name: manifest.files[name].sha256 for name in sorted(cited)})  # fmt: skip


def share_control(kept: Conversations, conversation: str) -> None:
    """The owner's read-only link to their open conversation, for other users: made on
    request, shown while it lasts, stopped on request (their own link stays as it was)."""
    token = kept.share_token(conversation)
    if token is None:
        if st.button("Share read-only link", key="share", icon=":material/share:"):
            kept.share(conversation)
            st.rerun()
        return
    st.caption("Anyone logged in can read this conversation at this link, but not add to it "
               "or delete it:")  # fmt: skip
    # The app's own address as the browser has it, so the link works wherever it was opened.
    st.code(f"{st.context.url or ''}/?{SHARE}={token}", language=None)
    if st.button("Stop sharing", key="unshare", icon=":material/link_off:"):
        kept.unshare(conversation)
        st.rerun()


def confirm_delete(kept: Conversations) -> None:
    """Ask before deleting the open conversation: others may have its link."""
    st.warning("Delete this conversation? It is gone for everyone who has its link.")
    yes, no = st.columns(2)
    if yes.button("Delete for good", type="primary", key="delete_confirmed"):
        kept.delete(st.session_state[CONVERSATION])
        show_conversation(None)
        st.rerun()
    if no.button("Keep it", key="delete_cancelled"):
        st.session_state.pop(CONFIRM_DELETE, None)
        st.rerun()


def stream(question: str, history: list[str], settings: Settings) -> Answer:
    """Show the answer text as it is written; return the finished `Answer`."""
    state = st.session_state
    dates = DateRange(state.get(SINCE), state.get(UNTIL))
    answer = ui.pipeline(settings).stream(question, history, dates, state.get(AS_OF))
    pieces = (escape(piece) for piece in answer)
    placeholder = st.empty()
    with placeholder, st.spinner("Searching the articles..."):
        first = next(pieces, "")
    with placeholder:
        st.write_stream(chain([first], pieces))
    # The streamed text gives way to the full rendering of the finished answer.
    placeholder.empty()
    return answer.answer


def status_line(settings: Settings) -> str | None:
    """One line at the top of the chat saying how answers are made now; it follows Ollama
    coming and going (the probe is redone every few seconds). Returns what it said about
    answers being quoted offline, so the answers do not repeat it."""
    pipeline = ui.pipeline(settings)
    if settings.llm == "extractive":
        st.caption(escape(EXTRACTIVE_NOTICE))
        return EXTRACTIVE_NOTICE
    generator = pipeline.generator
    health = generator.health()
    if health.ready:
        st.caption(escape(f"{generator.label} writes the answers; every sentence is checked "
                          "against the passages it cites."))  # fmt: skip
        return None
    if settings.llm != "auto":
        st.error(message(f"{health.problem} Or switch Answers to Auto in the sidebar to quote "
                         "the articles meanwhile."), icon=":material/error:")  # fmt: skip
        return None
    said = pipeline.offline_reason()
    st.warning(message(f"Offline extractive · {said}"), icon=":material/cloud_off:")
    return said


def render(
    answer: Answer, files: dict[str, FileEntry], settings: Settings, key: str, said: str | None
) -> None:
    """An answer: mode badge, text with markers, checkable sources, or the closest passages;
    then ways to take it away (`key` tells its widgets from other answers'). What the status
    line `said` about the mode is not repeated."""
    badge, took = st.columns([3, 1])
    # As st.badge writes its label: only brackets would end the badge early.
    model = (answer.model or "").replace("[", "(").replace("]", ")")
    if answer.fallback_reason:
        made = f":gray-badge[:material/format_quote: extractive, {model}'s answer set aside]"
    elif answer.model:
        made = f":violet-badge[:material/smart_toy: {answer.mode.server} · {model}]"
    else:
        made = ":gray-badge[:material/format_quote: offline extractive]"
    # One line: how it was made, and how far to trust it (a low one looks different).
    badge.markdown(f"{made} {_CONFIDENCE_BADGES[answer.confidence]}".strip())
    if "total" in answer.timings_ms:
        took.caption(_duration(answer.timings_ms["total"]))
    if answer.searched_for != answer.question:
        # Wide enough for the button's label on one line.
        searched, again = st.columns([3, 2], vertical_alignment="center")
        searched.caption(f"Searched for: {escape(answer.searched_for)}")
        # Read as a follow-up, it was searched with the turns before; one click asks it alone
        # (not in a conversation shown read-only, which cannot be added to).
        if not st.session_state.get(READ_ONLY) and again.button(
            "Ask as a new question", key=f"alone-{key}", type="tertiary"
        ):
            st.session_state[ASK_ALONE] = answer.question
            st.rerun()
    if answer.as_of:
        st.caption(escape(f"As of {answer.as_of.isoformat()}: only articles published by then."))
    notice = answer.notice or ""
    if said and notice.startswith(said):
        notice = notice.removeprefix(said).strip()
    if notice:
        st.warning(message(notice))
    if answer.abstained:
        st.info(escape(answer.answer), icon=":material/search_off:")
        if answer.closest:
            with st.expander("Closest passages", expanded=True):
                for hit in answer.closest[:CLOSEST_PASSAGES]:
                    st.markdown(
                        f"**{escape(hit.chunk.title)}** · {escape(', '.join(hit.files))}"
                    )
                    st.markdown(escape(hit.chunk.text))
        verdict(int(key))  # a reader who knows the articles hold the answer can say so
        return
    show_answer(answer, files, settings, key)
    take_away(answer, key)
    verdict(int(key))


def show_answer(
    answer: Answer, files: dict[str, FileEntry], settings: Settings, key: str
) -> None:
    """The answer's text (or timeline table), its unsupported sentences, its source cards;
    each `[n]` is a link to card n, with its title and date on hover."""
    cards = merged_cards(answer)
    sources = {
        c.n: (f"source-{key}-{group[0].n}", f"{c.title}, {c.date_label}")
        for group in cards
        for c in group
    }
    unsupported = [claim for claim in answer.claims if not claim.supported]
    if answer.timeline:
        timeline(answer)
    else:
        marks = unsupported_marks(answer.answer, answer.claims)
        st.markdown(answer_markdown(mark(answer.answer, 0, marks), sources))
    for claim in unsupported:
        st.caption(
            f":material/warning: :red-background[{escape(claim.text)}] "
            f"{escape(claim.problem or 'is not supported by the passages it cites')}"
        )
    for group in cards:
        card(group, answer, files.get(group[0].file), settings, sources[group[0].n][0])


def merged_cards(answer: Answer) -> list[list[Citation]]:
    """The answer's citations, those quoting the same retrieved passage on one card (each
    card would repeat the passage in full), in the order of their first number."""
    cards: dict[tuple[str, int], list[Citation]] = {}
    for citation in answer.citations:
        chunk = passage_of(citation, answer.hits)
        where = (citation.file, chunk.start if chunk else -citation.n)
        cards.setdefault(where, []).append(citation)
    return list(cards.values())


def verdict(n: int) -> None:
    """Thumbs up or down on turn `n` of the open conversation, and after a thumbs down an
    optional correction; kept with the conversation for `rag feedback export`."""
    conversation = st.session_state.get(CONVERSATION)
    if not conversation or st.session_state.get(READ_ONLY):  # the owner's to give
        return
    thumbs, correction = f"thumbs_{conversation}_{n}", f"correction_{conversation}_{n}"
    state = st.session_state
    if thumbs not in state and (kept := ui.conversations(ui.settings()).verdict(conversation, n)):
        # A reopened conversation shows the verdicts given before.
        state[thumbs], state[correction] = int(kept[0]), kept[1]

    def keep_verdict() -> None:
        # A callback runs before the page's login check: a login ended since keeps nothing.
        given = st.session_state.get(thumbs)
        if given is not None and ui.access(ui.settings()) is not None:
            ui.conversations(ui.settings()).rate(
                conversation, n, given == 1, st.session_state.get(correction, "")
            )

    given, said = st.columns([1, 5], vertical_alignment="center")
    with given:
        st.feedback("thumbs", key=thumbs, on_change=keep_verdict)
    # The chosen thumb is only a little darker than the other: the choice is said in words.
    if (chosen := st.session_state.get(thumbs)) is not None:
        said.caption(_VERDICTS[chosen])
    if st.session_state.get(thumbs) == 0:
        st.text_input("What should the answer say? (optional)", key=correction,
                      on_change=keep_verdict)  # fmt: skip


def take_away(answer: Answer, key: str) -> None:
    """Copy the answer with its references, or download it as Markdown or JSON."""
    with st.expander("Copy or export", icon=":material/ios_share:"):
        st.code(export.answer_markdown(answer), language="markdown", wrap_lines=True)
        markdown, as_json = st.columns(2)
        markdown.download_button(
            "Markdown", export.answer_markdown(answer), f"newsdesk-answer-{key}.md",
            mime="text/markdown", key=f"export_md_{key}", icon=":material/download:",
            on_click="ignore",
        )  # fmt: skip
        as_json.download_button(
            "JSON", export.answer_json(answer), f"newsdesk-answer-{key}.json",
            mime="application/json", key=f"export_json_{key}", icon=":material/download:",
            on_click="ignore",
        )  # fmt: skip


def export_conversation(turns: list[tuple[str, Answer]]) -> None:
    """Download the whole conversation as Markdown or JSON."""
    label, markdown, as_json = st.columns([2, 1, 1], vertical_alignment="center")
    label.caption("This conversation:")
    markdown.download_button(
        "Markdown", export.conversation_markdown(turns), "newsdesk-conversation.md",
        mime="text/markdown", key="export_conversation_md", icon=":material/download:",
        on_click="ignore",
    )  # fmt: skip
    as_json.download_button(
        "JSON", export.conversation_json(turns), "newsdesk-conversation.json",
        mime="application/json", key="export_conversation_json", icon=":material/download:",
        on_click="ignore",
    )  # fmt: skip


def timeline(answer: Answer) -> None:
    """A timeline answer as a small dated table, oldest first, each row citing its sources."""
    st.markdown("Reported over time, oldest first:")
    st.table(
        [
            {
                "Date": entry.date_text,
                "Dated by": str(entry.basis),
                "Statement": entry.statement,
                "Sources": " ".join(f"[{n}]" for n in entry.citations),
            }
            for entry in answer.timeline
        ],
        hide_index=True,
    )


def _duration(ms: float) -> str:
    return f"{ms / 1000:.1f} s" if ms >= 1000 else f"{ms:.0f} ms"


def card(
    cited: list[Citation],
    answer: Answer,
    entry: FileEntry | None,
    settings: Settings,
    anchor: str,
) -> None:
    """One cited source: where it is, the passage with its quotes (every citation of it),
    and the whole article; its heading is the `anchor` the answer's `[n]` links to."""
    evidence = gather(cited, answer.hits, entry, settings)
    first = cited[0]
    with st.container(border=True, key=f"card-{anchor}"):
        badges = " ".join(f":blue-badge[\\[{c.n}\\]]" for c in cited)
        st.subheader(f"{badges} {escape(evidence.article_title)}", anchor=anchor)
        also = f" · also in {', '.join(first.also_in)}" if first.also_in else ""
        spans = [f"{c.start}–{c.end}" for c in cited]
        if len(cited) > 1:  # which quote is where
            spans = [f"[{c.n}] {span}" for c, span in zip(cited, spans, strict=True)]
        where = f"characters {', '.join(spans)}"
        st.caption(escape(f"{first.file} · {first.date_label} · {where}{also}"))
        st.markdown(highlight(evidence.passage))
        with st.expander("Whole article"):
            if evidence.problem:
                st.warning(message(evidence.problem))
            else:
                whole_article(evidence.article, f"whole-{anchor}")


def whole_article(article: tuple[Segment, ...], key: str) -> None:
    """The article opened at the quoted passage's line; the text before it behind a toggle,
    so the quote is in view when the article opens."""
    before, rest = split_at_passage(article)
    if before and rest and not st.toggle("Show from the start", key=key):
        words = sum(len(segment.text.split()) for segment in before)
        st.caption(f"From the quoted passage on; {words} words before it.")
        before = ()
    st.markdown(highlight(before + rest))


# -- login -----------------------------------------------------------------------------------


def opened() -> ui.Access | None:
    """What this browser session may do (None: log in first); if the accounts cannot be read,
    why in one line, and nothing more of the app."""
    with ui.guard("reading the accounts"):
        return ui.access(ui.settings())
    st.stop()


def login_form() -> None:
    """The login form, alone on the page: a user name and a password."""
    st.title("newsdesk")
    if st.session_state.pop(ui.SESSION, None):  # a session this browser had has ended
        st.info("Your login has ended: log in again.", icon=":material/timer_off:")
    with st.form("login"):
        name = st.text_input("User name", key="login_name", autocomplete="username")
        password = st.text_input("Password", type="password", key="login_password",
                                 autocomplete="current-password")  # fmt: skip
        submitted = st.form_submit_button("Log in", type="primary", key="log_in")
    if not submitted:
        return
    session = ui.accounts(ui.settings()).login(name.strip(), password)
    if session is None:
        # The same words for an unknown name and a wrong password: neither tells the other.
        st.error("Wrong user name or password.", icon=":material/error:")
        return
    # Nothing of an earlier login in this browser (its open conversation) carries over.
    st.session_state.clear()
    st.session_state[ui.SESSION] = session
    st.rerun()


def pages(allowed: ui.Access | None) -> list[StreamlitPage]:
    """The app's pages, and the Users page for those who manage the accounts."""
    found = [
        st.Page(chat, title="Chat", icon=":material/chat:", default=True),
        st.Page("views/articles.py", title="Articles", icon=":material/newspaper:"),
        st.Page("views/evaluation.py", title="Evaluation", icon=":material/monitoring:"),
    ]
    if allowed and allowed.can_manage:
        found.append(st.Page("views/users.py", title="Users", icon=":material/group:"))
    return found


# -- layout ----------------------------------------------------------------------------------

st.set_page_config(page_title="newsdesk", page_icon="📰", layout="centered")
# A quote is the only bold text on a highlight (rag/markdown.py): underlined as well, it is
# told apart by more than its colour.
st.html(
    "<style>.stMarkdownColoredBackground strong "
    "{text-decoration: underline; text-underline-offset: 3px}"
    # The conversation list's labels start at the left, whether on one line or wrapped.
    ".st-key-conversations button, .st-key-conversations button * "
    "{justify-content: flex-start; text-align: left}"
    ".st-key-conversations button > div {width: 100%}"
    # The same inset for every label, the open one (which has a border) and the others.
    ".st-key-conversations button {padding: 4px 12px}"
    # A source card's title a little above the answer's text, not a page heading; its [n]
    # badges, which scale with it, then read at the size of the answer's own markers.
    "[class*='st-key-card-'] h3 {font-size: 1.15rem; line-height: 1.4}</style>"
)
allowed = opened()
# Until a login, every page is known (a link to one opens it after the login), none listed.
page = st.navigation(pages(allowed), position="sidebar" if allowed else "hidden")
if allowed is None:
    with ui.guard("logging in"):
        login_form()
    st.stop()
with st.sidebar, ui.guard("showing the sidebar"):
    account_panel(allowed)
    # Filled after the page has run: a question asked on it may have started a conversation,
    # which is then listed at once, not after the next page load.
    listing = st.empty()
    settings_panel(allowed)
    dates_panel()
    corpus_panel(allowed)
with ui.guard("showing the page"):
    page.run()
with listing.container(), ui.guard("showing the conversations"):
    conversations_panel(allowed)
