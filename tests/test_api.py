"""The HTTP API against a real `rag serve` (uvicorn) on a free loopback port, with real
accounts and tokens made by `rag users`, and the attacks a server on a network meets."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from rag.cli import main
from rag.config import Settings
from rag.pipeline import Pipeline
from tests.browser import free_port, server_process
from tests.conftest import TROOPS_FILE, copy_corpus

TROOPS = "when did US troops drop to 2,500?"
# A small file limit, so an upload over it is cheap to send.
MAX_FILE_MB = 0.05
NEW_ARTICLE = (
    "Ardmore bridge reopens after repairs\n\n"
    "The Zephyr footbridge in Ardmore reopened to walkers on 3 March 2026 after repairs that "
    "cost 4.2 million euros, the town council said on Tuesday. The bridge had been closed for "
    "eleven months after inspectors found cracks in two of its supports.\n"
)


@dataclass(frozen=True)
class Served:
    """A running `rag serve`, the folders it reads, and the environment of its settings."""

    url: str
    corpus: Path
    env: dict[str, str]


def serve(root: Path, model_cache: Path, log: Path) -> Iterator[Served]:
    """`rag serve --host 127.0.0.1 --port N` over a private, indexed copy of the articles."""
    corpus = copy_corpus(root / "corpus")
    env = {
        "RAG_CORPUS_DIR": str(corpus),
        "RAG_INDEX_DIR": str(root / "index"),
        "RAG_DATA_DIR": str(root / "data"),
        "RAG_CACHE_DIR": str(model_cache),
        "RAG_MAX_FILE_MB": str(MAX_FILE_MB),
        "RAG_LLM": "extractive",
    }
    Pipeline(Settings(corpus_dir=corpus, index_dir=root / "index", cache_dir=model_cache)).ingest()
    port = free_port()
    command = [sys.executable, "-m", "rag", "serve", "--host", "127.0.0.1", "--port", str(port)]
    with server_process(command, port, env, log) as url:
        yield Served(url, corpus, env)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, model_cache: Path) -> Iterator[Served]:
    root = tmp_path_factory.mktemp("api")
    yield from serve(root, model_cache, root / "serve.log")


def users(served: Served, *args: str, stdin: str | None = None) -> str:
    """Run `rag users ARGS` on the server's data; its output (it must succeed)."""
    done = CliRunner().invoke(main, ["users", *args], env=served.env, input=stdin)
    assert done.exit_code == 0, done.output
    return done.output


@pytest.fixture(scope="module")
def tokens(served: Served) -> dict[str, str]:
    """An account of each role, each with an API token (the last line `rag users token`
    prints)."""
    made = {}
    for role in ("admin", "editor", "reader"):
        users(served, "add", role, "--role", role, "--password-stdin", stdin=f"pw-{role}-9x\n")
        made[role] = users(served, "token", role).strip().splitlines()[-1]
    return made


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def ask(served: Served, token: str | None, **body: Any) -> httpx.Response:
    headers = bearer(token) if token else {}
    return httpx.post(f"{served.url}/v1/ask", json=body, headers=headers, timeout=60)


def upload(served: Served, token: str, name: str, data: bytes) -> httpx.Response:
    files = {"file": (name, data, "text/plain")}
    return httpx.post(f"{served.url}/v1/documents", files=files, headers=bearer(token), timeout=120)


def error_of(response: httpx.Response) -> str:
    """The one message of an error response, which must be JSON and carry no stack trace."""
    assert "Traceback" not in response.text
    message = response.json()["error"]
    assert isinstance(message, str) and message and "\n" not in message
    return message


def test_health_needs_no_token_and_docs_list_the_routes(served: Served) -> None:
    assert httpx.get(f"{served.url}/v1/health").json()["status"] == "ok"
    page = httpx.get(f"{served.url}/docs")
    assert page.status_code == 200 and "swagger-ui-bundle.js" in page.text
    # Offline, a page that loads its script from elsewhere stays blank: all of it is here.
    assert not re.findall(r"(?:src|href)=['\"]https?://", page.text)
    for asset in re.findall(r"(?:src|href)=['\"](/docs-assets/[^'\"]+)", page.text):
        assert httpx.get(f"{served.url}{asset}").status_code == 200, asset
    paths = httpx.get(f"{served.url}/openapi.json").json()["paths"]
    assert {"/v1/health", "/v1/ask", "/v1/status", "/v1/articles", "/v1/documents",
            "/v1/documents/{name}"} <= set(paths)  # fmt: skip


def test_without_accounts_the_api_is_open(
    tmp_path: Path, model_cache: Path, tokens: dict[str, str], served: Served
) -> None:
    # Another server with no accounts at all: asking needs no token.
    for other in serve(tmp_path, model_cache, tmp_path / "open.log"):
        assert httpx.get(f"{other.url}/v1/health").json()["accounts"] is False
        answered = ask(other, None, question=TROOPS)
        assert answered.status_code == 200 and "2020" in answered.json()["answer"]
    # With accounts, the same request is refused.
    assert httpx.get(f"{served.url}/v1/health").json()["accounts"] is True


@pytest.mark.parametrize("token", [None, "not-a-token", ""])
def test_asking_without_a_valid_token_is_401(
    served: Served, tokens: dict[str, str], token: str | None
) -> None:
    refused = ask(served, token, question=TROOPS)
    assert refused.status_code == 401
    assert "token" in error_of(refused)


def test_a_reader_asks_and_gets_the_cited_answer(served: Served, tokens: dict[str, str]) -> None:
    answered = ask(served, tokens["reader"], question=TROOPS)
    assert answered.status_code == 200
    record = answered.json()
    # The same object `rag ask --json` prints.
    cli = CliRunner().invoke(main, ["ask", "--json", TROOPS], env=served.env)
    assert set(record) == set(json.loads(cli.stdout))
    assert "2020" in record["answer"] and record["confidence"] in ("high", "low")
    assert TROOPS_FILE in {citation["file"] for citation in record["citations"]}


def test_a_streamed_answer_ends_in_the_answer_object(
    served: Served, tokens: dict[str, str]
) -> None:
    events = []
    with httpx.stream(
        "POST", f"{served.url}/v1/ask", json={"question": TROOPS, "stream": True},
        headers=bearer(tokens["reader"]), timeout=60,
    ) as response:  # fmt: skip
        assert response.headers["content-type"].startswith("text/event-stream")
        for block in response.read().decode().split("\n\n"):
            if block.strip():
                name, data = block.split("\n", 1)
                events.append(
                    (name.removeprefix("event: "), json.loads(data.removeprefix("data: ")))
                )
    names = [name for name, _ in events]
    assert names[-1] == "answer" and set(names[:-1]) == {"text"}
    text = "".join(data["text"] for name, data in events[:-1])
    assert text.strip() == events[-1][1]["answer"].strip()
    assert TROOPS_FILE in {citation["file"] for citation in events[-1][1]["citations"]}


def test_a_question_the_pipeline_refuses_is_one_line_of_json(
    served: Served, tokens: dict[str, str]
) -> None:
    for question in ("", "   ", "x" * 100_000):
        refused = ask(served, tokens["reader"], question=question)
        assert refused.status_code == 400, refused.text
        assert "question" in error_of(refused).lower()
    invalid = ask(served, tokens["reader"], question=TROOPS, mode="gpt-9")
    assert invalid.status_code == 422 and "mode" in error_of(invalid)
    broken = httpx.post(
        f"{served.url}/v1/ask", content=b'{"question": ', timeout=60,
        headers={**bearer(tokens["reader"]), "Content-Type": "application/json"},
    )  # fmt: skip
    assert broken.status_code == 422
    assert error_of(broken) == "Invalid request: the body is not valid JSON (at character 13)."


def test_a_body_over_the_limit_is_413(served: Served, tokens: dict[str, str]) -> None:
    too_long = httpx.post(
        f"{served.url}/v1/ask", content=b'{"question": "' + b"a" * 2_000_000 + b'"}',
        headers={**bearer(tokens["reader"]), "Content-Type": "application/json"}, timeout=60,
    )  # fmt: skip
    assert too_long.status_code == 413 and error_of(too_long)
    big = upload(served, tokens["editor"], "big.txt", b"word " * int(MAX_FILE_MB * 1e6 / 4))
    assert big.status_code == 413 and "limit" in error_of(big)


def test_a_reader_cannot_upload_and_an_editor_cannot_remove(
    served: Served, tokens: dict[str, str]
) -> None:
    refused = upload(served, tokens["reader"], "reader.txt", NEW_ARTICLE.encode())
    assert refused.status_code == 403 and error_of(refused) == "A reader cannot upload files."
    assert not (served.corpus / "reader.txt").exists()
    kept = httpx.delete(
        f"{served.url}/v1/documents/{TROOPS_FILE}", headers=bearer(tokens["editor"])
    )
    assert kept.status_code == 403 and error_of(kept) == "An editor cannot remove files."
    assert (served.corpus / TROOPS_FILE).exists()


def test_an_upload_named_to_escape_lands_inside_the_corpus_and_is_answered_from(
    served: Served, tokens: dict[str, str]
) -> None:
    saved = upload(served, tokens["editor"], "../../escape.txt", NEW_ARTICLE.encode())
    assert saved.status_code == 201, saved.text
    assert saved.json()["file"] == "escape.txt" and "escape.txt" in saved.json()["ingest"]["added"]
    assert (served.corpus / "escape.txt").read_text() == NEW_ARTICLE
    assert not (served.corpus.parent.parent / "escape.txt").exists()
    answered = ask(served, tokens["reader"], question="When did the Zephyr footbridge reopen?")
    record = answered.json()
    assert "3 March 2026" in record["answer"]
    assert {c["file"] for c in record["citations"]} == {"escape.txt"}
    again = upload(served, tokens["editor"], "copy.txt", NEW_ARTICLE.encode())
    assert again.status_code == 400 and "already in the corpus" in error_of(again)


@pytest.mark.parametrize(
    "name",
    [
        "/etc/passwd",  # no article suffix: refused
        "../../../etc/cron.d/evil.txt",
        "bad\x00name.txt",
        "tab\tand\nnewline.txt",
        "..\\..\\windows.txt",
        "/etc/passwd.txt",
    ],
)
def test_hostile_file_names_are_cleaned_or_refused(
    served: Served, tokens: dict[str, str], name: str
) -> None:
    outside = served.corpus.parent
    before = set(outside.rglob("*"))
    body = f"Council report {len(name)}\n\nThe council met on Monday; its budget is {len(name)}m."
    response = upload(served, tokens["editor"], name, body.encode())
    if not name.endswith(".txt"):
        assert response.status_code == 400 and "not an article file" in error_of(response)
    else:
        assert response.status_code == 201, response.text
        saved = response.json()["file"]
        assert re.fullmatch(r"[\w.-]+\.txt", saved) and not saved.startswith(".")
        assert (served.corpus / saved).read_text() == body
    # Nothing new anywhere but inside the corpus folder and the index beside it.
    new = set(outside.rglob("*")) - before
    assert all(p.is_relative_to(served.corpus) or p.is_relative_to(outside / "index") for p in new)


def test_many_uploads_at_once_are_all_indexed(served: Served, tokens: dict[str, str]) -> None:
    bodies = {
        f"burst-{n}.txt": f"Burst report {n}\n\nThe Quillon{n} festival drew {n + 1},000 "
        "visitors to the harbour on Saturday, its organisers said."
        for n in range(8)
    }
    with ThreadPoolExecutor(max_workers=8) as pool:
        done = list(pool.map(lambda item: upload(served, tokens["editor"], *item),
                             [(name, body.encode()) for name, body in bodies.items()]))  # fmt: skip
    assert [r.status_code for r in done] == [201] * 8, [r.text for r in done]
    listed = httpx.get(f"{served.url}/v1/articles", headers=bearer(tokens["reader"])).json()
    assert set(bodies) <= {article["file"] for article in listed}


def test_concurrent_asks_while_an_ingest_runs_all_succeed(
    served: Served, tokens: dict[str, str]
) -> None:
    def asked(_: int) -> int:
        return ask(served, tokens["reader"], question=TROOPS).status_code

    with ThreadPoolExecutor(max_workers=9) as pool:
        news = b"Harbour report\n\nThe harbour wall was rebuilt in 1990."
        ingest = pool.submit(upload, served, tokens["editor"], "during.txt", news)
        statuses = list(pool.map(asked, range(16)))
    assert statuses == [200] * 16
    assert ingest.result().status_code == 201


def test_an_admin_removes_a_file_which_is_moved_aside(
    served: Served, tokens: dict[str, str]
) -> None:
    added = upload(
        served, tokens["editor"], "gone.txt", NEW_ARTICLE.replace("Zephyr", "Gone").encode()
    )
    assert "gone.txt" in added.json()["ingest"]["added"]
    removed = httpx.delete(f"{served.url}/v1/documents/gone.txt", headers=bearer(tokens["admin"]))
    assert removed.status_code == 200, removed.text
    assert not (served.corpus / "gone.txt").exists()
    assert (served.corpus / ".removed" / "gone.txt").exists()
    assert removed.json()["moved_to"] == ".removed/gone.txt", "no server path is given away"
    assert "gone.txt" in removed.json()["ingest"]["removed"]
    for name in ("gone.txt", "../conftest.py", "..%2Fconftest.py", ".removed", "nothing"):
        missing = httpx.delete(f"{served.url}/v1/documents/{name}", headers=bearer(tokens["admin"]))
        assert missing.status_code == 404 and error_of(missing)


def test_a_revoked_token_is_refused(served: Served) -> None:
    users(served, "add", "leaver", "--role", "reader", "--password-stdin", stdin="pw-leaver-9x\n")
    token = users(served, "token", "leaver").strip().splitlines()[-1]
    assert ask(served, token, question=TROOPS).status_code == 200
    users(served, "revoke", "leaver")
    refused = ask(served, token, question=TROOPS)
    assert refused.status_code == 401 and error_of(refused)


def test_status_and_articles_need_a_token(served: Served, tokens: dict[str, str]) -> None:
    for path in ("/v1/status", "/v1/articles"):
        assert httpx.get(f"{served.url}{path}").status_code == 401
    state = httpx.get(f"{served.url}/v1/status", headers=bearer(tokens["reader"])).json()
    assert state["files"] >= 5 and "health" in state
    articles = httpx.get(f"{served.url}/v1/articles", headers=bearer(tokens["reader"])).json()
    assert TROOPS_FILE in {article["file"] for article in articles}
