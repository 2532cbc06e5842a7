"""The `rag` command: ingest, ask, chat, status, serve, eval, users."""

from __future__ import annotations

import functools
import gc
import json
import shutil
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import click

from rag.accounts import Accounts, Role
from rag.config import Settings
from rag.eval.sets import SETS
from rag.export import answer_json
from rag.types import Confidence, DateRange, UserError

if TYPE_CHECKING:  # the pipeline imports the models' libraries: only commands that answer load it
    from rag.ingest import Progress
    from rag.pipeline import Pipeline


def _settings(corpus: Path | None, index: Path | None) -> Settings:
    overrides: dict[str, Any] = {}
    if corpus is not None:
        overrides["corpus_dir"] = corpus
    if index is not None:
        overrides["index_dir"] = index
    try:
        return Settings(**overrides)
    except ValueError as error:
        raise click.UsageError(f"Invalid settings: {error}") from None


def _corpus_options(command: Callable[..., Any]) -> Callable[..., Any]:
    command = click.option(
        "--index", "index", type=click.Path(path_type=Path), default=None,
        help="Index folder (RAG_INDEX_DIR); default: corpus/.newsdesk",
    )(command)  # fmt: skip
    return click.option(
        "--corpus", "corpus", type=click.Path(path_type=Path), default=None,
        help="Article folder (RAG_CORPUS_DIR); default: ./corpus",
    )(command)  # fmt: skip


@dataclass(frozen=True)
class _When:
    """The --since/--until range and the --as-of day of a command."""

    dates: DateRange
    as_of: date | None


def _date_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Add --as-of, --since and --until, given to `command` as one `when` (a _When); an
    empty range is a UserError, shown in one line."""

    @functools.wraps(command)
    def with_when(
        *args: Any, as_of: datetime | None, since: datetime | None, until: datetime | None,
        **kwargs: Any,
    ) -> Any:  # fmt: skip
        dates = DateRange(since.date() if since else None, until.date() if until else None)
        return command(*args, when=_When(dates, as_of.date() if as_of else None), **kwargs)

    day = click.DateTime(formats=["%Y-%m-%d"])
    for name, what in (
        ("--until", "Only articles published on or before DATE (YYYY-MM-DD); undated ones are "
                    "left out."),
        ("--since", "Only articles published on or after DATE (YYYY-MM-DD); undated ones are "
                    "left out."),
        ("--as-of", "Answer as if asked on DATE (YYYY-MM-DD): only articles published by then, "
                    "and 'now' means the newest of those."),
    ):  # fmt: skip
        option = click.option(name, type=day, metavar="DATE", default=None, help=what)
        with_when = option(with_when)
    return with_when


class _Group(click.Group):
    """Shows a user error as one line instead of a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except UserError as error:
            click.secho(f"Error: {error}", fg="red", err=True)
            sys.exit(1)


@click.group(cls=_Group)
def main() -> None:
    """Ask questions about a folder of news articles; answers cite their sources."""


def run() -> None:
    """The `rag` program: `main`, then an exit that skips sweeping for garbage. The models'
    libraries hold millions of objects, and the collections the interpreter runs while it
    shuts down took 0.3 s of every cold `rag ask`. A command has written and closed all it
    writes when it returns, so nothing is lost by not collecting."""
    try:
        main()
    finally:
        gc.freeze()


@main.command()
@click.argument("path", required=False, type=click.Path(path_type=Path))
@click.option(
    "--rebuild", is_flag=True,
    help="Build the index from nothing, replacing the old one only once complete "
         "(for a store that cannot be read).",
)  # fmt: skip
@_corpus_options
def ingest(path: Path | None, rebuild: bool, corpus: Path | None, index: Path | None) -> None:
    """Index the articles in PATH (default: the corpus folder); only changes are embedded."""
    from rag.pipeline import Pipeline

    pipeline = Pipeline(_settings(path or corpus, index))
    with _stage_bars() as progress:
        report = pipeline.rebuild(progress) if rebuild else pipeline.ingest(progress)
    click.echo(
        f"{len(report.added)} added, {len(report.updated)} updated, "
        f"{len(report.removed)} removed, {len(report.unchanged)} unchanged; "
        f"{report.chunks_embedded} chunks embedded."
    )
    for line in report.repair.lines():
        click.echo(f"repaired: {line}")
    for skipped in report.skipped:
        click.echo(f"skipped {skipped.name}: {skipped.reason}")


@main.command()
@click.argument("question")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@_date_options
@_corpus_options
def ask(
    question: str, as_json: bool, when: _When, corpus: Path | None, index: Path | None
) -> None:
    """Answer QUESTION from the indexed articles, with citations."""
    from rag.pipeline import Pipeline

    pipeline = Pipeline(_settings(corpus, index))
    if as_json:
        click.echo(answer_json(pipeline.ask(question, dates=when.dates, as_of=when.as_of)))
    else:
        _stream_answer(pipeline, question, [], when)


@main.command()
@_date_options
@_corpus_options
def chat(when: _When, corpus: Path | None, index: Path | None) -> None:
    """A conversation in the terminal; follow-up questions use the earlier ones."""
    from rag.pipeline import Pipeline

    pipeline = Pipeline(_settings(corpus, index))
    pipeline.index.check()  # a damaged index is refused before the first question
    history: list[str] = []
    click.echo("Ask about the articles. An empty line or Ctrl-D ends the chat.")
    while True:
        try:
            question = click.prompt("you", prompt_suffix="> ", default="", show_default=False)
        except (EOFError, click.Abort):
            break
        if not question.strip():
            break
        try:
            # Shown before the answer streams; the pipeline reuses the rewritten question.
            searched_for = pipeline.standalone(question, history)
            if searched_for != question.strip():
                click.secho(f"(searched for: {searched_for})", dim=True)
            _stream_answer(pipeline, question, history, when)
        except UserError as error:
            click.secho(f"Error: {error}", fg="red", err=True)
            continue
        history.append(question)


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@_corpus_options
def status(as_json: bool, corpus: Path | None, index: Path | None) -> None:
    """Files, articles and chunks in the index, its health, and when it was last updated."""
    from rag.index import Index, Verdict

    state = Index(_settings(corpus, index)).status()
    health = state.health
    if health.verdict == Verdict.UNREACHABLE:
        # Nothing is known of the store: the one line `rag ask` gives too, not counts that
        # only the manifest vouches for.
        raise UserError(health.problem)
    if as_json:
        click.echo(json.dumps(state.record(), indent=2, ensure_ascii=False))
        return
    click.echo(f"corpus:       {state.corpus_dir}")
    click.echo(f"index:        {state.index_dir} (collection {state.collection})")
    click.echo(f"fingerprint:  {state.fingerprint}")
    click.echo(f"embedding:    {state.embed}")
    click.echo(f"files:        {state.files}")
    click.echo(f"articles:     {state.articles}")
    click.echo(f"chunks:       {state.chunks}")
    click.echo(f"health:       {health}")
    stored = "cannot be read" if health.store_chunks is None else f"{health.store_chunks} chunks"
    keywords = "missing" if health.keyword_chunks is None else f"{health.keyword_chunks} chunks"
    click.echo(f"store:        {stored}; keyword index: {keywords}")
    click.echo(f"last indexed: {state.last_indexed or 'never (run `rag ingest`)'}")
    for name, reason in state.skipped.items():
        click.echo(f"skipped:      {name}: {reason}")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; another than loopback exposes the API to the network.")
@click.option("--port", default=8765, show_default=True, type=click.IntRange(1, 65535),
              help="Port to listen on.")
@_corpus_options
def serve(host: str, port: int, corpus: Path | None, index: Path | None) -> None:
    """Serve the HTTP API (OpenAPI page at /docs); one warm index for every request."""
    import uvicorn

    from rag.accounts import Accounts
    from rag.api import OPEN_NOTICE, create_app

    settings = _settings(corpus, index)
    if not Accounts(settings.data_path).exists():
        click.secho(OPEN_NOTICE, fg="yellow", err=True)
    uvicorn.run(create_app(settings), host=host, port=port, log_level="info")


def _stream_answer(pipeline: Pipeline, question: str, history: list[str], when: _When) -> None:
    """Print the answer as it is produced, then the checked text if the checks changed it,
    its sources and notes."""
    from rag.pipeline import EXTRACTIVE

    # An empty or overlong question and a damaged index are refused here, in one line, before
    # the answer's label is printed.
    stream = pipeline.stream(question, history, when.dates, when.as_of)
    mode = pipeline.mode()
    label = mode if mode == EXTRACTIVE else f"{mode} {pipeline.generator.model}"
    if when.as_of:
        label += f", as of {when.as_of.isoformat()}"
    click.secho(f"[{label}] ", fg="cyan", nl=False)
    streamed = []
    for piece in stream:
        streamed.append(piece)
        click.echo(piece, nl=False)
    click.echo()
    answer = stream.answer
    if answer.fallback_reason:
        # The model's text must not stay beside the answer that replaces it: on a terminal
        # it is wiped; written to a file or pipe, the replacement follows under its label.
        if sys.stdout.isatty():
            click.echo(_erase(f"[{label}] {''.join(streamed)}"), nl=False)
        click.secho(f"[{answer.mode}, instead of {answer.model}'s answer] ", fg="cyan", nl=False)
        click.echo(answer.answer)
    elif "".join(streamed).strip() != answer.answer:
        click.secho("checked: ", fg="cyan", nl=False)
        click.echo(answer.answer)
    for citation in answer.citations:
        also = f" (also in {', '.join(citation.also_in)})" if citation.also_in else ""
        click.echo(
            f"  [{citation.n}] {citation.file}{also} - {citation.title}"
            f" ({citation.date_label}), chars {citation.start}-{citation.end}"
        )
    if not answer.abstained:
        click.secho(_CONFIDENCE_LINES[answer.confidence], fg="yellow", dim=True)
    if answer.abstained and answer.closest:
        click.echo("Closest passages:")
        for hit in answer.closest[:3]:
            # One line each: the passage's start, its line breaks as spaces.
            text = " ".join(hit.chunk.text.split())
            opening = f"{text[:160]} ..." if len(text) > 160 else text
            click.echo(f"  - {hit.chunk.file} - {hit.chunk.title}: \"{opening}\"")
    if answer.notice:
        click.secho(answer.notice, dim=True)


def _erase(printed: str) -> str:
    """The terminal codes that move the cursor back to where `printed` (followed by a line
    break) began, and clear from there down."""
    width = max(shutil.get_terminal_size().columns, 1)
    rows = sum(max(1, -(-len(line) // width)) for line in printed.split("\n"))
    return f"\x1b[{rows}F\x1b[J"


# What `rag ask` says of an answer's confidence, after its sources.
_CONFIDENCE_LINES = {
    Confidence.HIGH: "High confidence.",
    Confidence.LOW: "Low confidence: check the quote.",
    Confidence.NONE: "",
}


@main.group()
def feedback() -> None:
    """Readers' verdicts on answers in the app."""


@feedback.command(name="export")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              help="Write to this file instead of printing.")  # fmt: skip
@_corpus_options
def export_feedback(out: Path | None, corpus: Path | None, index: Path | None) -> None:
    """Print the verdicts given in the app as candidate gold items (one JSON line each, the
    gold format), for a person to review into a gold file."""
    from rag.conversations import Conversations
    from rag.eval.feedback import candidate_items

    kept = Conversations(_settings(corpus, index).data_path)
    items = candidate_items(kept.feedback())
    lines = [item.model_dump_json(exclude_defaults=True) for item in items]
    text = "".join(f"{line}\n" for line in lines)
    if out is None:
        click.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8")
        click.echo(f"{len(lines)} candidate gold items written to {out}.", err=True)


@main.group()
def users() -> None:
    """Accounts of the app and the API; with none, both are open to whoever reaches them."""


def _accounts(corpus: Path | None, index: Path | None) -> Accounts:
    settings = _settings(corpus, index)
    return Accounts(settings.data_path, settings.session_hours)


_ROLES = click.Choice([role.value for role in Role])


@users.command(name="add")
@click.argument("name")
@click.option("--role", type=_ROLES, required=True,
              help="reader: asks; editor: also uploads and re-indexes; admin: also removes "
                   "files through the API and manages accounts.")  # fmt: skip
@click.option("--password-stdin", is_flag=True,
              help="Read the password from the first line of standard input instead of "
                   "asking for it.")  # fmt: skip
@_corpus_options
def add_user(
    name: str, role: str, password_stdin: bool, corpus: Path | None, index: Path | None
) -> None:
    """Add the account NAME. The first must be an admin; the password is asked twice."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        try:
            password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
        except click.Abort:  # standard input ended: no terminal, nothing piped in
            raise UserError(
                "No password was given: type it when asked, or pipe it in with "
                "--password-stdin."
            ) from None
    user = _accounts(corpus, index).add(name, password, Role(role))
    click.echo(f"Added {user.name}, {user.role}.")


@users.command(name="list")
@_corpus_options
def list_users(corpus: Path | None, index: Path | None) -> None:
    """List the accounts, their roles and when each was made."""
    found = _accounts(corpus, index).users()
    if not found:
        click.echo(
            "No accounts: the app and the API are open to whoever can reach them. "
            "Add one with `rag users add NAME --role admin`."
        )
    width = max((len(user.name) for user in found), default=0)
    for user in found:
        click.echo(f"{user.name:<{width}}  {user.role:<6}  {user.created:%Y-%m-%d %H:%M} UTC")


@users.command(name="remove")
@click.argument("name")
@_corpus_options
def remove_user(name: str, corpus: Path | None, index: Path | None) -> None:
    """Remove the account NAME. Its sessions and tokens end; its conversations stay."""
    _accounts(corpus, index).remove(name)
    click.echo(f"Removed {name}.")


@users.command(name="role")
@click.argument("name")
@click.argument("role", type=_ROLES)
@_corpus_options
def set_role(name: str, role: str, corpus: Path | None, index: Path | None) -> None:
    """Give the account NAME the role ROLE. Its sessions and tokens carry it at once."""
    _accounts(corpus, index).set_role(name, Role(role))
    click.echo(f"{name} is now {role}.")


@users.command(name="token")
@click.argument("name")
@_corpus_options
def new_token(name: str, corpus: Path | None, index: Path | None) -> None:
    """Print a new API token for NAME. It is the last line, shown this once, and works
    until `rag users revoke NAME`."""
    token = _accounts(corpus, index).new_token(name)
    click.echo(f"A new API token for {name}; it is not kept, so copy it now:", err=True)
    click.echo(token)


@users.command(name="revoke")
@click.argument("name")
@_corpus_options
def revoke(name: str, corpus: Path | None, index: Path | None) -> None:
    """End every API token and session of NAME. The password still works."""
    _accounts(corpus, index).revoke(name)
    click.echo(f"Every API token and session of {name} is ended.")


@main.command(name="eval")
@click.argument(
    "gold", required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option("--set", "set_name", type=click.Choice(list(SETS)),
              help="Instead of GOLD, a named benchmark set: its gold file, corpus and split "
                   "file; its index is built under the cache folder when missing or stale "
                   "(RGB, BBC: read from RAG_BENCH_DIR, default ../shared/bench).")  # fmt: skip
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write one JSON record per item to this file.")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print the summary figures as JSON.")
@click.option(
    "--baseline", is_flag=True,
    help="Also run LlamaIndex's default pipeline and report both side by side.",
)  # fmt: skip
@click.option("--compare", "compare_to", type=click.Path(dir_okay=False, path_type=Path),
              help="summary.json of an earlier run: print what changed.")  # fmt: skip
@click.option("--results-dir", type=click.Path(file_okay=False, path_type=Path),
              help="Where the run's report folder is written (RAG_RESULTS_DIR); "
                   "default: eval/results")  # fmt: skip
@click.option("--judge", "judge_model", metavar="MODEL",
              help="Also score faithfulness and correctness with this Ollama model.")  # fmt: skip
@click.option("--limit", type=click.IntRange(min=1), help="Run only the first N items.")
@click.option("--ids", help="Run only these item ids (comma-separated).")
@click.option("--kind", help="Run only items of this kind.")
@click.option("--split", "part", type=click.Choice(["dev", "test"]),
              help="Run only the ids of this part of the split file.")  # fmt: skip
@click.option("--split-file", type=click.Path(dir_okay=False, path_type=Path),
              help="The split, JSON with about, seed, dev and test; default: split.json "
                   "beside GOLD, or the set's.")  # fmt: skip
@click.option("--rewordings/--no-rewordings", default=True, show_default=True,
              help="Also ask the questions of rewordings.jsonl beside the gold file (the same "
                   "questions worded as people type them), reported apart.")  # fmt: skip
@_corpus_options
def eval_(
    gold: Path | None,
    set_name: str | None,
    out: Path | None,
    as_json: bool,
    baseline: bool,
    compare_to: Path | None,
    results_dir: Path | None,
    limit: int | None,
    ids: str | None,
    kind: str | None,
    part: Literal["dev", "test"] | None,  # click.Choice gives only these
    split_file: Path | None,
    rewordings: bool,
    judge_model: str | None,
    corpus: Path | None,
    index: Path | None,
) -> None:
    """Score retrieval, answers, citations and abstentions against GOLD (JSON lines) or a
    named benchmark set (--set)."""
    from tqdm import tqdm

    from rag.eval.gold import SPLIT_FILE, load_questions, load_split, select, select_rewordings
    from rag.eval.run import run as run_eval
    from rag.eval.sets import prepare
    from rag.ingest import discover
    from rag.pipeline import Pipeline

    _check_eval_options(gold, set_name, corpus, index, split_file, part)
    settings = _settings(corpus, index)
    prepared = prepare(set_name, settings) if set_name else None
    if prepared:
        gold, settings = prepared.gold, prepared.settings
    assert gold is not None  # given, or the set's
    items, reworded = load_questions(gold, [name for name, _ in discover(settings.corpus_dir)])
    default_split = prepared.split_file if prepared else gold.parent / SPLIT_FILE
    split = load_split(split_file or default_split, part, [*items, *reworded]) if part else None
    wanted = [i.strip() for i in ids.split(",") if i.strip()] if ids else []
    items = select(items, wanted, kind, limit, split)
    reworded = select_rewordings(reworded, items, wanted, kind, split) if rewordings else []
    # A set's index is brought up to date first (its gold file was checked above, before
    # the minutes an ingest of a new set takes).
    if prepared:
        with _stage_bars(prepared.name) as ingest_progress:
            pipeline = prepared.pipeline(ingest_progress)
    else:
        pipeline = Pipeline(settings)
    pipeline.index.check()  # never score answers from a damaged index
    with tqdm(unit="question", desc="Evaluating", file=sys.stderr) as bar:

        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.n)

        folder = run_eval(
            gold, pipeline, progress, results_dir, baseline, items, judge_model, split,
            prepared.meta() if prepared else None, reworded,
        )  # fmt: skip
    _show_run(folder, out, as_json, compare_to)


def _check_eval_options(
    gold: Path | None,
    set_name: str | None,
    corpus: Path | None,
    index: Path | None,
    split_file: Path | None,
    part: str | None,
) -> None:
    """Refuse option combinations `rag eval` cannot honour, naming the fix."""
    if (gold is None) == (set_name is None):
        raise click.UsageError("Give either a gold file (GOLD) or a benchmark set (--set NAME).")
    if set_name and (corpus or index):
        raise click.UsageError("--set chooses the corpus and the index; drop --corpus and --index.")
    if split_file and not part:
        raise click.UsageError("--split-file needs --split dev or --split test.")


def _show_run(folder: Path, out: Path | None, as_json: bool, compare_to: Path | None) -> None:
    """What `rag eval` prints of a finished run (and copies with --out)."""
    from rag.eval.report import compare

    summary = json.loads((folder / "summary.json").read_text())
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text((folder / "items.jsonl").read_text())
    if as_json:
        click.echo(json.dumps(summary["summary"], indent=2))
        return
    _print_summary(summary)
    for record in map(json.loads, (folder / "items.jsonl").read_text().splitlines()):
        if not record["correct"]:
            click.echo(
                f"  wrong: {record['id']} {record['question']!r} -> {record['answer'][:100]!r}"
            )
    click.echo(f"report: {folder / 'report.md'}")
    if compare_to:
        for line in compare(compare_to, folder):
            click.echo(line)


@contextmanager
def _stage_bars(label: str = "") -> Iterator[Progress]:
    """An ingest progress callback drawing one bar per stage (files read, chunks embedded)
    on stderr, each closed when the next begins and all closed at the end."""
    from tqdm import tqdm

    from rag.ingest import Stage

    units = {Stage.READING: "file", Stage.EMBEDDING: "chunk"}
    bars: dict[Stage, tqdm[Any]] = {}

    def progress(stage: Stage, done: int, total: int) -> None:
        if stage not in bars:
            for bar in bars.values():
                bar.close()  # the stage before is done
            desc = f"{stage.value} {label}".strip()
            bars[stage] = tqdm(total=total, unit=units[stage], desc=desc, file=sys.stderr)
        bars[stage].update(done - bars[stage].n)

    try:
        yield progress
    finally:
        for bar in bars.values():
            bar.close()


def _print_summary(summary: dict[str, Any]) -> None:
    from rag.eval.report import set_line

    ours = summary["summary"]
    base = summary.get("baseline", {}).get("summary")
    split = summary.get("split")
    click.echo(
        f"items: {ours['items']} ({ours['answerable']} answerable, "
        f"{ours['unanswerable']} unanswerable); mode {summary['mode']}"
        + (f"; {split['part']} part of {split['file']}" if split else "")
    )
    if summary.get("set"):
        click.echo(set_line(summary["set"]))
    click.echo(f"{'':<24}{'newsdesk':>10}" + (f"{'baseline':>10}" if base else ""))
    for name, value in ours.items():
        if name in ("items", "answerable", "unanswerable"):
            continue
        click.echo(f"{name:<24}{_cell(value)}" + (_cell(base[name]) if base else ""))
    if reworded := summary.get("rewordings"):
        click.echo("rewordings (rewordings.jsonl beside the gold file):")
        for name, value in reworded.items():
            click.echo(f"  {name:<22}{_cell(value)}")


def _cell(value: float) -> str:
    """A figure in a column of the printed summary: shares to three places, counts whole."""
    return f"{value:>10.3f}" if isinstance(value, float) else f"{value:>10}"
