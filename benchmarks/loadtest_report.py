"""The markdown summary of a load test, written into its own section of docs/loadtest.md.

`make loadtest` rewrites the `standard` section, `make soak` the `soak` section, a custom run the
`custom` section; the hand-written text around them stays as it is.
"""

from __future__ import annotations

from pathlib import Path

TARGETS = "one process ≥ 300 FAQ messages/s with p99 ≤ 100 ms at 100 concurrent customers"


def update_docs(path: Path, result: dict, section: str) -> None:
    begin, end = f"<!-- BEGIN loadtest:{section} -->", f"<!-- END loadtest:{section} -->"
    body = f"{begin}\n{render(result)}\n{end}"
    text = path.read_text(encoding="utf-8") if path.exists() else "# Load test\n"
    if begin in text and end in text:
        text = text[: text.index(begin)] + body + text[text.index(end) + len(end):]
    else:
        text = text.rstrip("\n") + "\n\n" + body + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def render(result: dict) -> str:
    meta = result["meta"]
    machine = meta["machine"]
    lines = [
        f"Run {meta['date']}: `{meta['command']}`",
        "",
        f"- Machine: {machine['nproc']} cores ({machine['cpu']}), {machine['ram_gib']} GiB, {machine['system']}, "
        f"Python {machine['python']}; the load generator runs on the same cores as the server.",
        f"- Load average (1/5/15 min) at the start {_load(meta['load_average_start'])}, "
        f"at the end {_load(meta['load_average_end'])}: other work shares this machine.",
        f"- Target: {meta['target']}; memory from {meta['memory_source']}.",
        "",
        "| phase | customers | replies | seconds | replies/s | p50 ms | p90 ms | p99 ms | max ms | errors "
        "| Rasa CPU ms/reply | Rasa CPU % | actions CPU % | generator CPU s | Rasa RSS start→end (max) MB |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for phase in result["phases"]:
        config, latency = phase["phase"], phase["latency"] or {}
        rasa, actions = phase.get("server", {}).get("rasa", {}), phase.get("server", {}).get("actions", {})
        customers = f"{config['customers']} {config['transport']}" + (" (held open)" if config["hold"] else "")
        errors = ", ".join(f"{k} {v}" for k, v in phase["errors"].items()) or "0"
        rss = f"{rasa.get('rss_start_mb', '—')}→{rasa.get('rss_end_mb', '—')} ({rasa.get('rss_max_mb', '—')})"
        lines.append(
            f"| {config['name']} | {customers} | {phase['replies']} | {phase['seconds']} | {phase['throughput_per_s']} "
            f"| {latency.get('p50_ms', '—')} | {latency.get('p90_ms', '—')} | {latency.get('p99_ms', '—')} "
            f"| {latency.get('max_ms', '—')} | {errors} | {rasa.get('cpu_ms_per_reply', '—')} "
            f"| {rasa.get('cpu_percent', '—')} | {actions.get('cpu_percent', '—')} | {phase['generator_cpu_s']} "
            f"| {rss} |"
        )
    lines += ["", "Latency by transport and message kind (ms; `connect` is a socket.io connection and session):", "",
              "| phase | transport | kind | n | p50 | p90 | p99 | max |", "|---|---|---|---|---|---|---|---|"]
    for phase in result["phases"]:
        for transport, kinds in phase["latency_by_transport"].items():
            for kind, stats in kinds.items():
                lines.append(f"| {phase['phase']['name']} | {transport} | {kind} | {stats['n']} | {stats['p50_ms']} "
                             f"| {stats['p90_ms']} | {stats['p99_ms']} | {stats['max_ms']} |")
    lines += ["", "What the conversations reached:", ""]
    for phase in result["phases"]:
        started = ", ".join(f"{k} {v}" for k, v in phase["conversations"].items())
        reached = ", ".join(f"{k} {v}" for k, v in phase["outcomes"].items())
        peak = f"; peak socket.io connections {phase['peak_socket_connections']}" \
            if phase["peak_socket_connections"] else ""
        lines.append(f"- **{phase['phase']['name']}**: started {started}; reached {reached}{peak}.")
    if result.get("soak"):
        lines += ["", "Memory over the soak (least-squares trend over the second half, projected over the whole soak; "
                  "flat when under the larger of 5 MB and 2 % of the median RSS):", "",
                  "| process | first MB | last MB | max MB | median MB (2nd half) | slope MB/min | projected MB "
                  "| allowed MB | verdict |", "|---|---|---|---|---|---|---|---|---|"]
        for verdict in result["soak"]:
            if "slope_mb_per_min" not in verdict:
                lines.append(f"| {verdict['role']} | | | | | | | | {verdict['verdict']} |")
                continue
            lines.append(
                f"| {verdict['role']} | {verdict['first_rss_mb']} | {verdict['last_rss_mb']} | {verdict['max_rss_mb']} "
                f"| {verdict['median_rss_mb']} | {verdict['slope_mb_per_min']} | {verdict['projected_growth_mb']} "
                f"| {verdict['allowed_mb']} | **{verdict['verdict']}** |")
        lines += ["", _memory_timeline(result.get("memory", []))]
    return "\n".join(lines)


def _memory_timeline(samples: list[dict]) -> str:
    """RSS once a minute, so the trend can be read without the JSON."""
    if not samples:
        return ""
    roles = [key[: -len("_rss_mb")] for key in samples[0] if key.endswith("_rss_mb")]
    rows = ["| minute | " + " | ".join(f"{r} RSS MB" for r in roles) + " |", "|---" * (len(roles) + 1) + "|"]
    next_minute = 0.0
    for sample in samples:
        if sample["t"] >= next_minute:
            rows.append(f"| {sample['t'] / 60:.0f} | " + " | ".join(str(sample[f"{r}_rss_mb"]) for r in roles) + " |")
            next_minute += 60
    return "\n".join(rows)


def _load(values: list[float] | tuple[float, ...]) -> str:
    return "/".join(f"{v:.1f}" for v in values)
