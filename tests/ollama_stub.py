"""A stand-in for an Ollama server, for tests: no Ollama can be installed on these machines.

It listens on 127.0.0.1 (a free port), runs in a thread, speaks the parts of Ollama's HTTP API
that the `ollama` client and llama-index's Ollama integration use (`/`, `/api/version`,
`/api/tags`, `/api/show`, `/api/chat` streamed as NDJSON or not, `/api/embed`) and of the
OpenAI chat API that OpenAI-compatible servers offer (`/v1/models`, `/v1/chat/completions`
streamed as server-sent events or not), answers each chat request with the next scripted
`Reply`, and records every request it gets.

    with OllamaStub([Reply("US troop levels fell to 2,500 in late 2020 [1].")]) as stub:
        settings = Settings(ollama_host=stub.url, ...)

Run as a script it serves until Ctrl-C, for trying the CLI by hand:
`python -m tests.ollama_stub "Reply text [1]."` prints the URL to export as OLLAMA_HOST.
"""

from __future__ import annotations

import hashlib
import json
import re
import socket
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np

_HOST = "127.0.0.1"
DEFAULT_MODELS = ("llama3.2:3b", "nomic-embed-text:latest")
OLLAMA_CHAT, OPENAI_CHAT = "/api/chat", "/v1/chat/completions"
CHAT_PATHS = (OLLAMA_CHAT, OPENAI_CHAT)
EMBED_DIM = 64
# Roughly how an LLM's tokens split text: a word with the space before it; brackets alone.
_TOKEN = re.compile(r"\s*(?:\[|\]|[^\s\[\]]+)|\s+")


@dataclass(frozen=True)
class Reply:
    """What the stub answers to one /api/chat request."""

    text: str = ""
    status: int = 200  # anything else: an Ollama-style {"error": ...} body with this status
    error: str = "stub error"
    cut_after: int | None = None  # streamed: drop the connection after this many tokens
    no_done: bool = False  # streamed: end the body cleanly but never send the "done" line
    garbage_after: int | None = None  # streamed: after this many tokens, a line that is not JSON
    done_reason: str = "stop"
    delay: float = 0.0  # seconds between streamed tokens
    hang: bool = False  # accept the request, never answer it
    # Streamed first, in Ollama's separate `thinking` field or the OpenAI-style delta's
    # `reasoning_content`, as llama-server and vLLM send a reasoning model's thinking.
    thinking: str = ""


@dataclass(frozen=True)
class Request:
    """A request the stub received."""

    method: str
    path: str
    body: dict[str, Any]
    authorization: str | None = None  # the Authorization header, when one was sent


def tokens(text: str) -> list[str]:
    """`text` in LLM-like pieces that join back to it exactly."""
    return _TOKEN.findall(text)


def embedding(text: str) -> list[float]:
    """A bag-of-words vector (hashed words): texts sharing words point the same way."""
    vector = np.zeros(EMBED_DIM)
    for word in re.findall(r"\w+", text.lower()):
        vector[int(hashlib.md5(word.encode()).hexdigest(), 16) % EMBED_DIM] += 1.0
    vector[0] += 1e-3  # never all zeros
    return vector.tolist()


class OllamaStub:
    """A scripted Ollama on 127.0.0.1; use as a context manager."""

    def __init__(
        self,
        replies: Iterable[Reply] = (),
        models: Iterable[str] = DEFAULT_MODELS,
        hang: bool = False,
        tags_status: int = 200,
        api_key: str | None = None,
        thinking_models: Iterable[str] = (),
        writer: Callable[[dict[str, Any]], Reply] | None = None,
    ) -> None:
        self.replies = deque(replies)
        # Once the scripted replies are used up, each chat is answered by `writer` (a real
        # model, tests/real_model.py) when there is one.
        self.writer = writer
        self.models = list(models)
        self.hang = hang  # accept every connection, never answer
        self.tags_status = tags_status
        # With a key, the OpenAI API answers only requests that carry it, as `vllm --api-key`.
        self.api_key = api_key
        # Models /api/show says can think, as Ollama 0.9 and later say of reasoning models.
        self.thinking_models = set(thinking_models)
        self.requests: list[Request] = []
        self._stop = threading.Event()
        self._server = _Server((_HOST, 0), _handler(self))
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        """The address to give as OLLAMA_HOST."""
        return f"http://{_HOST}:{self._server.server_port}"

    def paths(self) -> list[str]:
        """The paths requested so far, in order."""
        return [request.path for request in self.requests]

    def chats(self) -> list[dict[str, Any]]:
        """The bodies of the chat requests so far, of either API."""
        return [r.body for r in self.requests if r.path in CHAT_PATHS]

    @property
    def openai_url(self) -> str:
        """The address to give as RAG_OPENAI_BASE_URL."""
        return f"{self.url}/v1"

    def __enter__(self) -> OllamaStub:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()  # releases handlers told to hang
        self._server.shutdown()
        self._server.server_close()


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client closing its kept-alive connection is normal and is not printed. Printing
        # its traceback is also harmful here: on Python 3.11, formatting a traceback parses
        # source with `ast`, which is not thread-safe, and a parse racing the app's own
        # (AppTest compiles app.py in another thread) fails with "AST constructor recursion
        # depth mismatch" (CPython gh-106905).
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


def _handler(stub: OllamaStub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib name
            pass  # keep test output clean

        def do_GET(self) -> None:  # noqa: N802 - stdlib name
            self._serve({})

        def do_HEAD(self) -> None:  # noqa: N802 - stdlib name
            self._serve({})

        def do_POST(self) -> None:  # noqa: N802 - stdlib name
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            self._serve(json.loads(raw) if raw else {})

        def _serve(self, body: dict[str, Any]) -> None:
            authorization = self.headers.get("Authorization")
            stub.requests.append(Request(self.command, self.path, body, authorization))
            if stub.hang:
                stub._stop.wait()
                return
            if self.path == "/":
                self._send(200, b"Ollama is running", "text/plain")
            elif self.path == "/api/version":
                self._json(200, {"version": "0.0.0-stub"})
            elif self.path == "/api/tags":
                if stub.tags_status != 200:
                    self._json(stub.tags_status, {"error": "stub: tags failed"})
                else:
                    self._json(200, {"models": [_model(name) for name in stub.models]})
            elif self.path == "/api/show":
                can = ["completion", *["thinking"] * (body.get("model") in stub.thinking_models)]
                self._json(200, {"model_info": {"llama.context_length": 131072}, "details": {},
                                 "capabilities": can})  # fmt: skip
            elif self.path == "/api/embed":
                self._embed(body)
            elif self.path.startswith("/v1/") and stub.api_key and (
                authorization != f"Bearer {stub.api_key}"
            ):
                error = {"message": "Invalid API key", "type": "authentication_error"}
                self._json(401, {"error": error})
            elif self.path == "/v1/models":
                self._json(200, {"object": "list", "data": [_listed(n) for n in stub.models]})
            elif self.path in CHAT_PATHS:
                self._chat(body)
            else:
                self._json(404, {"error": f"stub: no route {self.path}"})

        def _embed(self, body: dict[str, Any]) -> None:
            if (
                body.get("model") not in stub.models
                and f"{body.get('model')}:latest" not in stub.models
            ):
                self._json(
                    404, {"error": f'model "{body.get("model")}" not found, try pulling it first'}
                )
                return
            texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
            self._json(200, {"model": body["model"], "embeddings": [embedding(t) for t in texts]})

        def _chat(self, body: dict[str, Any]) -> None:
            if stub.replies:
                reply = stub.replies.popleft()
            elif stub.writer is not None:
                reply = stub.writer(body)
            else:
                reply = Reply(status=500, error="stub: no scripted reply left")
            if reply.hang:
                stub._stop.wait()
                return
            openai = self.path == OPENAI_CHAT
            if reply.status != 200:
                error = {"message": reply.error, "type": "server_error"} if openai else reply.error
                self._json(reply.status, {"error": error})
                return
            line = _Lines(body.get("model", ""), openai)
            # Ollama streams unless told not to; the OpenAI API only when asked to.
            if not body.get("stream", not openai):
                self._json(200, line.whole(reply.text, reply.done_reason))
                return
            self.send_response(200)
            kind = "text/event-stream" if openai else "application/x-ndjson"
            self.send_header("Content-Type", kind)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            try:
                self._stream(line, reply)
            except (BrokenPipeError, ConnectionResetError):
                # The client stopped reading (it stops a runaway reply): not an error.
                self.close_connection = True

        def _stream(self, line: _Lines, reply: Reply) -> None:
            for piece in tokens(reply.thinking):
                self._raw_chunk(line.piece("", thinking=piece))
            for n, piece in enumerate(tokens(reply.text)):
                if reply.garbage_after is not None and n == reply.garbage_after:
                    self._raw_chunk(line.frame(b'{"model": "broken", "message": {"content": \n'))
                    self._raw_chunk(b"")  # end the body: the client has given up on it
                    self.close_connection = True
                    return
                if reply.cut_after is not None and n == reply.cut_after:
                    # Drop the connection mid-body: no closing chunk, no "done" line.
                    self.wfile.flush()
                    self.connection.shutdown(socket.SHUT_RDWR)
                    self.close_connection = True
                    return
                self._raw_chunk(line.piece(piece))
                time.sleep(reply.delay)
            if not reply.no_done:
                for end in line.end(reply.done_reason):
                    self._raw_chunk(end)
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()

        def _raw_chunk(self, data: bytes) -> None:
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            self.wfile.flush()

        def _json(self, status: int, record: dict[str, Any]) -> None:
            self._send(status, json.dumps(record).encode(), "application/json")

        def _send(self, status: int, data: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

    return Handler


def _model(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "model": name,
        "modified_at": "2025-01-01T00:00:00Z",
        "size": 1,
        "digest": hashlib.sha256(name.encode()).hexdigest(),
        "details": {"format": "gguf", "family": "llama", "parameter_size": "3B"},
    }


def _listed(name: str) -> dict[str, Any]:
    return {"id": name, "object": "model", "created": 0, "owned_by": "stub"}


@dataclass(frozen=True)
class _Lines:
    """What a chat reply is made of in one API: Ollama's NDJSON lines, or the OpenAI API's
    chunks as server-sent events (and each one's whole-reply form)."""

    model: str
    openai: bool

    def frame(self, data: bytes) -> bytes:
        """One line of the stream, as sent."""
        return b"data: " + data + b"\n\n" if self.openai else data + b"\n"

    def piece(self, content: str, thinking: str = "") -> bytes:
        """A piece of the reply, of its answer or of its thinking."""
        if not self.openai:
            return self._send(_chat_line(self.model, content, False, thinking=thinking))
        delta = {"reasoning_content": thinking} if thinking else {"content": content}
        return self._send(self._chunk(delta, None))

    def end(self, reason: str) -> list[bytes]:
        """The lines that say the reply is done."""
        if not self.openai:
            return [self._send(_chat_line(self.model, "", True, reason))]
        return [self._send(self._chunk({}, reason)), self.frame(b"[DONE]")]

    def _send(self, record: dict[str, Any]) -> bytes:
        return self.frame(json.dumps(record).encode())

    def whole(self, text: str, reason: str) -> dict[str, Any]:
        """The reply in one piece, for a request that did not ask for a stream."""
        if not self.openai:
            return _chat_line(self.model, text, done=True, reason=reason)
        message = {"role": "assistant", "content": text}
        return {
            "id": "chatcmpl-stub", "object": "chat.completion", "created": 0, "model": self.model,
            "choices": [{"index": 0, "message": message, "finish_reason": reason}],
            "usage": {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120},
        }  # fmt: skip

    def _chunk(self, delta: dict[str, Any], reason: str | None) -> dict[str, Any]:
        return {
            "id": "chatcmpl-stub", "object": "chat.completion.chunk", "created": 0,
            "model": self.model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": reason}],
        }  # fmt: skip


def _chat_line(
    model: str, content: str, done: bool, reason: str = "stop", thinking: str = ""
) -> dict[str, Any]:
    message = {"role": "assistant", "content": content}
    if thinking:
        message["thinking"] = thinking
    line: dict[str, Any] = {
        "model": model,
        "created_at": "2025-01-01T00:00:00Z",
        "message": message,
        "done": done,
    }
    if done:
        line |= {"done_reason": reason, "prompt_eval_count": 100, "eval_count": 20}
    return line


if __name__ == "__main__":
    script = [Reply(text, delay=0.05) for text in sys.argv[1:]] * 100
    with OllamaStub(script) as running:
        print(f"export OLLAMA_HOST={running.url}", flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass
