"""An OpenAI-compatible server (llama.cpp's llama-server, LM Studio, vLLM, LocalAI): answers
streamed through llama-index's OpenAI-like integration, and the probe of its models
(`GET /v1/models`)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import TYPE_CHECKING

import httpx

from rag.answer.llm import PROBE_TIMEOUT_S, Health, LLMServer, messages
from rag.config import Settings
from rag.types import LLMError, Mode

if TYPE_CHECKING:  # llama-index and openai are slow to import; only generation needs them
    from llama_index.llms.openai_like import OpenAILike

# What a user is told to run when no server answers: llama.cpp's own server, one command.
_START = "llama-server -m MODEL.gguf --port 8080"


class OpenAICompatibleClient(LLMServer):
    """The server at `RAG_OPENAI_BASE_URL`, behind `RAG_LLM=openai|auto`."""

    mode = Mode.OPENAI

    def __init__(self, settings: Settings) -> None:
        super().__init__()
        self.host = settings.openai_base_url
        self._chosen = settings.openai_model
        self._key = settings.openai_api_key.get_secret_value()
        self.timeout = settings.ollama_timeout
        self.max_output = settings.ollama_max_output
        self.max_context = settings.ollama_max_context
        self.temperature = settings.ollama_temperature
        self._listed: tuple[str, ...] = ()
        self._llm: OpenAILike | None = None

    @property
    def model(self) -> str:
        """The model set, else the first the server lists (known once it was probed)."""
        return self._chosen or (self._listed[0] if self._listed else "the server's model")

    def probe(self) -> Health:
        if not self.host:
            return Health(
                False,
                "No OpenAI-compatible server is set: set RAG_OPENAI_BASE_URL to its address, "
                "e.g. http://127.0.0.1:8080/v1.",
            )
        try:
            response = httpx.get(
                f"{self.host}/models", headers=self._headers(), timeout=PROBE_TIMEOUT_S
            )
            response.raise_for_status()
            names = tuple(str(entry["id"]) for entry in response.json()["data"])
        except (httpx.HTTPError, json.JSONDecodeError, KeyError, TypeError) as error:
            return Health(False, self._explain(error, PROBE_TIMEOUT_S))
        self._listed = names
        if not names:
            return Health(False, f"The server at {self.host} lists no model: load one in it.")
        if self._chosen and self._chosen not in names:
            return Health(
                False,
                f"The server at {self.host} has no model {self._chosen}; it has "
                f"{', '.join(names)}: set RAG_OPENAI_MODEL to one of them.",
                names,
            )
        return Health(True, models=names)

    def stream(self, prompt: str, system: str | None = None) -> Iterator[str]:
        finished: str | None = None
        try:
            for response in self._client().stream_chat(messages(prompt, system)):
                choices = getattr(response.raw, "choices", None) or []
                if choices and choices[0].finish_reason:
                    finished = choices[0].finish_reason
                if response.delta:  # the answer's text; a reasoning part comes apart from it
                    yield response.delta
        except _errors() as error:
            raise self._fail(error) from None
        if finished is None:
            self.forget_health()
            raise LLMError(
                f"The server at {self.host} closed the answer before finishing it; the answer "
                "may be incomplete. Check that it is still running."
            )
        if finished == "length":
            raise LLMError(
                f"The answer reached the {self.max_output}-token limit and stops there; raise "
                "RAG_OLLAMA_MAX_OUTPUT for longer answers."
            )

    def complete(self, prompt: str, system: str | None = None) -> str:
        try:
            response = self._client().chat(messages(prompt, system))
        except _errors() as error:
            raise self._fail(error) from None
        return response.message.content or ""

    def _client(self) -> OpenAILike:
        if self._llm is None:
            from llama_index.llms.openai_like import OpenAILike

            self._llm = OpenAILike(
                model=self.model,
                api_base=self.host,
                # Such servers mostly need no key, and the OpenAI client insists on one.
                api_key=self._key or "none",
                is_chat_model=True,
                context_window=self.max_context,
                max_tokens=self.max_output,
                temperature=self.temperature,
                timeout=self.timeout,
                max_retries=0,  # a failed request is told at once, not retried for minutes
            )
        return self._llm

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._key}"} if self._key else {}

    def _fail(self, error: Exception) -> LLMError:
        """The error as a user sees it; the next question probes the server again."""
        self.forget_health()
        return LLMError(self._explain(error, self.timeout))

    def _explain(self, error: Exception, waited: float) -> str:
        """A failed request as one line a user can act on."""
        import openai

        status = _status(error)
        if status in (401, 403):
            return (
                f"The server at {self.host} refused the request (HTTP {status}): set "
                "RAG_OPENAI_API_KEY to a key it accepts."
            )
        if status == 404:
            return (
                f"The server at {self.host} has no OpenAI API there, or not the model "
                f"{self.model} (HTTP 404); the address usually ends in /v1."
            )
        if status is not None:
            said = f": {_said(error)}" if _said(error) else ""
            return f"The server at {self.host} failed (HTTP {status}{said}). Check its log."
        if isinstance(error, httpx.TimeoutException | openai.APITimeoutError):
            return (
                f"The server at {self.host} did not answer within {waited:g} s. If the model "
                "is slow on this machine raise RAG_OLLAMA_TIMEOUT; if the address is wrong, "
                "fix RAG_OPENAI_BASE_URL."
            )
        if isinstance(error, httpx.ConnectError | openai.APIConnectionError):
            return (
                f"No OpenAI-compatible server is reachable at {self.host}. Start one (for "
                f"example `{_START}`), or set RAG_OPENAI_BASE_URL to the address of a running "
                "one."
            )
        detail = f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"
        if isinstance(error, httpx.TransportError):
            return (
                f"The server at {self.host} broke off the reply ({detail}). Check that it is "
                "still running."
            )
        return (
            f"The server at {self.host} does not answer like an OpenAI-compatible server "
            f"({detail}); check RAG_OPENAI_BASE_URL."
        )


def _status(error: Exception) -> int | None:
    """The HTTP status a failed request got, if it got one."""
    import openai

    if isinstance(error, httpx.HTTPStatusError):
        return error.response.status_code
    if isinstance(error, openai.APIStatusError):
        return error.status_code
    return None


def _said(error: Exception) -> str:
    """The message in an error reply's body, as OpenAI-style servers send it."""
    body = getattr(error, "body", None)
    if isinstance(body, dict):
        inner = body.get("error", body)
        message = inner.get("message") if isinstance(inner, dict) else inner
        return str(message or "")
    return ""


def _errors() -> tuple[type[Exception], ...]:
    """What a request to the server can end in: the OpenAI client's errors, a stream cut
    mid-body, a reply that is not the API's."""
    import openai
    import pydantic

    return (openai.APIError, httpx.HTTPError, json.JSONDecodeError, pydantic.ValidationError)
