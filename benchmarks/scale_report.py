"""The markdown of `benchmarks.scale_table`: the side-by-side table, and its own section of docs/benchmarks.md.

Everything here is rendered from one run's result (the JSON `scale_table` writes); a system or a
level that did not run says why instead of a number. The section sits between markers, so the rest
of the report stays byte for byte as it was.
"""

from __future__ import annotations

from pathlib import Path

SYSTEMS = {"ours": "one process", "cluster": "the cluster", "anchor": "Rasa's default pipeline"}
HEADING = "## Scale: one process, the cluster and Rasa's default pipeline"
ROLES = ("rasa", "actions", "nginx", "postgres", "redis")  # the order processes are listed in
START, END = "<!-- scale:start -->", "<!-- scale:end -->"
COLUMNS = ("system", "customers", "answered", "msg/s", "p50 ms", "p99 ms", "errors", "CPU-s per 1,000 answered",
           "peak RSS per process, MB", "sum of peaks, MB")


# ---- the table -------------------------------------------------------------------------------

def render_table(result: dict) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    levels = result["meta"]["levels"]
    for name, label in SYSTEMS.items():
        entry = result["systems"].get(name, {"not_run": "not asked for"})
        if "not_run" in entry or "error" in entry:
            reason = f"not run ({entry['not_run']})" if "not_run" in entry else entry["error"]
            lines.append(_row(label, "—", reason))
            continue
        for level in levels:
            cell = entry["levels"].get(str(level), {"error": "not run"})
            lines.append(_row(label, f"{level:,}", cell["error"]) if "error" in cell else _measured(label, level, cell))
    return "\n".join(lines)


def _row(label: str, customers: str, reason: str) -> str:
    return "| " + " | ".join([label, customers, reason.replace("|", "/")] + [""] * (len(COLUMNS) - 3)) + " |"


def _measured(label: str, level: int, cell: dict) -> str:
    latency = cell.get("latency") or {}
    exited = f" ({', '.join(cell['exited'])} exited)" if cell.get("exited") else ""
    values = [
        label, f"{level:,}", f"{cell['replies']:,}{exited}", _number(cell["throughput_per_s"]),
        _ms(latency.get("p50_ms")), _ms(latency.get("p99_ms")), _errors(cell), _number(cell.get("cpu_s_per_1000")),
        _memory(cell.get("rss_peak_mb", {})), _number(cell.get("rss_peak_sum_mb"), 0),
    ]
    return "| " + " | ".join(values) + " |"


def _number(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value:,.{digits}f}"


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{value:,.0f}" if value >= 100 else f"{value:.1f}"


def _errors(cell: dict) -> str:
    if not cell["error_count"]:
        return "0"
    kinds = sorted(cell["errors"].items(), key=lambda item: -item[1])
    named = ", ".join(f"{kind.removeprefix('rest:')} {count:,}" for kind, count in kinds[:2])
    return f"{cell['error_count']:,} ({100 * cell['error_share']:.1f} %: {named})"


def _memory(peaks: dict[str, float]) -> str:
    """`rasa 812 + 806, actions 131 + 130, nginx 14`: processes of one role (rasa-1, rasa-2) together."""
    roles: dict[str, list[str]] = {}
    for name in sorted(peaks, key=_role_order):
        roles.setdefault(name.split("-")[0], []).append(f"{peaks[name]:,.0f}")
    return ", ".join(f"{role} {' + '.join(values)}" for role, values in roles.items())


def _role_order(name: str) -> tuple[int, str]:
    role = name.split("-")[0]
    return (ROLES.index(role) if role in ROLES else len(ROLES), name)


# ---- what the numbers say --------------------------------------------------------------------

def findings(result: dict) -> str:
    """One paragraph, every number in it taken from the result."""
    measured = {name: _good_levels(result, name) for name in SYSTEMS}
    measured = {name: cells for name, cells in measured.items() if cells}
    if not measured:
        return "No system was measured in this run."
    sentences = [_throughput(measured), _cpu(measured, result["meta"]["levels"])]
    sentences.append(_largest_level(measured, max(result["meta"]["levels"])))
    machine = result["meta"]["machine"]
    sentences.append(
        f"Every server process and the load generator share the machine's {machine['nproc']} cores, so a "
        "replica more can only add the CPU the others leave free; the cluster's extra processes (nginx, "
        "PostgreSQL, Redis) are counted in its CPU-seconds.")
    return " ".join(s for s in sentences if s)


def _good_levels(result: dict, name: str) -> dict[int, dict]:
    entry = result["systems"].get(name, {})
    return {int(level): cell for level, cell in entry.get("levels", {}).items()
            if "error" not in cell and cell.get("replies")}


def _throughput(measured: dict[str, dict[int, dict]]) -> str:
    peaks = {name: max(cells.items(), key=lambda item: item[1]["throughput_per_s"] or 0)
             for name, cells in measured.items()}
    parts = []
    for name, (level, cell) in peaks.items():
        rate = cell["throughput_per_s"] or 0
        part = f"{SYSTEMS[name]} {rate:,.1f} msg/s (at {level:,} customers)"
        if name != "ours" and "ours" in peaks and rate:
            ours = peaks["ours"][1]["throughput_per_s"] or 0
            part += f", {rate / ours:.2f}× one process" if ours else ""
        parts.append(part)
    return "Peak throughput: " + "; ".join(parts) + "."


def _cpu(measured: dict[str, dict[int, dict]], levels: list[int]) -> str:
    per_system = []
    for name, cells in measured.items():
        values = [_number(cells[level].get("cpu_s_per_1000")) if level in cells else "—" for level in levels]
        per_system.append(f"{SYSTEMS[name]} {' / '.join(values)}")
    heading = " / ".join(f"{level:,}" for level in levels)
    return f"CPU-seconds per 1,000 answered messages at {heading} customers: " + "; ".join(per_system) + "."


def _largest_level(measured: dict[str, dict[int, dict]], level: int) -> str:
    parts = []
    for name, cells in measured.items():
        cell = cells.get(level)
        if cell is None:
            continue
        p99 = (cell.get("latency") or {}).get("p99_ms")
        share = cell.get("error_share") or 0
        kind = max(cell["errors"].items(), key=lambda item: item[1])[0].removeprefix("rest:") if cell["errors"] else ""
        errors = f"{100 * share:.1f} % errors" + (f", mostly {kind}" if kind else "")
        parts.append(f"{SYSTEMS[name]} p99 {_ms(p99)} ms, {errors}")
    if not parts:
        return ""
    return f"At {level:,} customers: " + "; ".join(parts) + "."


# ---- the section -----------------------------------------------------------------------------

def render_section(result: dict) -> str:
    meta = result["meta"]
    machine = meta["machine"]
    anchor = result["systems"].get("anchor", {}).get("training", {})
    trained = (f"training took {anchor['train_s']:,.0f} s" if anchor.get("train_s")
               else "model reused from --anchor-project" if anchor.get("reused") else "")
    ramps = ", ".join(f"{float(seconds):.0f} s at {int(level):,}" for level, seconds in meta["ramp_s"].items()
                      if float(seconds))
    lines = [
        START,
        HEADING,
        "",
        f"Command: `{meta['command']}` ({_make_note(meta['command'])}), {meta['date_utc']}, "
        f"{meta['duration_min']} min.",
        "",
        f"- Machine: {machine['nproc']} cores ({machine['cpu']}), {machine['ram_gib']} GiB RAM, {machine['system']}, "
        f"Python {machine['python']}; load average (1/5/15 min) {_load(meta['load_average_start'])} before the run, "
        f"{_load(meta['load_average_end'])} after. The load generator runs on the same cores as every server.",
        "- Systems: **one process** as `make run` starts it (Rasa server + action server, SQLite tracker store; "
        "`benchmarks/servers.py`); **the cluster** of `make cluster` (`deploy/cluster.py` on free ports: "
        f"{meta['replicas']} Rasa replicas, {meta['replicas']} action servers, nginx, PostgreSQL, Redis), reached "
        "through nginx; **Rasa's default pipeline** (the `rasa init` configuration: DIET, ResponseSelector, "
        "FallbackClassifier; TED, Memoization, Rule and UnexpecTED policies; `benchmarks/rasa_default.py`) trained "
        f"on the same data{f' ({trained})' if trained else ''}, run by `rasa run` with its in-memory tracker "
        "store and no action server.",
        "- What a customer does: `benchmarks/loadtest.py`'s FAQ conversations only (`mix faq=1`), over REST: one "
        "to three held-out questions (`tests/data/heldout_*.yml`, five languages, English 40 %), a \"did you "
        "mean\" answered with its first button, half the \"was this helpful?\" answered; no think time. Each "
        "conversation is a new customer (new sender id) from a loopback address of its own "
        f"({meta['source_addresses']:,} addresses from 127.0.10.1, round-robin: nginx routes by address). "
        f"Each level lasts {meta['duration_s']:.0f} s (at most {meta['max_messages']:,} messages)"
        f"{f', customers arriving over {ramps}' if ramps else ''}, after an unmeasured warm-up of "
        f"{meta['warmup']['customers']} customers for {meta['warmup']['duration_s']:.0f} s. A non-200, an empty "
        f"reply or none within {meta['reply_timeout_s']:.0f} s is an error, and that customer starts a new "
        "conversation. The default pipeline has no \"did you mean\" and asks no \"was this helpful?\", so its "
        "customers send questions only.",
        "- Measured: throughput = answered messages per second from the first message sent to the last reply; "
        "latency at the client, of the answered messages (an error has none); CPU-seconds = utime + stime "
        "(`/proc/<pid>/stat`) of every server process and its children (the cluster: replicas, action "
        "servers, nginx, PostgreSQL with its backends, Redis) from "
        f"the level's start until the servers are idle again (at most {meta['settle_timeout_s']:.0f} s later, "
        "so work on replies customers gave up on counts), not the load generator's; peak RSS = the largest "
        "VmRSS of each process with its children, sampled once a second (nginx's workers and PostgreSQL's "
        "backends share pages with their parent, so those sums overstate).",
        "",
        render_table(result),
        "",
        findings(result),
        END,
    ]
    return "\n".join(lines) + "\n"


def _make_note(command: str) -> str:
    flags = command.split("benchmarks.scale_table", 1)[-1].strip()
    return f"`make bench-scale SCALE_FLAGS=\"{flags}\"`" if flags else "`make bench-scale`"


def _load(values: list[float] | tuple[float, ...]) -> str:
    return "/".join(f"{v:.1f}" for v in values)


def update_docs(path: Path, result: dict) -> None:
    """Replace the scale section of `path` (or add it at the end), leaving every other byte as it was."""
    splice(path, render_section(result))


def splice(path: Path, section: str) -> None:
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    if START not in text and HEADING in text:  # a placeholder heading without markers: up to the next section
        before, rest = text.split(HEADING, 1)
        ends = [i for i in (rest.find("\n## "), rest.find("\n<!-- ")) if i >= 0]
        after = rest[min(ends) + 1:] if ends else ""
        path.write_text(before + section + ("\n" + after if after else ""), encoding="utf-8")
        return
    splice_between(path, START, END, section)


def splice_between(path: Path, start: str, end: str, section: str) -> None:
    """Replace what is between the `start` and `end` markers of `path` by `section` (which carries them),
    or add it at the end; every other byte stays as it was."""
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    if start in text and end in text:
        before, rest = text.split(start, 1)
        text = before + section.rstrip("\n") + rest.split(end, 1)[1]
    else:
        text = text.rstrip("\n") + ("\n\n" if text else "") + section
    path.write_text(text, encoding="utf-8")
