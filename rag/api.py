"""The HTTP API (`rag serve`): one more face of the pipeline, beside the CLI and the app.

Thin FastAPI routes over one warm `Pipeline` shared by every request; none of them decides
anything the CLI or the app would decide otherwise. `POST /v1/ask` returns what `rag ask
--json` prints. Once an account exists (`rag users add`), every route but `/v1/health`
wants `Authorization: Bearer TOKEN` (`rag users token NAME`); with none, the API is open, as
the app is, and `rag serve` says so when it starts. Errors are JSON with one message, never a
stack trace: 401 without a valid token, 403 when the caller's role does not allow the
route, 413 for a body or file over the limit, 400 for a request the pipeline refuses.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, HTTPException, Request, Response, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi_offline import FastAPIOffline
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from rag.accounts import Accounts, Role
from rag.config import Settings
from rag.pipeline import Pipeline
from rag.types import AnswerStream, DateRange, UserError
from rag.uploads import UploadError, remove_from_corpus, save_upload

log = logging.getLogger(__name__)

# A JSON body (a question with its turns) is never near this; an upload may be as large as
# the file limit plus its multipart framing. Larger bodies are refused before being read.
MAX_JSON_BYTES = 1_000_000
MULTIPART_OVERHEAD_BYTES = 64 * 1024
OPEN_NOTICE = (
    "No accounts exist: anyone who can reach this API can ask, upload and remove files. "
    "Add one with `rag users add NAME --role admin` to require tokens."
)

Mode = Literal["auto", "ollama", "openai", "extractive"]


class AskRequest(BaseModel):
    """A question, as `rag ask` takes it."""

    question: str = Field(description="The question (at most 2,000 characters).")
    turns: list[str] = Field(
        default_factory=list, description="The conversation's earlier questions, oldest first."
    )
    as_of: date | None = Field(None, description="Answer as if asked on this day.")
    since: date | None = Field(None, description="Only articles published on or after it.")
    until: date | None = Field(None, description="Only articles published on or before it.")
    mode: Mode | None = Field(None, description="How to answer (RAG_LLM); default: the server's.")
    stream: bool = Field(
        False, description="Server-Sent Events: the text as written, then the answer object."
    )


@dataclass(frozen=True)
class Caller:
    """Who is asking: an account's name and role, or anyone when no account exists."""

    name: str
    role: Role


class Service:
    """The warm pipelines (one per answering mode asked for) and the accounts."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.accounts = Accounts(settings.data_path, settings.session_hours)
        self._pipelines: dict[str, Pipeline] = {}
        self._made = threading.Lock()
        # One ingest at a time: uploads arriving together are indexed in turn.
        self.ingesting = threading.Lock()

    def pipeline(self, mode: Mode | None = None) -> Pipeline:
        """The pipeline answering in `mode` (the settings' own when None), made once."""
        llm = mode or self.settings.llm
        with self._made:
            if llm not in self._pipelines:
                self._pipelines[llm] = Pipeline(self.settings.model_copy(update={"llm": llm}))
            return self._pipelines[llm]

    def ingest(self) -> dict[str, Any]:
        """Bring the index in line with the corpus folder; what changed."""
        with self.ingesting:
            report = self.pipeline().ingest()
        return {
            "added": report.added,
            "updated": report.updated,
            "removed": report.removed,
            "chunks_embedded": report.chunks_embedded,
            "skipped": {s.name: s.reason for s in report.skipped},
        }


_bearer = HTTPBearer(auto_error=False)


def _service(request: Request) -> Service:
    service: Service = request.app.state.service
    return service


def _caller(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Caller:
    """The account whose token the request carries; 401 without a valid one (anyone, as an
    admin, while no account exists)."""
    accounts = _service(request).accounts
    if not accounts.exists():
        return Caller("anyone", Role.ADMIN)
    user = accounts.token_user(credentials.credentials) if credentials else None
    if user is None:
        raise HTTPException(
            401,
            "A valid API token is needed: send 'Authorization: Bearer TOKEN' "
            "(`rag users token NAME` makes one).",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return Caller(user.name, user.role)


def _allowed(check: Callable[[Role], bool], what: str) -> Callable[..., Caller]:
    """A dependency: the caller, when their role passes `check`; 403 saying so otherwise."""

    def dependency(who: Annotated[Caller, Depends(_caller)]) -> Caller:
        if not check(who.role):
            raise HTTPException(403, f"{_article(who.role)} {who.role} cannot {what}.")
        return who

    return dependency


Asker = Annotated[Caller, Depends(_allowed(lambda role: role.can_ask, "ask"))]
Editor = Annotated[Caller, Depends(_allowed(lambda role: role.can_edit, "upload files"))]
Admin = Annotated[Caller, Depends(_allowed(lambda role: role.can_remove, "remove files"))]


def create_app(settings: Settings | None = None) -> FastAPI:
    """The API over the corpus and index of `settings`."""
    service = Service(settings or Settings())
    # FastAPI's own /docs and /redoc pages load their scripts from a CDN, which an offline
    # machine cannot reach; these serve the same pages from files shipped in the package.
    app = FastAPIOffline(
        title="newsdesk",
        summary="Answers about a folder of news articles, each claim cited to its file.",
        version="1",
        static_url="/docs-assets",
    )
    app.state.service = service

    @app.middleware("http")
    async def limit_body(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        """Refuse a body over the limit from its declared length, before reading it."""
        multipart = request.headers.get("content-type", "").startswith("multipart/")
        limit = (
            int(service.settings.max_file_mb * 1e6) + MULTIPART_OVERHEAD_BYTES
            if multipart
            else MAX_JSON_BYTES
        )
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > limit):
            return _error(413, f"The request body is over {limit:,} bytes.")
        return await call_next(request)

    # Starlette's own, which FastAPI's subclasses: an unknown route's 404 is JSON too.
    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
        return _error(error.status_code, str(error.detail), error.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, error: RequestValidationError) -> JSONResponse:
        problems = "; ".join(_problem(problem) for problem in error.errors())
        return _error(422, f"Invalid request: {problems}.")

    @app.exception_handler(UserError)
    async def refused(request: Request, error: UserError) -> JSONResponse:
        return _error(400, str(error))

    @app.exception_handler(Exception)
    async def failed(request: Request, error: Exception) -> JSONResponse:
        log.exception("%s %s failed", request.method, request.url.path)
        return _error(500, "Something went wrong on the server; its log has the details.")

    @app.get("/v1/health")
    def health() -> dict[str, Any]:
        """Whether the API is up (no token needed)."""
        return {"status": "ok", "accounts": service.accounts.exists()}

    @app.post("/v1/ask", response_model=None)
    def ask(body: AskRequest, who: Asker) -> dict[str, Any] | StreamingResponse:
        """Answer a question with citations: the object `rag ask --json` prints."""
        pipeline = service.pipeline(body.mode)
        stream = pipeline.stream(
            body.question, body.turns, DateRange(body.since, body.until), body.as_of
        )
        if not body.stream:
            record: dict[str, Any] = stream.answer.to_dict()
            return record
        return StreamingResponse(_events(stream), media_type="text/event-stream")

    @app.get("/v1/status")
    def status(who: Asker) -> dict[str, Any]:
        """The index: files, articles, chunks, health (as `rag status --json`)."""
        return service.pipeline().index.status().record()

    @app.get("/v1/articles")
    def articles(who: Asker) -> list[dict[str, Any]]:
        """Every indexed article: its file, title and date."""
        files = service.pipeline().index.manifest().complete_files()
        return [
            {
                "file": name,
                "title": article.title,
                "date": article.date.isoformat() if article.date else None,
                "date_estimated": bool(article.date_evidence),
            }
            for name, entry in sorted(files.items())
            for article in entry.articles
        ]

    @app.post("/v1/documents", status_code=201)
    def upload(file: UploadFile, who: Editor) -> dict[str, Any]:
        """Add an article file to the corpus (its name cleaned, kept inside the corpus
        folder; a copy of a file already there is refused) and index it."""
        limit = int(service.settings.max_file_mb * 1e6)
        data = file.file.read(limit + 1)
        if len(data) > limit:
            raise HTTPException(
                413, f"{file.filename!r} is over the {limit / 1e6:g} MB limit (RAG_MAX_FILE_MB)."
            )
        saved = save_upload(service.settings.corpus_dir, file.filename or "", data, limit)
        return {"file": saved.name, "ingest": service.ingest()}

    @app.delete("/v1/documents/{name}")
    def remove(name: str, who: Admin) -> dict[str, Any]:
        """Take a file out of the corpus (moved into its `.removed/` folder) and re-index."""
        try:
            moved = remove_from_corpus(service.settings.corpus_dir, name)
        except UploadError as error:
            raise HTTPException(404, str(error)) from None
        moved_to = moved.relative_to(service.settings.corpus_dir.resolve())
        return {"file": name, "moved_to": str(moved_to), "ingest": service.ingest()}

    return app


def _events(stream: AnswerStream) -> Iterator[str]:
    """Server-Sent Events: `text` for each piece as it is written, then `answer` with the
    whole object (or `error` with one message if answering fails midway)."""
    try:
        for piece in stream:
            yield _event("text", {"text": piece})
        yield _event("answer", stream.answer.to_dict())
    except UserError as error:
        yield _event("error", {"error": str(error)})
    except Exception:
        log.exception("a streamed answer failed")
        yield _event("error", {"error": "Something went wrong on the server; its log has the "
                                        "details."})  # fmt: skip


def _problem(problem: Any) -> str:
    """One validation problem as a reader can act on it: the field and what is wrong, or
    where a body that is not JSON stops being JSON."""
    if problem["type"] == "json_invalid":
        return f"the body is not valid JSON (at character {problem['loc'][-1]})"
    field = ".".join(str(part) for part in problem["loc"][1:]) or "body"
    return f"{field}: {problem['msg']}"


def _article(word: str) -> str:
    """'An' before a vowel ("An editor"), 'A' otherwise."""
    return "An" if word[:1] in "aeiou" else "A"


def _event(name: str, data: dict[str, Any]) -> str:
    return f"event: {name}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def _error(status: int, message: str, headers: Mapping[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)
