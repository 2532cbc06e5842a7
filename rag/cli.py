"""The `rag` command: ingest, ask, chat, status, eval."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from rag.config import Settings
from rag.types import Answer, UserError


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


@main.command()
@click.argument("path", required=False, type=click.Path(path_type=Path))
@_corpus_options
def ingest(path: Path | None, corpus: Path | None, index: Path | None) -> None:
    """Index the articles in PATH (default: the corpus folder); only changes are embedded."""
    from tqdm import tqdm

    from rag.pipeline import Pipeline

    pipeline = Pipeline(_settings(path or corpus, index))
    bar: tqdm | None = None

    def progress(done: int, total: int) -> None:
        nonlocal bar
        if bar is None:
            bar = tqdm(total=total, unit="chunk", desc="Embedding", file=sys.stderr)
        bar.update(done - bar.n)

    report = pipeline.ingest(progress)
    if bar is not None:
        bar.close()
    click.echo(
        f"{len(report.added)} added, {len(report.updated)} updated, "
        f"{len(report.removed)} removed, {len(report.unchanged)} unchanged; "
        f"{report.chunks_embedded} chunks embedded."
    )
    for skipped in report.skipped:
        click.echo(f"skipped {skipped.name}: {skipped.reason}")


@main.command()
@click.argument("question")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@_corpus_options
def ask(question: str, as_json: bool, corpus: Path | None, index: Path | None) -> None:
    """Answer QUESTION from the indexed articles, with citations."""
    from rag.pipeline import Pipeline

    answer = Pipeline(_settings(corpus, index)).ask(question)
    if as_json:
        click.echo(json.dumps(answer.to_dict(), ensure_ascii=False, indent=2))
    else:
        _print_answer(answer)


@main.command()
@_corpus_options
def chat(corpus: Path | None, index: Path | None) -> None:
    """A conversation in the terminal; follow-up questions use the earlier ones."""
    from rag.pipeline import Pipeline

    pipeline = Pipeline(_settings(corpus, index))
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
            answer = pipeline.ask(question, history)
        except UserError as error:
            click.secho(f"Error: {error}", fg="red", err=True)
            continue
        if answer.searched_for != answer.question:
            click.secho(f"(searched for: {answer.searched_for})", dim=True)
        _print_answer(answer)
        history.append(question)


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@_corpus_options
def status(as_json: bool, corpus: Path | None, index: Path | None) -> None:
    """Files, articles and chunks in the index, and when it was last updated."""
    from rag.index import Index

    state = Index(_settings(corpus, index)).status()
    if as_json:
        click.echo(json.dumps(state.__dict__, indent=2, ensure_ascii=False))
        return
    click.echo(f"corpus:       {state.corpus_dir}")
    click.echo(f"index:        {state.index_dir} (collection {state.collection})")
    click.echo(f"fingerprint:  {state.fingerprint}")
    click.echo(f"files:        {state.files}")
    click.echo(f"articles:     {state.articles}")
    click.echo(f"chunks:       {state.chunks}")
    click.echo(f"last indexed: {state.last_indexed or 'never (run `rag ingest`)'}")
    for name, reason in state.skipped.items():
        click.echo(f"skipped:      {name}: {reason}")


def _print_answer(answer: Answer) -> None:
    click.secho(f"[{answer.mode}] ", fg="cyan", nl=False)
    click.echo(answer.answer)
    for citation in answer.citations:
        also = f" (also in {', '.join(citation.also_in)})" if citation.also_in else ""
        click.echo(
            f"  [{citation.n}] {citation.file}{also} - {citation.title}"
            f" ({citation.date or 'undated'}), chars {citation.start}-{citation.end}"
        )
    if answer.abstained and answer.hits:
        click.echo("Closest passages:")
        for hit in answer.hits[:3]:
            click.echo(f"  - {hit.chunk.file} - {hit.chunk.title}: {hit.chunk.text[:160]!r}")
    if answer.notice:
        click.secho(answer.notice, dim=True)


@main.command(name="eval")
@click.argument("gold", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--out", type=click.Path(dir_okay=False, path_type=Path), help="Write one JSON record per item."
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@_corpus_options
def eval_(
    gold: Path, out: Path | None, as_json: bool, corpus: Path | None, index: Path | None
) -> None:
    """Score answers and retrieval against the questions in GOLD (JSON lines)."""
    from tqdm import tqdm

    from rag.eval import evaluate, load_gold, record_json, summarize
    from rag.ingest import discover
    from rag.pipeline import Pipeline

    settings = _settings(corpus, index)
    items = load_gold(gold, [name for name, _ in discover(settings.corpus_dir)])
    pipeline = Pipeline(settings)
    with tqdm(total=len(items), unit="question", desc="Evaluating", file=sys.stderr) as bar:
        records = evaluate(items, pipeline.ask, lambda done, _: bar.update(done - bar.n))
    summary = summarize(records)
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(
            "".join(json.dumps(record_json(r), ensure_ascii=False) + "\n" for r in records)
        )
    if as_json:
        click.echo(json.dumps(summary.to_dict(), indent=2))
        return
    click.echo(
        f"items: {summary.items} ({summary.answerable} answerable, {summary.unanswerable} unanswerable)"
    )
    click.echo(f"source-file hit@1:    {summary.hit_at_1:.3f}")
    click.echo(f"source-file hit@5:    {summary.hit_at_5:.3f}")
    click.echo(f"MRR:                  {summary.mrr:.3f}")
    click.echo(f"answer accuracy:      {summary.answer_accuracy:.3f}")
    click.echo(f"abstention accuracy:  {summary.abstention_accuracy:.3f}")
    click.echo(f"false abstentions:    {summary.false_abstentions}")
    for record in records:
        if not record.correct:
            click.echo(
                f"  wrong: {record.item.id} {record.item.question!r} -> {record.answer.answer[:100]!r}"
            )
