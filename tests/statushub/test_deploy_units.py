"""Item 13: deploy/ ships systemd units that restart web, worker and beat whenever they exit."""

import configparser
import re
import shutil
import subprocess
from pathlib import Path

import pytest

SYSTEMD = Path(__file__).resolve().parents[2] / "deploy" / "systemd"
COMMANDS = {
    "web": ["granian", "--interface wsgi", "statushub.wsgi:application"],
    "worker": ["celery", "-A statushub worker", "--pool=threads"],
    "beat": ["celery", "-A statushub beat"],
}


def _unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # systemd keys are case-sensitive
    parser.read_string((SYSTEMD / f"statushub-{name}.service").read_text().replace("\\\n", " "))
    return parser


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_each_process_has_a_unit_that_always_restarts_it_with_the_shared_environment(name):
    unit = _unit(name)
    service = unit["Service"]

    assert service["Restart"] == "always"
    assert unit["Unit"]["StartLimitIntervalSec"] == "0", "systemd never stops restarting it"
    assert service["KillMode"] == "control-group", "its children stop with it"
    assert service["EnvironmentFile"] == "/etc/statushub/statushub.env"
    command = " ".join(service["ExecStart"].split())
    assert all(part in command for part in COMMANDS[name]), command
    example = (SYSTEMD / "statushub.env.example").read_text()
    for variable in re.findall(r"\$\{(\w+)\}", command):
        assert re.search(rf"^{variable}=", example, re.MULTILINE), f"{variable} is in statushub.env.example"


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="needs systemd-analyze")
def test_systemd_accepts_the_units():
    result = subprocess.run(
        ["systemd-analyze", "verify", *sorted(str(path) for path in SYSTEMD.glob("*.service"))],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    # The programs are only there once installed (/srv/statushub/app/.venv); everything else must be clean.
    problems = [
        line for line in result.stderr.splitlines() if "is not executable" not in line and line.strip()
    ]
    assert problems == []
