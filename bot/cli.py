"""`supportbot`: the command line for content editors and operators.

A thin layer over the library: it calls the same loader, matcher and decision
code as the bot, and turns their exceptions into one-line messages.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from collections.abc import Callable, Sequence
from datetime import date, datetime, time, timezone
from pathlib import Path

from rapidfuzz import process

from bot.console.agents import add_agent, list_agents, remove_agent
from bot.editor.confusable import collision_problems
from bot.editor.scaffold import ScaffoldError, add_entry
from bot.editor.suggest import render_table, suggest
from bot.editor.tracker_events import conversations
from bot.evaluation import EvalFileError, Report, evaluate, load_cases
from bot.knowledge.intents import load_intent_examples
from bot.knowledge.loader import KnowledgeBaseError, Problem, load_knowledge_base, validate_knowledge_base
from bot.knowledge.response_translations import missing_response_translations
from bot.knowledge.schema import DEFAULT_LANGUAGE, LANGUAGES, KnowledgeBase
from bot.language.detection import LanguageDetector
from bot.matching.calibration import calibrate
from bot.matching.decision import decide
from bot.matching.live import matcher_with_intents
from bot.matching.matcher import Matcher
from bot.pipeline_config import ConfigError, PipelineConfig, read_pipeline_config
from bot.reports.figures import build_report
from bot.reports.html import render_html
from bot.reports.period import period_for
from bot.reports.text import render_text
from bot.security.personal_data import Subject, both_databases, delete, export
from bot.security.redaction import product_redactor
from bot.security.retention import purge_once
from bot.settings import load_settings
from bot.storage.database import StorageError, create_engine
from bot.storage.tracker_store import configured_tracker_url, open_tracker, tracker_url
from bot.tickets.sla import load_calendar
from bot.tickets.store import STATUSES, Ticket, get_ticket, list_tickets, normalise_ticket_id, set_status

EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE = 0, 1, 2


def _faq_path(args: argparse.Namespace, config: PipelineConfig | None) -> Path:
    if args.faq:
        return Path(args.faq)
    return config.faq_path if config else Path("faq")


def cmd_faq_lint(args: argparse.Namespace) -> int:
    """Check faq/ with the bot's own loader and matcher: errors (exit 1) stop the bot from loading the change;
    warnings (few questions, a missing translation, two entries' questions the matcher confuses) are advice."""
    path = Path(args.faq or "faq")
    validation = validate_knowledge_base(path)
    problems = list(validation.problems)
    if validation.knowledge.entries:
        problems += collision_problems(_lint_matcher(args.config, validation.knowledge))
    if Path(args.domain).exists():
        problems += missing_response_translations(args.domain)
    errors = sorted((p for p in problems if p.severity == "error"), key=_position)
    warnings = sorted((p for p in problems if p.severity != "error"), key=_position)
    entries = None if errors else len(validation.knowledge.entries)
    if args.json:
        print(
            json.dumps(
                {
                    "ok": not errors,
                    "entries": entries,
                    "errors": len(errors),
                    "warnings": len(warnings),
                    "problems": [
                        {
                            "file": p.location.file,
                            "line": p.location.line,
                            "severity": p.severity,
                            "rule": p.rule,
                            "message": p.message,
                        }
                        for p in errors + warnings
                    ],
                },
                indent=2,
                ensure_ascii=False,
            )
        )
    else:
        for problem in errors + warnings:
            print(problem)
        if errors:
            print(f"{path}: {len(errors)} error(s), {len(warnings)} warning(s); the bot keeps the last good version")
        else:
            print(f"{path}: {entries} entries OK, {len(warnings)} warning(s)")
    return EXIT_PROBLEMS if errors else EXIT_OK


def _lint_matcher(config_path: str, knowledge: KnowledgeBase) -> Matcher:
    """The bot's matcher over `knowledge`: config.yml's settings and intents (defaults without a config.yml)."""
    if not Path(config_path).exists():
        return Matcher(knowledge, {})
    config = read_pipeline_config(config_path)
    return matcher_with_intents(knowledge, config.nlu_path, config.matcher)


def _position(problem: Problem) -> tuple[str, int]:
    return problem.location.file, problem.location.line


def cmd_faq_eval(args: argparse.Namespace) -> int:
    """Accuracy of the knowledge base on a YAML file of {text, lang, expect} cases."""
    config = read_pipeline_config(args.config)
    knowledge = load_knowledge_base(_faq_path(args, config)).knowledge
    intents = load_intent_examples(config.nlu_path)
    matcher = matcher_with_intents(knowledge, config.nlu_path, config.matcher, intents)
    detector = None if args.given_language else LanguageDetector.for_knowledge(knowledge, intents, config.detector)
    report = evaluate(matcher, load_cases(args.file), config.fallback, detector)
    accuracy = report.accuracy_by_language()["all"]["accuracy"] if report.results else 0.0
    if args.json:
        print(json.dumps(report.as_dict(), indent=2, ensure_ascii=False))
    else:
        _print_report(report)
    if args.min_accuracy is not None and accuracy < args.min_accuracy:
        print(f"supportbot: accuracy {accuracy:.1%} is below --min-accuracy {args.min_accuracy:.1%}", file=sys.stderr)
        return EXIT_PROBLEMS
    return EXIT_OK


def _print_report(report: Report) -> None:
    columns = (
        "cases",
        "accuracy",
        "in_scope_accuracy",
        "suggested",
        "top1",
        "among_candidates",
        "out_of_scope_answered",
        "language_detected",
    )
    titles = ("cases", "answered", "in scope", "suggested", "top-1", "in buttons", "oos answered", "language")
    print(f"{'language':<10}" + "".join(f"{t:>14}" for t in titles))
    for lang, row in report.accuracy_by_language().items():
        cells = [
            f"{row[c]:>14}" if c == "cases" else f"{'-' if row[c] is None else f'{row[c]:.1%}':>14}" for c in columns
        ]
        print(f"{lang:<10}" + "".join(cells))
    if report.confusions():
        print("\nconfusions (expected -> got: count)")
        for expected, got, count in report.confusions():
            print(f"  {expected} -> {got}: {count}")


def cmd_faq_match(args: argparse.Namespace) -> int:
    """Show how one message is matched: scores, nearest phrasings, typo repairs, decision."""
    config = read_pipeline_config(args.config)
    knowledge = load_knowledge_base(_faq_path(args, config)).knowledge
    intents = load_intent_examples(config.nlu_path)
    matcher = matcher_with_intents(knowledge, config.nlu_path, config.matcher, intents)
    language = (
        args.lang or LanguageDetector.for_knowledge(knowledge, intents, config.detector).detect(args.text).language
    )
    result = matcher.match(args.text, language)
    decision = decide(result, config.fallback)
    print(
        json.dumps(
            {
                "decision": decision.kind,
                "label": decision.label,
                "why": decision.why,
                "faq": result.faq_object(),
                **result.evidence(),
            },
            indent=2,
            ensure_ascii=False,
        )
    )
    return EXIT_OK


def cmd_faq_calibrate(args: argparse.Namespace) -> int:
    """Fit the score calibration on phrasings held out of the index; prints the values for config.yml."""
    config = read_pipeline_config(args.config)
    knowledge = load_knowledge_base(_faq_path(args, config)).knowledge
    fitted = calibrate(knowledge, load_intent_examples(config.nlu_path), config.matcher, folds=args.folds)
    print(
        f"fitted on {fitted.samples} held-out phrasings (top-1 right for {fitted.top1_accuracy:.1%} of the "
        f"in-scope ones; mean log-likelihood {fitted.log_likelihood})"
    )
    print("set in config.yml, under bot.nlu.faq_classifier.FuzzyFaqClassifier:")
    print(f"    calibration_temperature: {fitted.temperature}")
    print(f"    calibration_none_similarity: {fitted.none_similarity}")
    return EXIT_OK


def cmd_faq_suggest(args: argparse.Namespace) -> int:
    """The unanswered inbox: what customers asked that the bot did not answer, that they marked not helpful,
    or that ended with a person; similar questions grouped, biggest first, each with the nearest FAQ entry."""
    engine = open_tracker(_tracker_url(args))
    config = read_pipeline_config(args.config)
    knowledge = load_knowledge_base(_faq_path(args, config)).knowledge
    matcher = matcher_with_intents(knowledge, config.nlu_path, config.matcher)
    since = datetime.combine(args.since, time.min, timezone.utc).timestamp() if args.since else None
    clusters = suggest(conversations(engine, since), matcher, since, redact=product_redactor())
    if args.json:
        report = {
            "since": args.since.isoformat() if args.since else None,
            "messages": sum(c.count for c in clusters),
            "clusters": [c.as_dict() for c in clusters[: args.limit]],
        }
        print(json.dumps(report, indent=2, ensure_ascii=False))
    else:
        print(render_table(clusters[: args.limit]))
        if len(clusters) > args.limit:
            print(f"... and {len(clusters) - args.limit} smaller cluster(s); --limit shows more")
    return EXIT_OK


def cmd_faq_new(args: argparse.Namespace) -> int:
    """Add an entry in all five languages to fill in. Its texts say TODO, which lint reports as errors
    (and the bot refuses to load) until they are written or deleted."""
    try:
        added = add_entry(_faq_path(args, None), args.id, args.file)
    except ScaffoldError as error:
        print(f"supportbot: {error}", file=sys.stderr)
        return EXIT_PROBLEMS
    print(
        f"{added.file}:{added.line}: {args.id} added in {', '.join(LANGUAGES)}"
        + (" (a new file)" if added.created_file else "")
        + "; replace every TODO (or delete a language's lines), then run supportbot faq lint"
    )
    return EXIT_OK


def cmd_faq_show(args: argparse.Namespace) -> int:
    """One entry as the bot answers it: title, the answer with shop facts filled in, handoff, tags, questions."""
    validation = validate_knowledge_base(_faq_path(args, None))
    knowledge = validation.knowledge
    entry = knowledge.entries.get(args.id)
    if entry is None:
        hint = process.extractOne(args.id, list(knowledge.entries), score_cutoff=60)
        print(
            f"supportbot: no FAQ entry {args.id!r}" + (f" (did you mean {hint[0]!r}?)" if hint else ""), file=sys.stderr
        )
        return EXIT_PROBLEMS
    language = args.lang
    try:
        answer = knowledge.answer(entry.id, language)
    except KeyError:  # a fact the answer names is missing: lint says which
        answer = entry.answer.get(language) or entry.answer[DEFAULT_LANGUAGE]
    handoff = "yes: a person is offered with the answer" if entry.handoff else 'no: "was this helpful?" follows'
    print(f"{entry.id}  ({entry.location})")
    for label, value in (
        ("title", entry.title_in(language)),
        ("tags", ", ".join(entry.tags) or "-"),
        ("handoff", handoff),
        ("updated", entry.updated or "-"),
        ("questions", ", ".join(f"{lang} {len(entry.questions.get(lang, ()))}" for lang in LANGUAGES)),
    ):
        print(f"{label + ':':<11}{value}")
    fallback = "" if language in entry.answer else f"; none in {language}, so customers get the English one"
    print(f"answer ({language}{fallback}):")
    print("\n".join(f"  {line}" if line else "" for line in answer.splitlines()))
    if validation.errors:
        print(
            f"note: {len(validation.errors)} error(s) in {_faq_path(args, None)}: the bot keeps its last good version "
            "until they are fixed (supportbot faq lint)",
            file=sys.stderr,
        )
    return EXIT_OK


def _since_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date YYYY-MM-DD") from None


def _engine(args: argparse.Namespace):
    return create_engine(args.database or load_settings().database_url)


def cmd_tickets_list(args: argparse.Namespace) -> int:
    """The latest tickets, newest first: id, status, reply-by time, category, customer."""
    found = list_tickets(_engine(args), args.status, args.limit)
    if args.json:
        print(json.dumps([_ticket_json(t, with_transcript=False) for t in found], indent=2, ensure_ascii=False))
        return EXIT_OK
    for t in found:
        print(f"{t.id}  {t.status:<22}{t.reply_by:%Y-%m-%d %H:%M %Z}  {t.category:<11}{_printable(t.name)} <{t.email}>")
    if not found:
        print("no tickets" + (f" with status {args.status}" if args.status else ""))
    return EXIT_OK


def cmd_tickets_show(args: argparse.Namespace) -> int:
    """One ticket in full: fields, status history and the conversation up to it."""
    ticket = get_ticket(_engine(args), normalise_ticket_id(args.id))
    if ticket is None:
        print(f"supportbot: no ticket {normalise_ticket_id(args.id)}", file=sys.stderr)
        return EXIT_PROBLEMS
    if args.json:
        print(json.dumps(_ticket_json(ticket, with_transcript=True), indent=2, ensure_ascii=False))
        return EXIT_OK
    print(f"{ticket.id}: {ticket.status}, reply by {ticket.reply_by.isoformat()}")
    for label, value in (
        ("name", ticket.name),
        ("e-mail", ticket.email),
        ("phone", ticket.phone),
        ("order", ticket.order_number),
        ("category", ticket.category),
        ("language", ticket.language),
        ("conversation", ticket.conversation_id),
        ("created", ticket.created_at.isoformat()),
    ):
        print(f"  {label:<13}{_printable(value or '-')}")
    print(f"  what happened:\n    {_printable(ticket.description)}")
    print("  history:")
    for event in ticket.history:
        note = f": {_printable(event['note'])}" if event["note"] else ""
        print(f"    {event['at']:%Y-%m-%d %H:%M} {event['status']} by {event['actor']}{note}")
    print("  conversation:")
    for line in ticket.transcript:
        print(f"    [{line['who']}] {_printable(line['text'])}")
    return EXIT_OK


def cmd_tickets_set_status(args: argparse.Namespace) -> int:
    """Change a ticket's status (recorded in its history with who did it)."""
    ticket_id = normalise_ticket_id(args.id)
    try:
        changed = set_status(_engine(args), ticket_id, args.status, args.by, args.note, datetime.now(timezone.utc))
    except ValueError as error:
        print(f"supportbot: {error}", file=sys.stderr)
        return EXIT_USAGE
    if not changed:
        print(f"supportbot: no ticket {ticket_id}", file=sys.stderr)
        return EXIT_PROBLEMS
    print(f"{ticket_id}: {args.status}")
    return EXIT_OK


def cmd_agents_add(args: argparse.Namespace) -> int:
    """Create a console log-in. The password is read from the terminal (or one line of stdin), never argv."""
    try:
        password = _read_password()
        now = datetime.now(timezone.utc)
        agent = add_agent(_engine(args), args.username, args.name or args.username, password, now)
    except ValueError as error:
        print(f"supportbot: {error}", file=sys.stderr)
        return EXIT_USAGE
    print(f"agent {agent.username} ({agent.display_name}) can now log in at /console/")
    return EXIT_OK


def cmd_agents_list(args: argparse.Namespace) -> int:
    """Every agent: username and the name customers see."""
    found = list_agents(_engine(args))
    for agent in found:
        print(f"{agent.username:<24}{_printable(agent.display_name)}")
    if not found:
        print("no agents yet: supportbot agents add USERNAME --name 'Siti'")
    return EXIT_OK


def cmd_agents_remove(args: argparse.Namespace) -> int:
    """Delete an agent; their open console sessions end at once."""
    if not remove_agent(_engine(args), args.username):
        print(f"supportbot: no agent {args.username}", file=sys.stderr)
        return EXIT_PROBLEMS
    print(f"agent {args.username} removed")
    return EXIT_OK


def cmd_report(args: argparse.Namespace) -> int:
    """Figures for a support lead, per day and language: conversations, containment, handoffs and why, tickets,
    time to the first agent reply, CSAT, "was this helpful?" per FAQ entry, top questions."""
    try:
        zone = load_calendar(load_settings().support_config).timezone  # days are the support team's
        period = period_for(zone, args.since, args.until)
    except (OSError, ValueError) as error:
        print(f"supportbot: {error}", file=sys.stderr)
        return EXIT_USAGE
    report = build_report(
        _engine(args),
        open_tracker(_tracker_url(args)),
        period,
    )
    if args.html:
        Path(args.html).write_text(render_html(report), encoding="utf-8")
    if args.json:
        print(json.dumps(report.as_dict(), indent=2, ensure_ascii=False))
    elif args.html:
        print(f"report for {period.since} to {period.until} written to {args.html}")
    else:
        print(render_text(report), end="")
    return EXIT_OK


def _data_subject(args: argparse.Namespace) -> Subject:
    return Subject(email=args.email, conversation_id=args.conversation)


def cmd_data_export(args: argparse.Namespace) -> int:
    """Everything stored about a customer (by e-mail address) or one conversation, as JSON: conversations,
    tickets and their history, handoffs, ratings, feedback, e-mails. The request is recorded, naming no one."""
    with both_databases(_engine(args), _tracker_url(args)) as connection:
        exported = export(connection, _data_subject(args), args.by, datetime.now(timezone.utc))
    text = json.dumps(exported, indent=2, ensure_ascii=False)
    if args.out:
        Path(args.out).write_text(text + "\n", encoding="utf-8")
        print(
            f"{len(exported['conversations'])} conversation(s) and {len(exported['tickets'])} ticket(s) in {args.out}"
        )
    else:
        print(text)
    return EXIT_OK


def cmd_data_delete(args: argparse.Namespace) -> int:
    """Delete everything stored about a customer (by e-mail address) or one conversation, in one transaction.
    The request is recorded with a hash of the subject, not the subject."""
    if not args.yes:
        print("supportbot: this deletes for good; run `supportbot data export` first if needed, then add --yes")
        return EXIT_USAGE
    with both_databases(_engine(args), _tracker_url(args)) as connection:
        counts = delete(connection, _data_subject(args), args.by, datetime.now(timezone.utc))
    print("deleted: " + ", ".join(f"{name} {count}" for name, count in counts.items()))
    return EXIT_OK


def cmd_data_purge(args: argparse.Namespace) -> int:
    """Delete conversations idle for more than N days, with what belongs to them (not those with an open
    ticket or handoff). The Rasa server does this hourly when SUPPORTBOT_RETENTION_DAYS is set."""
    if not args.yes:
        print("supportbot: this deletes for good; add --yes")
        return EXIT_USAGE
    counts = purge_once(_engine(args), _tracker_url(args), args.older_than_days)
    print("deleted: " + ", ".join(f"{name} {count}" for name, count in counts.items()))
    return EXIT_OK


def _read_password() -> str:
    if sys.stdin.isatty():
        first = getpass.getpass("Password (10 characters or more): ")
        if getpass.getpass("Again: ") != first:
            raise ValueError("the two passwords differ")
        return first
    return sys.stdin.readline().rstrip("\n")


def _printable(text: object) -> str:
    """Customer text for a terminal: control characters (escape sequences) shown, not obeyed."""
    return "".join(ch if ch.isprintable() or ch == "\n" else repr(ch)[1:-1] for ch in str(text))


def _ticket_json(ticket: Ticket, with_transcript: bool) -> dict:
    data = {k: v.isoformat() if isinstance(v, datetime) else v for k, v in vars(ticket).items()}
    data["history"] = [{**e, "at": e["at"].isoformat()} for e in ticket.history]
    if not with_transcript:
        del data["transcript"]
    return data


def _database_command(
    commands: argparse._SubParsersAction, name: str, handler: Callable[[argparse.Namespace], int], help_text: str
) -> argparse.ArgumentParser:
    """A subcommand that works on the product database (`--database`, else the configured one)."""
    sub = commands.add_parser(name, help=help_text, description=handler.__doc__)
    sub.add_argument("--database", help="SQLAlchemy URL (default: SUPPORTBOT_DATABASE_URL, else var/supportbot.db)")
    sub.set_defaults(handler=handler)
    return sub


TRACKER_DB_HELP = "Rasa's tracker store: SQLite file or SQLAlchemy URL (default: SUPPORTBOT_TRACKER_DB)"


def _tracker_url(args: argparse.Namespace) -> str:
    return tracker_url(args.tracker_db) if args.tracker_db else configured_tracker_url()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="supportbot", description="Support bot tools for editors and operators.")
    commands = parser.add_subparsers(dest="command", required=True)
    faq = commands.add_parser("faq", help="work with the FAQ knowledge base", description="Work with faq/.")
    faq_commands = faq.add_subparsers(dest="faq_command", required=True)

    def add(name: str, handler: Callable[[argparse.Namespace], int], help_text: str) -> argparse.ArgumentParser:
        sub = faq_commands.add_parser(name, help=help_text, description=handler.__doc__)
        sub.add_argument("--faq", help="knowledge base folder (default: from config.yml, else faq/)")
        sub.set_defaults(handler=handler)
        return sub

    lint = add("lint", cmd_faq_lint, "check faq/ for errors and warnings (exit 1 on errors)")
    lint.add_argument("--json", action="store_true", help="machine-readable output")
    lint.add_argument("--domain", default="domain.yml", help="Rasa domain whose responses are checked for translations")
    lint.add_argument(
        "--config", default="config.yml", help="Rasa config of the matcher that finds confusable questions"
    )
    evaluation = add("eval", cmd_faq_eval, "accuracy per language on a file of test cases")
    evaluation.add_argument("file", help="YAML file of {text, lang, expect} cases")
    evaluation.add_argument("--json", action="store_true", help="machine-readable output")
    evaluation.add_argument("--config", default="config.yml", help="Rasa config with the thresholds")
    evaluation.add_argument(
        "--given-language", action="store_true", help="match in each case's lang instead of detecting it"
    )
    evaluation.add_argument(
        "--min-accuracy", type=float, help="exit 1 when the overall share answered right is below this (0-1)"
    )
    match = add("match", cmd_faq_match, "explain how one message is matched")
    match.add_argument("text", help="the customer's message")
    match.add_argument("--lang", help="language code (en, ms, id, tl, vi); detected when not given")
    match.add_argument("--config", default="config.yml", help="Rasa config with the thresholds")
    calibration = add("calibrate", cmd_faq_calibrate, "fit the score calibration for config.yml")
    calibration.add_argument("--folds", type=int, default=10, help="cross-validation folds")
    calibration.add_argument("--config", default="config.yml", help="Rasa config with the matcher settings")
    suggestion = add("suggest", cmd_faq_suggest, "what customers asked that the bot did not answer, grouped")
    suggestion.add_argument("--since", type=_since_date, help="only messages from this day on (YYYY-MM-DD, UTC)")
    suggestion.add_argument(
        "--tracker-db",
        help="Rasa's SQL tracker store: SQLAlchemy URL or SQLite file (default: SUPPORTBOT_TRACKER_DB, else "
        "var/tracker.db)",
    )
    suggestion.add_argument("--limit", type=int, default=25, help="at most this many clusters (default 25)")
    suggestion.add_argument("--json", action="store_true", help="machine-readable output")
    suggestion.add_argument("--config", default="config.yml", help="Rasa config with the matcher settings")
    new = add("new", cmd_faq_new, "add an entry in every language, with TODOs to fill in")
    new.add_argument("id", help="the new entry's id: topic.name, e.g. payments.bitcoin")
    new.add_argument("--file", help="the faq/ file to append it to (default: faq/<topic>.yml)")
    showing = add("show", cmd_faq_show, "one entry as the bot answers it")
    showing.add_argument("id", help="the entry's id, e.g. returns.policy")
    showing.add_argument("--lang", choices=LANGUAGES, default=DEFAULT_LANGUAGE, help="language of the answer (en)")

    tickets = commands.add_parser("tickets", help="support tickets, for staff", description="Support tickets.")
    ticket_commands = tickets.add_subparsers(dest="tickets_command", required=True)

    listing = _database_command(ticket_commands, "list", cmd_tickets_list, "the latest tickets")
    listing.add_argument("--status", choices=STATUSES, help="only tickets with this status")
    listing.add_argument("--limit", type=int, default=50, help="at most this many (default 50)")
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    show = _database_command(ticket_commands, "show", cmd_tickets_show, "one ticket with its history and conversation")
    show.add_argument("id", help="ticket id, e.g. TCK-7Q4M2X")
    show.add_argument("--json", action="store_true", help="machine-readable output")
    status = _database_command(ticket_commands, "set-status", cmd_tickets_set_status, "change a ticket's status")
    status.add_argument("id", help="ticket id, e.g. TCK-7Q4M2X")
    status.add_argument("status", choices=STATUSES, help="the new status")
    status.add_argument("--by", default="staff", help="who changes it (recorded in the history)")
    status.add_argument("--note", help="why (recorded in the history)")

    agents = commands.add_parser("agents", help="agent console log-ins", description="Agents of the console.")
    agent_commands = agents.add_subparsers(dest="agents_command", required=True)

    adding = _database_command(agent_commands, "add", cmd_agents_add, "create an agent (asks for the password)")
    adding.add_argument("username", help="log-in name: a-z, 0-9, '.', '_', '-'")
    adding.add_argument("--name", help="the name customers see (default: the username)")
    _database_command(agent_commands, "list", cmd_agents_list, "list the agents")
    removing = _database_command(agent_commands, "remove", cmd_agents_remove, "delete an agent")
    removing.add_argument("username")

    report = _database_command(commands, "report", cmd_report, "figures for a support lead, per day and language")
    report.add_argument("--since", type=_since_date, help="first day, YYYY-MM-DD (default: 29 days before --until)")
    report.add_argument("--until", type=_since_date, help="last day, YYYY-MM-DD (default: today in support.yml's zone)")
    report.add_argument("--html", metavar="FILE", help="also write the report as one self-contained HTML page")
    report.add_argument("--json", action="store_true", help="machine-readable output")
    report.add_argument(
        "--tracker-db", metavar="URL", help="Rasa's tracker store (default: sqlite:/// + SUPPORTBOT_TRACKER_DB)"
    )
    data = commands.add_parser(
        "data", help="customers' data: export, delete, purge", description="Customers' rights over their data."
    )
    data_commands = data.add_subparsers(dest="data_command", required=True)
    for name, handler, help_text in (
        ("export", cmd_data_export, "everything stored about a customer, as JSON"),
        ("delete", cmd_data_delete, "delete everything stored about a customer"),
    ):
        sub = _database_command(data_commands, name, handler, help_text)
        whose = sub.add_mutually_exclusive_group(required=True)
        whose.add_argument("--email", help="the customer's e-mail address (any case)")
        whose.add_argument("--conversation", help="one conversation id")
        sub.add_argument("--tracker-db", help=TRACKER_DB_HELP)
        sub.add_argument("--by", default="staff", help="who asks (recorded)")
        if name == "export":
            sub.add_argument("--out", help="write to this file instead of the terminal")
        else:
            sub.add_argument("--yes", action="store_true", help="really delete")
    purging = _database_command(data_commands, "purge", cmd_data_purge, "delete conversations idle for N days")
    purging.add_argument("--older-than-days", type=int, required=True, help="idle for more than this many days")
    purging.add_argument("--tracker-db", help=TRACKER_DB_HELP)
    purging.add_argument("--yes", action="store_true", help="really delete")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except (KnowledgeBaseError, EvalFileError, ConfigError, StorageError) as error:
        print(f"supportbot: {error}", file=sys.stderr)
        return EXIT_PROBLEMS
    except BrokenPipeError:  # output piped into `head`: not an error
        sys.stderr.close()
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
