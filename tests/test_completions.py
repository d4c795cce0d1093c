"""The committed shell completions are what scripts/gen_completions.py makes from the code, and they work."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import typer

from auditctl import model
from auditctl.cli.commands import app

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "gen_completions.py"
COMMITTED = ROOT / "completions"
FILES = {"bash": "auditctl.bash", "zsh": "_auditctl", "fish": "auditctl.fish"}
REGENERATE = "run python scripts/gen_completions.py"


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("completions")
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--output-dir", str(out)],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return out


def command_paths() -> list[tuple[str, ...]]:
    from typer import _click as click

    paths: list[tuple[str, ...]] = []

    def walk(command: object, ctx: object, path: tuple[str, ...]) -> None:
        if path:
            paths.append(path)
        if hasattr(command, "list_commands"):
            for name in command.list_commands(ctx):  # type: ignore[attr-defined]
                sub = command.get_command(ctx, name)  # type: ignore[attr-defined]
                if sub is not None and not sub.hidden:
                    walk(sub, click.Context(sub, parent=ctx, info_name=name), (*path, name))

    root = typer.main.get_command(app)
    walk(root, click.Context(root, info_name="auditctl"), ())
    return paths


@pytest.mark.parametrize("shell", sorted(FILES))
def test_committed_completions_match_the_code(generated: Path, shell: str) -> None:
    name = FILES[shell]
    committed = COMMITTED / name
    assert committed.exists(), f"completions/{name} is missing: {REGENERATE}"
    assert committed.read_text(encoding="utf-8") == (generated / name).read_text(encoding="utf-8"), (
        f"completions/{name} is stale: {REGENERATE}"
    )


def test_check_mode_names_the_stale_file(generated: Path, tmp_path: Path) -> None:
    for name in FILES.values():
        shutil.copy(generated / name, tmp_path / name)
    ok = subprocess.run(
        [sys.executable, str(SCRIPT), "--check", "--output-dir", str(tmp_path)],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ok.returncode == 0, ok.stderr

    (tmp_path / "_auditctl").write_text("# old\n", encoding="utf-8")
    stale = subprocess.run(
        [sys.executable, str(SCRIPT), "--check", "--output-dir", str(tmp_path)],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert stale.returncode == 1
    assert "_auditctl" in stale.stderr and "auditctl.bash" not in stale.stderr
    assert REGENERATE in stale.stderr


def test_generation_is_deterministic(generated: Path, tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, str(SCRIPT), "--output-dir", str(tmp_path)], check=True, capture_output=True, timeout=120
    )
    for name in FILES.values():
        assert (tmp_path / name).read_bytes() == (generated / name).read_bytes(), name


SYNTAX = {
    "bash": ["bash", "-n"],
    "zsh": ["zsh", "-n"],
    "fish": ["fish", "--no-execute"],
}


@pytest.mark.parametrize("shell", sorted(FILES))
def test_script_is_valid_syntax(generated: Path, shell: str) -> None:
    checker = SYNTAX[shell]
    if shutil.which(checker[0]) is None:
        pytest.skip(f"{shell} is not installed")
    result = subprocess.run(
        [*checker, str(generated / FILES[shell])], check=False, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("shell", sorted(FILES))
def test_every_command_is_in_every_script(generated: Path, shell: str) -> None:
    text = (generated / FILES[shell]).read_text(encoding="utf-8")
    missing = [" ".join(path) for path in command_paths() if not all(_has_word(text, name) for name in path)]
    assert not missing, f"{FILES[shell]} lacks {missing}"


def _has_word(text: str, word: str) -> bool:
    return re.search(rf"(?<![\w-]){re.escape(word)}(?![\w-])", text) is not None


# --------------------------------------------------------------------------- they complete


def bash_complete(script: Path, words: list[str], cwd: Path) -> list[str]:
    """Run the bash completion function as bash would for ``words`` (last = the word being typed)."""
    quoted = " ".join("'" + w.replace("'", "'\\''") + "'" for w in words)
    program = (
        f"source '{script}'\n"
        f"COMP_WORDS=({quoted}); COMP_CWORD=$((${{#COMP_WORDS[@]}} - 1))\n"
        "_auditctl\n"
        "printf '%s\\n' \"${COMPREPLY[@]}\"\n"
    )
    result = subprocess.run(
        ["bash", "--norc", "--noprofile", "-c", program],
        check=False,
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return sorted(line for line in result.stdout.splitlines() if line)


def top_level() -> list[str]:
    return sorted(path[0] for path in command_paths() if len(path) == 1)


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")
@pytest.mark.parametrize(
    ("words", "expected"),
    [
        (["auditctl", ""], "TOP"),
        (["auditctl", "--store", "x.db", ""], "TOP"),
        (["auditctl", "record", ""], sorted(model.ACTIONS)),
        (["auditctl", "record", "--source", ""], sorted(model.SOURCES)),
        (["auditctl", "search", "--actor-type", ""], sorted(model.ACTOR_TYPES)),
        (["auditctl", "search", "-a", "del"], ["delete"]),
        (["auditctl", "--format", ""], ["csv", "json", "jsonl", "table"]),
        (["auditctl", "export", "-f", "js"], ["json", "jsonl"]),
        (["auditctl", "config", ""], ["get", "list", "path", "set", "unset"]),
        (["auditctl", "import", ""], ["events.jsonl"]),
        (["auditctl", "export", "-o", "ev"], ["events.jsonl"]),
        (["auditctl", "verify", "--file", ""], ["events.jsonl"]),
        (["auditctl", "search", "--rev"], ["--reverse"]),
    ],
)
def test_bash_completes(generated: Path, tmp_path: Path, words: list[str], expected: object) -> None:
    (tmp_path / "events.jsonl").write_text("", encoding="utf-8")
    got = bash_complete(generated / FILES["bash"], words, tmp_path)
    assert got == (top_level() if expected == "TOP" else expected)


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")
def test_bash_completes_token_roles(generated: Path, tmp_path: Path) -> None:
    tokens = pytest.importorskip("auditctl.store.tokens")
    if ("token", "create") not in command_paths():
        pytest.skip("no token create command in this build")
    got = bash_complete(generated / FILES["bash"], ["auditctl", "token", "create", "--role", ""], tmp_path)
    assert got == sorted(tokens.ROLES)


@pytest.mark.skipif(shutil.which("fish") is None, reason="fish is not installed")
def test_fish_completes(generated: Path, tmp_path: Path) -> None:
    (tmp_path / "events.jsonl").write_text("", encoding="utf-8")

    def complete(line: str) -> list[str]:
        program = f"source '{generated / FILES['fish']}'; complete -C '{line}'"
        result = subprocess.run(
            ["fish", "--no-config", "-c", program],
            check=False,
            capture_output=True,
            text=True,
            cwd=tmp_path,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        return sorted(entry.split("\t")[0] for entry in result.stdout.splitlines() if entry)

    assert complete("auditctl ") == top_level()
    assert complete("auditctl record --source ") == sorted(model.SOURCES)
    assert complete("auditctl config ") == ["get", "list", "path", "set", "unset"]
    assert complete("auditctl import ") == ["events.jsonl"]
