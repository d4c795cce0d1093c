"""Write generated audit events as JSON lines (a thin script over auditctl.generate).

    .venv/bin/python bench/generate.py --events 1000000 -o bench/data/events.jsonl

Deterministic: the same --events, --seed and --now always give the same file.
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import UTC, datetime

from auditctl.generate import generate
from auditctl.jsonio import dumps

DEFAULT_NOW = "2026-11-25T12:00:00Z"


def write(path: str, count: int, seed: int, now: datetime) -> None:
    """Write to a temporary name, then rename: a cached file is always complete."""
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        with open(tmp, "w", encoding="utf-8", newline="\n") as out:
            lines: list[str] = []
            for event in generate(count, seed=seed, now=now):
                lines.append(dumps(event))
                if len(lines) >= 10_000:
                    out.write("\n".join(lines) + "\n")
                    lines = []
            if lines:
                out.write("\n".join(lines) + "\n")
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--now", default=DEFAULT_NOW, help="the newest event's time (RFC 3339)")
    parser.add_argument("-o", "--output", default="-")
    args = parser.parse_args(argv)
    now = datetime.fromisoformat(args.now).astimezone(UTC)
    if args.output == "-":
        for event in generate(args.events, seed=args.seed, now=now):
            sys.stdout.write(dumps(event) + "\n")
    else:
        write(args.output, args.events, args.seed, now)
    return 0


if __name__ == "__main__":
    sys.exit(main())
