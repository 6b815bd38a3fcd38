"""The pinned dependencies: the advisories issue 10 names are fixed, and pip-audit finds no other
known one (apart from the documented exceptions in deploy/audit-exceptions.yml).

pip-audit lives in its own venv (`.venv-audit`, made by `make test` and `make audit`): its own
dependencies must not move the product's pins. It needs PyPI's JSON API or OSV for the advisory
data; where neither answers, it can audit nothing and the test says so and skips (docs/security.md).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "requirements.lock"
EXCEPTIONS = ROOT / "deploy" / "audit-exceptions.yml"
PIP_AUDIT = ROOT / ".venv-audit" / "bin" / "pip-audit"


def pins() -> dict[str, Version]:
    found = {}
    for line in LOCK.read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.split("==", 1)
            found[name.strip().lower().replace("_", "-")] = Version(version.strip())
    return found


def exceptions() -> list[dict[str, str]]:
    return yaml.safe_load(EXCEPTIONS.read_text())["exceptions"] or []


def test_the_pins_carry_the_fixes_issue_10_names():
    pinned = pins()
    assert pinned["sanic"] == Version("21.12.2")
    assert pinned["python-socketio"] >= Version("5.14")
    assert pinned["python-engineio"] >= Version("4.13.2")
    assert pinned["pyjwt"] >= Version("2.12")


def test_every_accepted_advisory_has_a_reason_and_a_pinned_package():
    pinned = pins()
    for entry in exceptions():
        assert entry.get("id") and entry.get("reason", "").strip(), entry
        assert entry.get("package", "").lower() in pinned, entry


def audit() -> dict:
    ignored = [arg for entry in exceptions() for arg in ("--ignore-vuln", entry["id"])]
    command = [str(PIP_AUDIT), "-r", str(LOCK), "--no-deps", "--disable-pip", "--progress-spinner", "off",
               "--format", "json", *ignored]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    if not done.stdout.strip():
        pytest.fail(f"pip-audit printed no report (exit {done.returncode}): {done.stderr[-2000:]}")
    return json.loads(done.stdout)


NO_PIP_AUDIT = "pip-audit is not installed: `make test` or `make audit` makes .venv-audit"


@pytest.mark.skipif(not PIP_AUDIT.exists(), reason=NO_PIP_AUDIT)
def test_pip_audit_finds_no_known_advisory():
    report = audit()
    dependencies = report["dependencies"]
    skipped = [d for d in dependencies if d.get("skip_reason")]
    if dependencies and len(skipped) == len(dependencies):
        # pip-audit exits 0 then, having audited nothing: that is not a pass.
        pytest.skip(f"pip-audit could not reach its advisory data (PyPI's JSON API): {skipped[0]['skip_reason']}")
    vulnerable = {d["name"]: [v["id"] for v in d["vulns"]] for d in dependencies if d.get("vulns")}
    assert vulnerable == {}, "known advisories: fix the pin, or accept it in deploy/audit-exceptions.yml"
    assert not skipped, f"not audited: {[d['name'] for d in skipped]}"
