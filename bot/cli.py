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
from datetime import datetime, timezone
from pathlib import Path

from bot.console.agents import add_agent, list_agents, remove_agent
from bot.evaluation import EvalFileError, Report, evaluate, load_cases
from bot.knowledge.intents import load_intent_examples
from bot.knowledge.loader import KnowledgeBaseError, load_knowledge_base
from bot.knowledge.response_translations import missing_response_translations
from bot.language.detection import LanguageDetector
from bot.matching.calibration import calibrate
from bot.matching.decision import decide
from bot.matching.matcher import Matcher
from bot.pipeline_config import ConfigError, PipelineConfig, read_pipeline_config
from bot.settings import load_settings
from bot.storage.database import StorageError, create_engine
from bot.tickets.store import STATUSES, Ticket, get_ticket, list_tickets, normalise_ticket_id, set_status

EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE = 0, 1, 2


def _faq_path(args: argparse.Namespace, config: PipelineConfig | None) -> Path:
    if args.faq:
        return Path(args.faq)
    return config.faq_path if config else Path("faq")


def cmd_faq_lint(args: argparse.Namespace) -> int:
    """Validate faq/: errors (exit 1) stop the bot from loading the change; warnings are advice."""
    path = Path(args.faq or "faq")
    try:
        result = load_knowledge_base(path)
        problems, entries = result.warnings, len(result.knowledge.entries)
    except KnowledgeBaseError as error:
        problems, entries = error.problems, None
    if Path(args.domain).exists():
        problems = problems + missing_response_translations(args.domain)
    errors = [p for p in problems if p.severity == "error"]
    if args.json:
        print(
            json.dumps(
                {
                    "ok": not errors,
                    "entries": entries,
                    "problems": [
                        {"file": p.location.file, "line": p.location.line, "severity": p.severity, "message": p.message}
                        for p in problems
                    ],
                },
                indent=2,
            )
        )
    else:
        for problem in problems:
            print(problem)
        warnings = len(problems) - len(errors)
        if errors:
            print(f"{path}: {len(errors)} error(s), {warnings} warning(s); the bot keeps the last good version")
        else:
            print(f"{path}: {entries} entries OK, {warnings} warning(s)")
    return EXIT_PROBLEMS if errors else EXIT_OK


def cmd_faq_eval(args: argparse.Namespace) -> int:
    """Accuracy of the knowledge base on a YAML file of {text, lang, expect} cases."""
    config = read_pipeline_config(args.config)
    knowledge = load_knowledge_base(_faq_path(args, config)).knowledge
    intents = load_intent_examples(config.nlu_path)
    matcher = Matcher(knowledge, intents, config.matcher)
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
        "suggested",
        "top1",
        "among_candidates",
        "out_of_scope_answered",
        "language_detected",
    )
    titles = ("cases", "answered", "suggested", "top-1", "in buttons", "oos answered", "language")
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
    matcher = Matcher(knowledge, intents, config.matcher)
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
