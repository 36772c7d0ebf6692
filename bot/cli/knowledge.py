"""Commands on the knowledge: index, search, ask, add."""

from __future__ import annotations

import json
from pathlib import Path

import click

from bot import i18n, render, texts
from bot.answers import answer_question, question_language
from bot.app import make_searcher, reference_embedder
from bot.cli.base import (
    actor,
    checklist_problems,
    cli,
    questions,
    settings_of,
    store_of,
)


@cli.command()
@click.option("--status", "show_status", is_flag=True, help="List the kept index versions.")
@click.option("--rollback", "do_rollback", is_flag=True,
              help="Switch back to the previous version.")
@click.pass_context
def index(ctx: click.Context, show_status: bool, do_rollback: bool) -> None:
    """Build or update the index from knowledge/docs.

    Re-embeds only new or changed passages, builds the new version beside the live one,
    checks it and switches atomically.

    Example: partnerbot index
    """
    settings = settings_of(ctx)
    if show_status:
        from index.build import status

        rows = status(settings.index_dir)
        if not rows:
            click.echo("No index yet.\n\nTry: partnerbot index")
        for row in rows:
            mark = "*" if row["live"] else " "
            language = (f" + {row['language_model']} (fr, es)" if row.get("language_model")
                        else "")
            details = (f"{row.get('built_at', '?')}  {row.get('passages', '?')} passages  "
                       f"{row.get('documents', '?')} documents  model {row.get('model', '?')}"
                       f"{language}  {row.get('dense', '')}  {row['state']}")
            click.echo(f"{mark} {row['version']}  {details}")
        return
    if do_rollback:
        from index.build import rollback

        old, new = rollback(settings.index_dir, settings.model)
        store_of(settings).audit(actor=actor(), action="rollback", detail={"from": old,
                                                                             "to": new})
        click.echo(f"Rolled back from {old} to {new}.")
        for problem in checklist_problems(settings):
            click.echo(f"Checklist problem: {problem}")
        return
    from bot.admin.ops import reindex

    result = reindex(settings, reference_embedder(settings), actor=actor(),
                     store=store_of(settings), progress=lambda m: click.echo(m, err=True))
    report = result.report
    state = "switched to" if report.switched else "unchanged, still serving"
    click.echo(f"Documents: {report.documents}\nChunks: {report.chunks}\n"
               f"Added: {report.added}\nUnchanged: {report.unchanged}\n"
               f"Removed: {report.removed}\nSeconds: {report.seconds:.1f}\n"
               f"Version: {report.version} ({state})")
    for problem in result.checklist_problems:
        click.echo(f"Checklist problem: {problem}")


@cli.command()
@click.argument("question", required=False)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per question.")
@click.option("--top-k", "top_k", type=click.IntRange(1, 50), default=5, show_default=True)
@click.pass_context
def search(ctx: click.Context, question: str | None, as_json: bool, top_k: int) -> None:
    """Show the passages that best match QUESTION (or each line of standard input).

    A question in French or Spanish is matched with the English passages across languages.

    Example: partnerbot search --top-k 3 "screening companies"
    """
    searcher = make_searcher(settings_of(ctx))
    searcher.load()
    for q in questions(question):
        result = searcher.search(q, top_k, language=question_language(q) or "en"
                                 ) if q.strip() else None
        hits = result.hits if result else []
        if as_json:
            click.echo(json.dumps({"query": q, "results": [
                {"id": h.chunk.id, "text": h.chunk.text, "source": h.chunk.source,
                 "title": h.chunk.title, "locator": h.chunk.locator, "score": round(h.score, 6)}
                for h in hits]}, ensure_ascii=False))
            continue
        if not q.strip():
            click.echo(render.to_plain(texts.EMPTY_QUESTION))
        click.echo(f"Query: {q}")
        for n, h in enumerate(hits, start=1):
            click.echo(f"{n}. {h.chunk.citation}  (score {h.score:.4f})")
            click.echo("   " + h.chunk.text.replace("\n", "\n   ")[:600])
        click.echo("")


@cli.command()
@click.argument("question", required=False)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per question.")
@click.pass_context
def ask(ctx: click.Context, question: str | None, as_json: bool) -> None:
    """Answer QUESTION (or each line of standard input) with quotes and citations.

    A question in French or Spanish is answered in its language around the English quotes.

    Example: partnerbot ask "Do implementing partners need PSEA training?"
    """
    settings = settings_of(ctx)
    searcher = make_searcher(settings)
    searcher.load()
    for q in questions(question):
        answer = answer_question(q, searcher, threshold=settings.threshold, top_k=settings.top_k)
        with i18n.speaking(answer.language if answer.language in i18n.LANGUAGES else "en"):
            plain = render.to_plain(render.answer_message(answer))
        if as_json:
            quotes = answer.quotes or answer.closest
            click.echo(json.dumps({
                "query": q, "answer": plain, "grounded": answer.grounded,
                "reason": answer.reason, "language": answer.language,
                "citations": [{"source": x.hit.chunk.source, "title": x.hit.chunk.title,
                               "locator": x.hit.chunk.locator,
                               "citation": render.citation(x.hit.chunk), "quote": x.text,
                               "text": x.hit.chunk.text} for x in quotes]},
                ensure_ascii=False))
        else:
            click.echo(plain + "\n")



@cli.command()
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--title", help="Document title (default: from the file).")
@click.option("--symbol", help="Document symbol, e.g. A/77/257.")
@click.option("--label", help="Short citation label, e.g. 'SG note on A/77/257'.")
@click.option("--date", "date_", help="Date as YYYY-MM-DD, YYYY-MM or YYYY.")
@click.option("--kind", help="Kind of document, e.g. report, guideline.")
@click.option("--organization", help="Issuing organization.")
@click.option("--replace", is_flag=True, help="Overwrite a document with the same name.")
@click.pass_context
def add(ctx: click.Context, file: Path, title: str | None, symbol: str | None,
        label: str | None, date_: str | None, kind: str | None, organization: str | None,
        replace: bool) -> None:
    """Convert a PDF, Word, HTML, Markdown or text file into knowledge/docs.

    Then run `partnerbot index` (or /reindex in Telegram) to make it searchable.

    Example: partnerbot add guidance.pdf --symbol A/80/123 --kind report
    """
    from ingest import add_document

    settings = settings_of(ctx)
    added = add_document(file, settings.docs_dir, title=title, symbol=symbol, label=label,
                         date=date_, kind=kind, organization=organization, replace=replace)
    verb = "Replaced" if added.replaced else "Added"
    click.echo(f"{verb} {added.path}\nTitle: {added.title}\nSections: {added.sections}\n"
               f"Paragraphs: {added.paragraphs} ({added.numbered_paragraphs} numbered)")
    for warning in added.warnings:
        click.echo(f"Warning: {warning}")
    click.echo("\nNext: partnerbot index")
    store_of(settings).audit(actor=actor(), action="add",
                              detail={"file": file.name, "document": added.source_id})


