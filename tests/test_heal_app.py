"""The app on an index whose store cannot be read: the corpus panel says what is wrong in one
line and offers the rebuild `rag ingest --rebuild` runs, which mends it (issue 13, item 3).
Damage done while the app runs is seen by it as by a new `rag` command.

Run in-process by `streamlit.testing.v1.AppTest` on a private copy of the session's index,
its `chroma.sqlite3` cut short as a full disk or a crash during a copy leaves it, or its
store folder deleted.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from rag.config import Settings
from rag.index import Index, Verdict
from rag.markdown import escape
from rag.pipeline import Pipeline
from tests.conftest import TROOPS_FILE
from tests.test_app import TROOPS, ask, shown, start, use

MALFORMED = "database disk image is malformed"


@pytest.fixture
def copied(
    indexed: Pipeline, tmp_path: Path, make_settings, monkeypatch: pytest.MonkeyPatch
) -> Settings:
    """The app on a copy of the session's corpus and index, not yet opened by this process
    (Chroma keeps a store open per folder)."""
    shutil.copytree(indexed.settings.corpus_dir, tmp_path / "corpus")
    shutil.copytree(indexed.settings.index_path, tmp_path / "index")
    settings: Settings = make_settings(tmp_path / "corpus")
    use(monkeypatch, settings)
    return settings


def truncate_store(settings: Settings) -> None:
    sqlite = settings.index_path / "chroma" / "chroma.sqlite3"
    os.truncate(sqlite, sqlite.stat().st_size // 3)


def buttons(at: AppTest) -> list[str | None]:
    return [button.key for button in at.sidebar.button]


def rebuild(at: AppTest, settings: Settings) -> AppTest:
    """Press Rebuild index: one note says what was built, and the offer is gone."""
    at.button(key="rebuild").click().run()
    assert not at.exception, at.exception
    assert [s.value for s in at.sidebar.success] == [
        escape("Rebuilt: 5 added, 0 updated, 0 removed, 55 passages embedded.")
    ]
    assert not at.sidebar.error and "rebuild" not in buttons(at)
    assert not list(settings.index_path.parent.glob("index.*")), "no staging folder is left"
    return at


def assert_healed(at: AppTest, settings: Settings, indexed: Pipeline) -> None:
    """The index equals a fresh build, and the app answers the 2,500 question with its
    citation."""
    healed = Index(settings)
    assert healed.health().verdict == Verdict.OK
    fresh = indexed.index.collection.get(include=["documents"])
    got = healed.collection.get(include=["documents"])
    assert dict(zip(got["ids"], got["documents"], strict=True)) == dict(
        zip(fresh["ids"], fresh["documents"], strict=True)
    )
    at = ask(at, TROOPS)
    assert "late 2020" in at.chat_message[-1].markdown[1].value
    assert escape(f"{TROOPS_FILE} · undated") in shown(at), "its source card"


def test_a_store_that_cannot_be_read_is_named_and_rebuilt_from_the_panel(
    copied: Settings, indexed: Pipeline
) -> None:
    truncate_store(copied)
    at = start()
    [error] = at.sidebar.error
    assert MALFORMED in error.value and "\n" not in error.value
    assert "rebuild" in buttons(at)
    # A question is refused in one line, never answered "I cannot answer" from what is left.
    at = ask(at, TROOPS)
    [refusal] = at.main.error
    assert MALFORMED in refusal.value
    assert not at.chat_message[1].markdown
    assert "Traceback" not in shown(at)

    assert_healed(rebuild(at, copied), copied, indexed)


def test_damage_found_by_re_index_while_the_app_runs_offers_the_rebuild(
    copied: Settings, indexed: Pipeline
) -> None:
    at = start()
    assert not at.sidebar.error and "rebuild" not in buttons(at)
    truncate_store(copied)  # the status shown was worked out before: it said ok
    at.button(key="reindex").click().run()
    assert not at.exception, at.exception
    [error] = at.sidebar.error  # said once: by the failed Re-index, not again by the panel
    assert MALFORMED in error.value
    assert "rebuild" in buttons(at)

    assert_healed(rebuild(at, copied), copied, indexed)


def test_a_store_folder_deleted_while_the_app_runs_is_restored_by_re_index(
    copied: Settings, indexed: Pipeline
) -> None:
    at = ask(start(), TROOPS)  # the store is open in the app's warm pipeline
    shutil.rmtree(copied.index_path / "chroma")
    for _ in range(2):  # refused each time, not only when the change is first seen
        at = ask(at, TROOPS)
        [refusal] = at.main.error
        assert "55 chunks missing from the store" in refusal.value
        assert not at.chat_message[-1].markdown, "not answered from what is left"
    at.button(key="reindex").click().run()
    assert not at.exception, at.exception
    assert [s.value for s in at.sidebar.success] == [
        escape("Indexed: 0 added, 0 updated, 0 removed, 55 passages embedded."),
        escape("Repaired: restored 55 chunks missing from the store (5 files re-embedded)."),
    ]
    assert_healed(at, copied, indexed)
