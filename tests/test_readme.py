"""The README is a user's first five minutes: every example in it must stay true."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
BIN = Path(sys.executable).parent


def marked_command(marker: str) -> str:
    match = re.search(rf"<!-- {marker} -->\s*```sh\n(.+?)\n```", README, re.DOTALL)
    assert match, f"README lacks the {marker} block"
    return match.group(1).strip()


def console_commands() -> list[str]:
    commands = []
    for block in re.findall(r"```console\n(.*?)```", README, re.DOTALL):
        commands += [line[2:] for line in block.splitlines() if line.startswith("$ ")]
    return commands


def shell(command: str, cwd: Path, home: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUDITCTL_")}
    env.update({"AUDITCTL_HOME": str(home), "PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}", "USER": "ci"})
    return subprocess.run(["bash", "-o", "pipefail", "-c", command], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120)


def test_ci_runs_exactly_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text()
    command = marked_command("readme:test-command")
    assert "pytest" in command and "[test]" in command
    # .ci/run states the command (so a reader sees what CI runs), runs it, and
    # checks it against the README's block.
    assert f'test_command="{command}"' in ci
    assert command in ci.splitlines()[-1]
    assert "readme:test-command" in ci


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_the_tour_runs_top_to_bottom(tmp_path):
    if shutil.which("jq") is None:
        pytest.skip("jq is not installed")
    home = tmp_path / "home"
    commands = console_commands()
    assert len(commands) >= 20
    port = str(free_port())  # the README says 8750; any free port proves the same
    background: list[subprocess.Popen[str]] = []
    try:
        for command in commands:
            command = command.replace("8750", port)
            if command.endswith(" &"):
                # A server example: start it, and wait until it answers.
                env = {k: v for k, v in os.environ.items() if not k.startswith("AUDITCTL_")}
                env.update({"AUDITCTL_HOME": str(home), "PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}"})
                background.append(subprocess.Popen(["bash", "-c", "exec " + command[:-2]], cwd=tmp_path, env=env,
                                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True))
                deadline = time.monotonic() + 30
                while time.monotonic() < deadline:
                    with socket.socket() as probe:
                        if probe.connect_ex(("127.0.0.1", int(port))) == 0:
                            break
                    time.sleep(0.1)
                continue
            result = shell(command, tmp_path, home)
            assert result.returncode == 0, f"{command}\n{result.stdout}\n{result.stderr}"
            assert "Traceback" not in result.stderr
    finally:
        for proc in background:
            proc.terminate()
            proc.wait(timeout=30)


def test_the_first_command_shows_events(tmp_path):
    first = marked_command("readme:first-command")
    # The install step is what CI's own install proves; run what follows it.
    tail = first.split(" && ", 2)[2].replace(".venv/bin/", "")
    result = shell(tail, tmp_path, tmp_path / "home")
    assert result.returncode == 0, result.stderr
    assert '"action":"delete"' in result.stdout.replace(" ", "")
