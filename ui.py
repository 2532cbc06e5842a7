"""Streamlit glue shared by the app's pages: per-session settings, warm pipelines, and errors
shown as short messages instead of stack traces."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import streamlit as st

from rag.accounts import Accounts, User
from rag.config import Settings
from rag.conversations import Conversations
from rag.index import Index, Status
from rag.ingest import Stage
from rag.manifest import Manifest
from rag.markdown import message
from rag.pipeline import Pipeline
from rag.types import UserError

log = logging.getLogger("newsdesk.app")
# Session-state keys of the sidebar settings widgets, by the Settings field they override.
OVERRIDES = {
    "llm": "setting_llm",
    "ollama_model": "setting_model",
    "openai_base_url": "setting_openai_url",
    "openai_model": "setting_openai_model",
    "top_k": "setting_top_k",
}
INGEST_STAGES = {Stage.READING: "Reading files", Stage.EMBEDDING: "Embedding passages"}
# Warm pipelines kept at once; each holds an embedding model session.
MAX_PIPELINES = 4
# Session key of this browser session's login (Accounts.login's session id). Kept in the
# server's memory only: never in the link, where it would travel with every copy of it.
SESSION = "login_session"


@dataclass(frozen=True)
class Access:
    """Who is using this browser session, and so what the app shows them. With no accounts
    (`user` None) the app is open, as before accounts: anyone may do all there is to do."""

    user: User | None = None

    @property
    def owner(self) -> str:
        """The owner of the conversations this session starts ('' with no accounts)."""
        return self.user.name if self.user else ""

    @property
    def can_edit(self) -> bool:
        """Upload, re-index, remove files and run the evaluation."""
        return self.user is None or self.user.role.can_edit

    @property
    def can_manage(self) -> bool:
        """Manage the accounts (with none, there are none to manage)."""
        return self.user is not None and self.user.role.can_manage

    @property
    def can_configure(self) -> bool:
        """Point the app at another server for answers: the server then sends that address
        questions and passages (and would reach any address it can), so with accounts only
        admins may."""
        return self.user is None or self.user.role.can_manage

    @property
    def sees_all(self) -> bool:
        """See what is no one user's own: the conversations begun before accounts, and the
        feedback given in everyone's (which quotes their questions). With accounts, admins."""
        return self.user is None or self.user.role.can_manage

    def may_open(self, owner: str) -> bool:
        """Whether a conversation of `owner` opens for this session to read and go on with:
        with accounts, only one's own, and what is no one's for those who see all."""
        return self.user is None or owner == self.user.name or (owner == "" and self.sees_all)


def defaults() -> Settings:
    """The CLI's settings: `RAG_*` environment variables, rag.toml, then the defaults."""
    try:
        return Settings()
    except ValueError as error:
        raise UserError(
            f"Invalid settings: {error}. Fix the RAG_* variables or rag.toml."
        ) from None


def settings() -> Settings:
    """The defaults with this session's choices from the sidebar."""
    update: dict[str, Any] = {
        field: st.session_state[key] for field, key in OVERRIDES.items() if key in st.session_state
    }
    return defaults().model_copy(update=update)


@st.cache_resource(max_entries=MAX_PIPELINES, show_spinner=False)
def _pipeline(_settings: Settings, key: str) -> Pipeline:
    return Pipeline(_settings)


def pipeline(settings: Settings) -> Pipeline:
    """One warm pipeline per settings and index version, shared by every browser session.

    After an ingest (from any session or the CLI) every session moves to a pipeline that
    sees the new files, while a question already running finishes on the old one.
    """
    return _pipeline(settings, f"{settings.model_dump_json()}|{Index(settings).version()}")


@st.cache_resource(show_spinner=False)
def _conversations(folder: str) -> Conversations:
    return Conversations(Path(folder))


def conversations(settings: Settings) -> Conversations:
    """The conversations kept for this corpus, shared by every session."""
    return _conversations(str(settings.data_path))


@st.cache_resource(show_spinner=False)
def _accounts(folder: str, session_hours: float) -> Accounts:
    return Accounts(Path(folder), session_hours)


def accounts(settings: Settings) -> Accounts:
    """The accounts kept beside the conversations, shared by every session."""
    return _accounts(str(settings.data_path), settings.session_hours)


def access(settings: Settings) -> Access | None:
    """What this browser session may do: everything while there are no accounts, its user's
    role once logged in; None while there are accounts and no live login (log in first)."""
    kept = accounts(settings)
    if not kept.exists():
        return Access()
    session = st.session_state.get(SESSION)
    user = kept.session_user(session) if session else None
    return Access(user) if user else None


def visitor() -> Access:
    """This session's access, on a page that app.py has let through its login."""
    found = access(settings())
    if found is None:  # the login ended while the page ran: the next run asks for it again
        st.rerun()
    return found


# The index's current version and the one before it (a question may still run on that).
@st.cache_resource(max_entries=2, show_spinner=False)
def _manifest(_index: Index, key: str) -> Manifest:
    return _index.manifest()


def manifest(settings: Settings) -> Manifest:
    """The index's manifest, read once per index version and shared by every session (so
    read it, never change it): each page run needs it several times, and at 100,000 files
    one read takes over a second."""
    index = Index(settings)
    return _manifest(index, _version_key(index))


@st.cache_resource(max_entries=2, show_spinner=False)
def _status(_index: Index, _manifest: Manifest, key: str) -> Status:
    return _index.status(_manifest)


def status(settings: Settings) -> Status:
    """The index's counts and health, worked out once per index version: the health check
    loads the keyword index and asks the store, too much for every run of the page."""
    index = Index(settings)
    key = _version_key(index)
    return _status(index, _manifest(index, key), key)


def forget_status() -> None:
    """Work the status out again on the next page run: a store damaged in place (a
    `chroma.sqlite3` cut short) leaves the manifest, and so the index version, as it was."""
    _status.clear()


def _version_key(index: Index) -> str:
    """Names one version of one index: it changes whenever an ingest saves the manifest."""
    return f"{index.root}|{index.collection_name}|{index.version()}"


def date_range(manifest: Manifest) -> str:
    """The first and last publication dates of the indexed articles, and how many have none."""
    articles = [a for entry in manifest.complete_files().values() for a in entry.articles]
    days = sorted(a.date for a in articles if a.date)
    undated = len(articles) - len(days)
    if not days:
        return f"{len(articles)} articles, none of them dated."
    span = f"{days[0]:%Y-%m-%d} to {days[-1]:%Y-%m-%d}"
    return f"{len(articles)} articles published from {span}; {undated} undated."


def reindex(settings: Settings, rebuild: bool = False) -> None:
    """Bring the index in line with the corpus folder, or with `rebuild` build it from
    nothing (as `rag ingest` and `rag ingest --rebuild`), with a progress bar."""
    notes = st.session_state.setdefault("corpus_notes", [])
    bar = st.progress(0.0, "Reading the corpus...")

    def progress(stage: Stage, done: int, total: int) -> None:
        bar.progress(done / total, f"{INGEST_STAGES[stage]}: {done:,}/{total:,}")

    ingesting = pipeline(settings)
    try:
        report = ingesting.rebuild(progress) if rebuild else ingesting.ingest(progress)
    except UserError as error:
        notes.append(("error", str(error)))
        # It may have found the store damaged since the panel's status was worked out.
        forget_status()
    else:
        notes.append((
            "success",
            f"{'Rebuilt' if rebuild else 'Indexed'}: {len(report.added)} added, "
            f"{len(report.updated)} updated, {len(report.removed)} removed, "
            f"{report.chunks_embedded} passages embedded.",
        ))  # fmt: skip
        notes += [("success", f"Repaired: {line}.") for line in report.repair.lines()]
        notes += [("warning", f"Skipped {s.name}: {s.reason}") for s in report.skipped]


@contextmanager
def guard(action: str) -> Iterator[None]:
    """Show a failure of `action` as a short message: the user's to fix, or ours (logged)."""
    try:
        yield
    except UserError as error:
        st.error(message(str(error)), icon=":material/error:")
    except Exception:
        log.exception("%s failed", action)
        st.error(
            f"Something went wrong while {action}. Try again; if it keeps happening, re-index "
            "from the sidebar or check the server log for details.",
            icon=":material/error:",
        )
