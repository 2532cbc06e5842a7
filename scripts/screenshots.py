"""Take the documentation's screenshots of the real app in headless Chromium.

    python -m scripts.screenshots        (from the repository, with the dev extras installed)

Starts `streamlit run app.py` in a scratch folder with an empty corpus, uploads the five
articles of corpus/ through the sidebar (docs/upload.png, taken while they are indexed), asks
the troop question and opens the whole article of its source (docs/chat.png), asks how the
troop numbers changed (docs/timeline.png, with both conversations listed in the sidebar),
opens the Articles page (docs/articles.png), runs the gold set on the evaluation page
(docs/evaluation.png), then, in a new session, asks "now" as of mid-2019, whose two quotes
share one passage's card (docs/merged.png, with the status line above).
"""

from __future__ import annotations

import re
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from tests.browser import REPO, ask, browser_page, chromium_missing, streamlit_server

DOCS = REPO / "docs"
WIDTH = 1280
# Ingest small batches on one thread, so the upload's progress bar stays up long enough.
SLOW_INGEST = {"RAG_EMBED_BATCH_SIZE": "2", "RAG_EMBED_THREADS": "1"}
WAIT_MS = 120_000


def upload(page: Any) -> None:
    """docs/upload.png: the corpus panel while uploaded articles are indexed."""
    files = sorted((REPO / "corpus").glob("*.txt"))
    page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(files)
    add = page.get_by_role("button", name="Add to the corpus and index")
    add.wait_for(timeout=WAIT_MS)
    add.click()
    # Taken about halfway, so the bar shows how far indexing has got.
    halfway = re.compile(r"Embedding passages: [2-3]\d/")
    page.get_by_test_id("stProgress").get_by_text(halfway).wait_for(timeout=WAIT_MS)
    page.screenshot(path=DOCS / "upload.png")
    page.get_by_text("Indexed:").wait_for(timeout=WAIT_MS)


def chat(page: Any) -> None:
    """docs/chat.png: a cited answer and its source card with the whole article open."""
    ask(page, "When did US troop levels in Iraq drop to 2,500?")
    answer = page.get_by_test_id("stChatMessage").nth(1)
    answer.get_by_text("002_982d4678ac49a3e8.txt").first.wait_for(timeout=WAIT_MS)
    answer.get_by_text("Whole article").first.click()
    page.get_by_test_id("stChatMessage").nth(0).scroll_into_view_if_needed()
    page.wait_for_timeout(500)  # the expander's opening animation
    page.screenshot(path=DOCS / "chat.png")


def timeline(page: Any) -> None:
    """docs/timeline.png: a timeline answer, its dated table above the source cards."""
    page.get_by_role("button", name="New chat").click()
    page.get_by_test_id("stChatMessage").first.wait_for(state="detached", timeout=WAIT_MS)
    ask(page, "How many US troops were in Iraq?")
    answer = page.get_by_test_id("stChatMessage").nth(1)
    answer.get_by_test_id("stTable").wait_for(timeout=WAIT_MS)
    page.wait_for_timeout(1500)  # the app's own scroll to the answer's start comes first
    page.get_by_test_id("stChatMessage").nth(0).scroll_into_view_if_needed()
    page.wait_for_timeout(500)
    page.screenshot(path=DOCS / "timeline.png")


def articles(page: Any) -> None:
    """docs/articles.png: the indexed articles with their dates, and the corpus's range."""
    page.get_by_test_id("stSidebarNav").get_by_text("Articles").click()
    main = page.get_by_test_id("stMainBlockContainer")
    main.get_by_text("articles published from").wait_for(timeout=WAIT_MS)
    page.wait_for_timeout(500)
    page.screenshot(path=DOCS / "articles.png")


def evaluation(page: Any) -> None:
    """docs/evaluation.png: the evaluation page after a run on the shipped gold set."""
    page.get_by_test_id("stSidebarNav").get_by_text("Evaluation").click()
    page.get_by_role("button", name="Run the evaluation").click()
    page.get_by_text("Questions", exact=True).wait_for(timeout=WAIT_MS)
    page.wait_for_timeout(1000)  # the chart's drawing
    page.screenshot(path=DOCS / "evaluation.png")


def merged(page: Any, url: str) -> None:
    """docs/merged.png: the status line, and an answer whose two quotes share one card."""
    page.goto(url)  # a new session: no date range, no conversation
    # The date field is typed into segment by segment (year, month, day), as a person would.
    year = page.get_by_role("spinbutton", name="year, As of")
    year.wait_for(timeout=WAIT_MS)
    year.click()
    page.keyboard.type("20190630")
    page.keyboard.press("Tab")
    page.wait_for_timeout(1000)  # the date reaches the app
    ask(page, "How many US troops are in Iraq now?")
    answer = page.get_by_test_id("stChatMessage").nth(1)
    # The first: the same words are in the answer's copy-and-export block too.
    answer.get_by_text("As of 2019-06-30: only articles published by then.").first.wait_for(
        timeout=WAIT_MS
    )
    answer.get_by_text("Copy or export").wait_for(timeout=WAIT_MS)
    page.wait_for_timeout(1500)  # the app's own scroll to the answer's start comes first
    page.get_by_role("heading", name="newsdesk").first.scroll_into_view_if_needed()
    page.wait_for_timeout(500)
    page.screenshot(path=DOCS / "merged.png")


def main() -> int:
    missing = chromium_missing()
    if missing:
        print(f"Cannot take screenshots: {missing}", file=sys.stderr)
        return 1
    DOCS.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        (root / "corpus").mkdir()
        (root / "eval").mkdir()
        shutil.copy(REPO / "eval" / "gold.jsonl", root / "eval" / "gold.jsonl")
        shutil.copy(REPO / "eval" / "thresholds.json", root / "eval" / "thresholds.json")
        shutil.copytree(REPO / ".streamlit", root / ".streamlit")
        env = {
            "RAG_CORPUS_DIR": str(root / "corpus"),
            "RAG_INDEX_DIR": str(root / "index"),
            "RAG_LLM": "extractive",
            **SLOW_INGEST,
        }
        with (
            streamlit_server(env, root / "server.log", cwd=root) as url,
            browser_page(WIDTH, 1000) as page,
        ):
            page.goto(url)
            page.get_by_test_id("stChatInputTextArea").wait_for(timeout=WAIT_MS)
            upload(page)
            page.set_viewport_size({"width": WIDTH, "height": 1500})
            chat(page)
            timeline(page)
            articles(page)
            page.set_viewport_size({"width": WIDTH, "height": 1400})
            evaluation(page)
            page.set_viewport_size({"width": WIDTH, "height": 1100})
            merged(page, url)
    for name in ("upload", "chat", "timeline", "articles", "evaluation", "merged"):
        print(DOCS / f"{name}.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
