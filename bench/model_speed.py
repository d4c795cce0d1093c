"""Per-event CPU cost of the model layer: an in-process micro-benchmark.

Run it (from the repository root, in the project's venv):

    .venv/bin/python bench/model_speed.py [FILE] [--events N] [--runs R]

FILE is JSONL, one event a line (default /tmp/e100k.jsonl; bench/generate.py makes
one). The first N lines (default 20,000) are parsed with orjson once; then each step
is timed R times (default 5) in CPU time of this process (steadier than wall time on
a shared machine) and the median printed as µs per event:

* ``from_dict``      — ``Event.from_dict`` over the parsed dicts (validation);
* ``redact``         — ``DEFAULT_REDACTOR.event`` over the events (redaction);
* ``to_dict``        — ``Event.to_dict`` over the events (serialisation);
* ``content_id``     — ``content_id`` over the events (what import does for id-less events).

The garbage collector runs as it would in ``auditctl import``; with all N events
alive its share is large and varies, so ``--no-gc`` switches it off while timing to
show the functions' own work. This measures the Python work per event only: no I/O,
no SQLite. For whole-process figures against peers use bench/run.py.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from auditctl.model import Event, content_id
from auditctl.redact import DEFAULT_REDACTOR


def _median_us(step: Callable[[], Any], count: int, runs: int, collect: bool) -> float:
    times = []
    for _ in range(runs):
        gc.collect()
        if not collect:
            gc.disable()
        start = time.process_time()
        step()
        times.append(time.process_time() - start)
        gc.enable()
    return statistics.median(times) / count * 1e6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", nargs="?", default="/tmp/e100k.jsonl", type=Path)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--no-gc", action="store_true", help="switch the garbage collector off while timing")
    args = parser.parse_args(argv)

    with args.file.open("rb") as handle:
        dicts = [orjson.loads(line) for _, line in zip(range(args.events), handle, strict=False)]
    count = len(dicts)
    if not count:
        print(f"{args.file}: no events", file=sys.stderr)
        return 1
    events = [Event.from_dict(d) for d in dicts]
    redact = DEFAULT_REDACTOR.event

    steps: dict[str, Callable[[], Any]] = {
        "from_dict": lambda: [Event.from_dict(d) for d in dicts],
        "redact": lambda: [redact(e) for e in events],
        "to_dict": lambda: [e.to_dict() for e in events],
        "content_id": lambda: [content_id(e) for e in events],
    }
    gc_note = ", gc off" if args.no_gc else ""
    print(f"{count} events from {args.file}, median CPU time of {args.runs} runs{gc_note}")
    for name, step in steps.items():
        print(f"{name:>12}: {_median_us(step, count, args.runs, not args.no_gc):7.2f} µs/event")
    return 0


if __name__ == "__main__":
    sys.exit(main())
