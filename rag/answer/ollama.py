"""The Ollama client: answers streamed through llama-index's Ollama integration, and the
probe of Ollama's models (`GET /api/tags`)."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import httpx
import ollama
import pydantic

from rag.answer.llm import PROBE_TIMEOUT_S, Health, LLMServer, messages
from rag.config import Settings
from rag.types import LLMError, Mode

if TYPE_CHECKING:  # llama-index is slow to import; only generation needs it
    from llama_index.llms.ollama import Ollama

# Prompt size estimate for sizing num_ctx. Llama-family tokenizers average about four
# characters of English per token; three errs towards a window too large, never too small.
CHARS_PER_TOKEN = 3
# num_ctx is rounded up to a multiple of this (Ollama reloads the model when it changes, so
# similar prompts should land on the same size), and never set below Ollama's own default.
CONTEXT_STEP = 1024
MIN_CONTEXT = 2048
# Errors a request to Ollama can end in: refused or failed connections, timeouts, HTTP
# errors, a stream cut mid-line, a reply that is not Ollama's (another server at that address).
REQUEST_ERRORS = (
    ollama.ResponseError,
    ConnectionError,
    httpx.HTTPError,
    json.JSONDecodeError,
    pydantic.ValidationError,
)


class OllamaClient(LLMServer):
    """Ollama, behind `RAG_LLM=ollama|auto`."""

    mode = Mode.OLLAMA

    def __init__(self, settings: Settings) -> None:
        super().__init__()
        self.host = settings.ollama_host
        self._model = settings.ollama_model
        self.timeout = settings.ollama_timeout
        self.max_output = settings.ollama_max_output
        self.max_context = settings.ollama_max_context
        self.temperature = settings.ollama_temperature
        # Connecting fails fast; a model reading a long prompt may take long to answer.
        self._client = ollama.Client(
            host=self.host, timeout=httpx.Timeout(self.timeout, connect=PROBE_TIMEOUT_S)
        )
        # Whether the model can think (a reasoning model, by /api/show's capabilities): it is
        # then asked not to, which spares minutes of thinking on a CPU. An older Ollama does
        # not say, and is not sent the option it would refuse.
        self._thinks = False

    @property
    def model(self) -> str:
        return self._model

    def probe(self) -> Health:
        client = ollama.Client(host=self.host, timeout=PROBE_TIMEOUT_S)
        try:
            models = client.list().models
        except REQUEST_ERRORS as error:
            return Health(False, explain(error, self.host, self.model, PROBE_TIMEOUT_S))
        names = tuple(sorted(m.model for m in models if m.model))
        if self.model in names or f"{self.model}:latest" in names:
            try:
                self._thinks = "thinking" in (client.show(self.model).capabilities or ())
            except REQUEST_ERRORS:
                self._thinks = False  # answering does not need to know
            return Health(True, models=names)
        return Health(False, not_pulled(self.host, self.model), names)

    def stream(self, prompt: str, system: str | None = None) -> Iterator[str]:
        llm = self._llm(prompt, system)
        last: dict[str, Any] | None = None
        try:
            for response in llm.stream_chat(messages(prompt, system)):
                last = response.raw
                if response.delta:
                    yield response.delta
        except REQUEST_ERRORS as error:
            raise self._fail(error) from None
        if not last or not last.get("done"):
            self.forget_health()
            raise LLMError(
                f"Ollama at {self.host} closed the answer before finishing it; the answer may "
                "be incomplete. Check that the server is still running (`ollama ps`)."
            )
        if last.get("done_reason") == "length":
            raise LLMError(
                f"The answer reached the {self.max_output}-token limit and stops there; raise "
                "RAG_OLLAMA_MAX_OUTPUT for longer answers."
            )

    def complete(self, prompt: str, system: str | None = None) -> str:
        try:
            response = self._llm(prompt, system).chat(messages(prompt, system))
        except REQUEST_ERRORS as error:
            raise self._fail(error) from None
        return response.message.content or ""

    def context_window(self, prompt: str, system: str | None = None) -> int:
        """num_ctx for a prompt: room for all of it and the longest answer, so Ollama never
        drops the start of the passages to make it fit."""
        chars = len(prompt) + len(system or "")
        needed = math.ceil(chars / CHARS_PER_TOKEN) + self.max_output
        window = max(MIN_CONTEXT, math.ceil(needed / CONTEXT_STEP) * CONTEXT_STEP)
        if window > self.max_context:
            raise LLMError(
                f"The question and passages need a context window of about {window:,} tokens, "
                f"more than RAG_OLLAMA_MAX_CONTEXT={self.max_context:,}; raise it (if the model "
                "and memory allow) or lower RAG_TOP_K or RAG_CHUNK_SIZE."
            )
        return window

    def _llm(self, prompt: str, system: str | None) -> Ollama:
        from llama_index.llms.ollama import Ollama

        # context_window is always given: left unset, the integration asks /api/show first.
        return Ollama(
            model=self.model,
            base_url=self.host,
            context_window=self.context_window(prompt, system),
            request_timeout=self.timeout,
            temperature=self.temperature,
            thinking=False if self._thinks else None,
            additional_kwargs={"num_predict": self.max_output},
            client=self._client,
        )

    def _fail(self, error: Exception) -> LLMError:
        """The error as a user sees it; the next question probes the server again."""
        self.forget_health()
        return LLMError(explain(error, self.host, self.model, self.timeout))


def explain(error: Exception, host: str, model: str, timeout: float) -> str:
    """A failed request to Ollama as one line a user can act on."""
    if isinstance(error, ollama.ResponseError):
        if error.status_code == 404:
            return not_pulled(host, model)
        return (
            f"Ollama at {host} failed (HTTP {error.status_code}: {error.error}). "
            "Check the server's log."
        )
    if isinstance(error, httpx.TimeoutException):
        waited = PROBE_TIMEOUT_S if isinstance(error, httpx.ConnectTimeout) else timeout
        return (
            f"Ollama at {host} did not answer within {waited:g} s. If the model is slow on "
            "this machine raise RAG_OLLAMA_TIMEOUT; if the address is wrong, fix OLLAMA_HOST."
        )
    if isinstance(error, ConnectionError | httpx.ConnectError):
        return (
            f"Ollama is not reachable at {host}. Start it with `ollama serve` (and "
            f"`ollama pull {model}` once), or set OLLAMA_HOST to the address of a running Ollama."
        )
    detail = f"{type(error).__name__}: {str(error).splitlines()[0]}"
    if isinstance(error, pydantic.ValidationError):
        return (
            f"The server at {host} does not answer like Ollama ({detail}); "
            "check that OLLAMA_HOST points at Ollama."
        )
    return (
        f"Ollama at {host} broke off the reply ({detail}). "
        "Check that it is still running (`ollama ps`)."
    )


def not_pulled(host: str, model: str) -> str:
    """The fix for a model Ollama does not have."""
    return f"Ollama at {host} does not have the model {model}: run `ollama pull {model}`."
