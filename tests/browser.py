"""The real app in a real browser: a Streamlit server on a free loopback port, driven by
Debian's headless Chromium through Playwright (used by the browser test and the screenshot
script)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
# No first-run work, background traffic or updates: the browser only talks to the app.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
SERVER_START_SECONDS = 60


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]  # an AF_INET socket's name is (host, port)
        return port


@contextmanager
def streamlit_server(env: dict[str, str], log: Path, cwd: Path = REPO) -> Iterator[str]:
    """Run `streamlit run app.py` in `cwd` on a free loopback port; yield its URL."""
    port = free_port()
    command = [
        str(Path(sys.executable).parent / "streamlit"), "run", str(REPO / "app.py"),
        "--server.address", "127.0.0.1", "--server.port", str(port),
        "--server.headless", "true", "--browser.gatherUsageStats", "false",
    ]  # fmt: skip
    with server_process(command, port, env, log, cwd) as url:
        yield url


@contextmanager
def server_process(
    command: list[str], port: int, env: dict[str, str], log: Path, cwd: Path = REPO
) -> Iterator[str]:
    """Run `command`, a server that will listen on loopback `port`, with `env` added to the
    environment and its output in `log`; yield its URL once it listens, stop it after."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "w") as output:
        server = subprocess.Popen(
            command, cwd=cwd, env={**os.environ, **env}, stdout=output, stderr=subprocess.STDOUT
        )
        try:
            _wait_for_port(port, server, Path(command[0]).name)
            yield f"http://127.0.0.1:{port}"
        finally:
            server.terminate()
            server.wait(timeout=20)


def _wait_for_port(port: int, server: subprocess.Popen[bytes], name: str) -> None:
    deadline = time.monotonic() + SERVER_START_SECONDS
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"{name} exited with code {server.returncode}; see its log")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise RuntimeError(f"{name} did not listen on port {port} within {SERVER_START_SECONDS} s")


def chromium_missing() -> str | None:
    """Why the browser tests cannot run here, or None when they can."""
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is missing: install it with `apt-get install chromium`"
    if shutil.which("streamlit", path=str(Path(sys.executable).parent)) is None:
        return "streamlit is not installed in this environment"
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "playwright is missing: `pip install -e '.[dev]'`"
    return None


@contextmanager
def browser_page(width: int = 1280, height: int = 900) -> Iterator[Any]:
    """A page in headless Chromium (Playwright's `Page`)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser.new_page(viewport={"width": width, "height": height})
        finally:
            browser.close()


def ask(page: Any, question: str) -> None:
    """Type a question into the chat box and send it."""
    box = page.get_by_test_id("stChatInputTextArea")
    box.fill(question)
    box.press("Enter")
