"""The benchmark itself, end to end on 10,000 events, so it cannot rot.

One run of every row (``--fast``); peers missing from the machine print "n/a". The
figures are not judged here (10k events on a shared test machine say little): the
table must be complete, and the store must verify after the purge.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

ROWS = (
    "`auditctl --version`",
    "`search … --limit 1`, empty store",
    "import 10,000 events (JSONL)",
    "`search --action delete --since 7d --limit 50`",
    "the same, all matches",
    "free text, rare",
    "free text, common",
    "`export --format jsonl`",
    "`purge` of the oldest 10%",
    "HTTP: ",
    "HTTP: 8 concurrent clients searching",
)


def test_benchmark_runs_end_to_end(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUDITCTL_")}
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), "--events", "10000", "--fast", "--verify",
         "--http-events", "2000", "--data-dir", str(tmp_path)],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=300, check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    table = result.stdout
    lines = [line for line in table.splitlines() if line.startswith("| ")]
    assert lines[0].split("|")[1].strip() == "row"
    for label in ROWS:
        row = next((line for line in lines if label in line), None)
        assert row is not None, f"missing row {label!r}:\n{table}"
        cells = [cell.strip() for cell in row.split("|")[1:-1]]
        assert len(cells) == 6 and all(cells), row
        assert cells[-1] in ("PASS", "FAIL", "n/a"), row
    assert "verify after purge: exit 0" in table


def test_heavy_rows_take_turns_with_the_peer(tmp_path: Path) -> None:
    """``measure_in_turns``: ours, peer, ours, peer — and each side's median of its own runs."""
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        import run as bench_run  # type: ignore[import-not-found]
    finally:
        sys.path.remove(str(ROOT / "bench"))
    log = tmp_path / "order.log"
    cleared: list[str] = []

    def job(name: str, seconds: float) -> dict[str, object]:
        code = f"import time; open({str(log)!r}, 'a').write({name!r}); time.sleep({seconds})"
        return {"cmd": [sys.executable, "-c", code], "before": lambda: cleared.append(name)}

    ours, peer = bench_run.measure_in_turns([job("o", 0.05), job("p", 0.4)], env=dict(os.environ), runs=3)
    assert log.read_text() == "opopop"
    assert cleared == ["o", "p"] * 3
    assert 0.05 <= ours.wall < peer.wall and peer.wall >= 0.4
