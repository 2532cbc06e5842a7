"""What answering needs of an LLM server, whichever kind: Ollama (rag/answer/ollama.py) or
one that speaks the OpenAI chat API (rag/answer/openai_compat.py: llama.cpp's llama-server,
LM Studio, vLLM, LocalAI).

Each server has a health probe that decides within a few seconds whether it can answer at
all: an unreachable host or a model it does not have must turn into a one-line reason with
the command that fixes it, never into a hang or a stack trace.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rag.config import Settings
from rag.types import Mode

if TYPE_CHECKING:  # llama-index is slow to import; only generation needs it
    from llama_index.core.base.llms.types import ChatMessage

# An unreachable or silent host is given up after this long, on the probe and on connecting.
PROBE_TIMEOUT_S = 2.0
# A probe result is reused this long, so a chat does not probe before every question.
HEALTH_TTL_S = 30.0


@dataclass(frozen=True)
class Health:
    """Whether a server can answer now, and if not why, with the command that fixes it."""

    ready: bool
    problem: str | None = None
    models: tuple[str, ...] = ()  # the models the server has, when it answered


class LLMServer(ABC):
    """A server that writes answers: health probe, streamed answers, short completions."""

    mode: Mode
    host: str

    def __init__(self) -> None:
        self._health: tuple[float, Health] | None = None

    @property
    @abstractmethod
    def model(self) -> str:
        """The model that writes the answers."""

    @property
    def label(self) -> str:
        """The server and model, as the status line names them: "Ollama · llama3.2:3b"."""
        return f"{self.mode.server} · {self.model}"

    def health(self) -> Health:
        """The probe's result, reused for HEALTH_TTL_S seconds."""
        now = time.monotonic()
        if self._health is None or now - self._health[0] > HEALTH_TTL_S:
            self._health = (now, self.probe())
        return self._health[1]

    def forget_health(self) -> None:
        """Probe again before the next question: a request just failed."""
        self._health = None

    @abstractmethod
    def probe(self) -> Health:
        """Ask the server for its models, giving up after PROBE_TIMEOUT_S."""

    @abstractmethod
    def stream(self, prompt: str, system: str | None = None) -> Iterator[str]:
        """The model's answer to `prompt`, piece by piece as the server sends it.

        Raises LLMError when the request fails or the answer ends before the server says it
        is done (the caller may already hold the pieces sent until then).
        """

    @abstractmethod
    def complete(self, prompt: str, system: str | None = None) -> str:
        """The model's whole reply to `prompt`, in one piece (not streamed)."""


def servers(settings: Settings) -> list[LLMServer]:
    """The servers `RAG_LLM` lets write answers, in the order `auto` tries them: Ollama, then
    the OpenAI-compatible server when one is set."""
    from rag.answer.ollama import OllamaClient
    from rag.answer.openai_compat import OpenAICompatibleClient

    if settings.llm == "openai":
        return [OpenAICompatibleClient(settings)]
    found: list[LLMServer] = [OllamaClient(settings)]
    if settings.llm != "ollama" and settings.openai_base_url:
        found.append(OpenAICompatibleClient(settings))
    return found


def messages(prompt: str, system: str | None) -> list[ChatMessage]:
    """The prompt as chat messages: the system message first, when there is one."""
    from llama_index.core.base.llms.types import ChatMessage, MessageRole

    found = [ChatMessage(role=MessageRole.USER, content=prompt)]
    if system:
        found.insert(0, ChatMessage(role=MessageRole.SYSTEM, content=system))
    return found
