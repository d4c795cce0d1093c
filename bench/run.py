"""auditctl's benchmark: whole processes, against peers measured in the same run.

Run it (from the repository root, in the project's venv):

    .venv/bin/python bench/run.py --events 1000000

It generates the events once (cached as bench/data/events-N-sS.jsonl, gitignored),
then times each row as separate processes — median wall time of several runs, peak
RSS from the kernel's rusage of that process tree (os.wait4) — and prints one table:
auditctl's figure, the peer's figure from the same run, their ratio, the target and
pass/fail. Peers: ``sqlite-utils`` (in the venv), ``jq`` and ``grep``; a missing peer
prints "n/a". The HTTP row runs when ``auditctl serve`` exists.

Options worth knowing: ``--runs`` (runs per quick row, default 5), ``--heavy-runs``
(rounds of the 1M-event import and export rows, default 2, each tool taking its turn
in a round: one import by each takes minutes on a 2-core machine, and a slow spell
of the shared machine should fall on both), ``--fast`` (1 run of everything: the smoke test),
``--keep`` (leave the stores in bench/data/work for a look afterwards).

Every auditctl process runs with ``AUDITCTL_NOW`` fixed to the data's "now", so
``--since 7d`` means the same events on every day the benchmark is run.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH_NOW = "2026-11-25T12:00:00Z"
VENV_BIN = Path(sys.executable).parent


# --------------------------------------------------------------------------- measuring


@dataclass
class Sample:
    wall: float  # seconds
    rss_mb: float  # peak resident set of the process tree
    code: int
    stderr: str = ""
    stdout: str = ""


def run_once(cmd: Sequence[str], *, env: dict[str, str], stdout: Any = subprocess.DEVNULL,
             timeout: float = 3600) -> Sample:
    """One process (or shell pipeline): wall time and the peak RSS of its whole tree.

    ``stdout=subprocess.PIPE`` captures it (through a file: nothing to drain meanwhile).
    """
    with tempfile.TemporaryFile() as err, tempfile.TemporaryFile() as captured:
        out = captured if stdout == subprocess.PIPE else stdout
        start = time.perf_counter()
        proc = subprocess.Popen(list(cmd), stdout=out, stderr=err, env=env, cwd=ROOT)
        deadline = start + timeout
        while True:
            # wait4 reports this child's own rusage, including the children it reaped.
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                proc.kill()
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.002)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        text = err.read().decode(errors="replace")
        captured.seek(0)
        output = captured.read().decode(errors="replace") if out is captured else ""
    return Sample(wall, usage.ru_maxrss / 1024, proc.returncode, text, output)


def measure(cmd: Sequence[str], *, env: dict[str, str], runs: int, stdout_path: Path | None = None,
            before: Callable[[], None] | None = None, ok_codes: tuple[int, ...] = (0,),
            timeout: float = 3600) -> Sample:
    """Median wall time of ``runs`` runs (peak RSS: the largest seen)."""
    samples = []
    for _ in range(max(runs, 1)):
        if before is not None:
            before()
        if stdout_path is not None:
            with open(stdout_path, "wb") as out:
                sample = run_once(cmd, env=env, stdout=out, timeout=timeout)
        else:
            sample = run_once(cmd, env=env, timeout=timeout)
        if sample.code not in ok_codes:
            raise RuntimeError(f"{' '.join(cmd)[:200]} exited {sample.code}: {sample.stderr.strip()[-500:]}")
        samples.append(sample)
    return Sample(statistics.median(s.wall for s in samples), max(s.rss_mb for s in samples), 0)


def measure_in_turns(jobs: Sequence[dict[str, Any]], *, env: dict[str, str], runs: int) -> list[Sample]:
    """``measure`` of each job (its keyword arguments), the jobs taking turns in each
    of ``runs`` rounds: on a shared machine a slow spell then falls on every side,
    not on whichever ran during it. Each job's median wall time, largest RSS."""
    rounds = [[measure(env=env, runs=1, **job) for job in jobs] for _ in range(max(runs, 1))]
    return [Sample(statistics.median(r[i].wall for r in rounds), max(r[i].rss_mb for r in rounds), 0)
            for i in range(len(jobs))]


def count_lines(path: Path) -> int:
    with open(path, "rb") as handle:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 20), b""))


# --------------------------------------------------------------------------- the table


@dataclass
class Row:
    name: str
    ours: str
    peer: str
    ratio: str
    target: str
    ok: bool | None  # None: not measured

    @property
    def verdict(self) -> str:
        return "n/a" if self.ok is None else ("PASS" if self.ok else "FAIL")


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, row: Row) -> None:
        self.rows.append(row)
        print(f"  {row.name}: {row.ours} | peer {row.peer} | {row.ratio} | {row.verdict}", file=sys.stderr, flush=True)

    def render(self) -> str:
        header = ("row", "auditctl", "peer, same run", "ratio", "target", "result")
        table = [header] + [(r.name, r.ours, r.peer, r.ratio, r.target, r.verdict) for r in self.rows]
        widths = [max(len(line[i]) for line in table) for i in range(len(header))]

        def fmt(line: Sequence[str]) -> str:
            return "| " + " | ".join(cell.ljust(widths[i]) for i, cell in enumerate(line)) + " |"

        out = [fmt(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
        out += [fmt(line) for line in table[1:]]
        out += [f"- {note}" for note in self.notes]
        return "\n".join(out)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def rate(events: int, seconds: float) -> str:
    return f"{events / seconds:,.0f} ev/s"


def ratio_text(value: float) -> str:
    return f"{value:.1f}×" if value >= 10 else f"{value:.2f}×"


# --------------------------------------------------------------------------- the benchmark


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.events: int = args.events
        self.runs: int = 1 if args.fast else args.runs
        self.heavy_runs: int = 1 if args.fast else args.heavy_runs
        self.data_dir = Path(args.data_dir).resolve()
        self.work = self.data_dir / "work"
        self.report = Report()
        self.auditctl = str(VENV_BIN / "auditctl")
        self.sqlite_utils = shutil.which("sqlite-utils", path=str(VENV_BIN)) or shutil.which("sqlite-utils")
        self.jq = shutil.which("jq")
        self.grep = shutil.which("grep")
        self.home = self.work / "home"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("AUDITCTL_")}
        # An installed package has compiled bytecode; let the interpreter keep it here
        # too, so start-up is measured as users see it (the warm-up run writes it).
        self.env.pop("PYTHONDONTWRITEBYTECODE", None)
        self.env.update(AUDITCTL_HOME=str(self.home), AUDITCTL_NOW=BENCH_NOW, NO_COLOR="1")
        self.now = datetime.fromisoformat(BENCH_NOW)

    # ------------------------------------------------------------------ data

    def data_file(self) -> Path:
        path = self.data_dir / f"events-{self.events}-s{self.args.seed}.jsonl"
        if not path.exists():
            print(f"generating {self.events:,} events into {path} (once; cached)…", file=sys.stderr, flush=True)
            self.data_dir.mkdir(parents=True, exist_ok=True)
            subprocess.run([sys.executable, str(ROOT / "bench" / "generate.py"), "--events", str(self.events),
                            "--seed", str(self.args.seed), "--now", BENCH_NOW, "-o", str(path)],
                           check=True, cwd=ROOT, env=self.env)
        return path

    def probe(self, path: Path) -> dict[str, str]:
        """Search terms taken from the data itself: a rare one and a common one."""
        emails: dict[str, int] = {}
        correlation = None
        with open(path, encoding="utf-8") as handle:
            for number, line in enumerate(handle):
                event = json.loads(line)
                email = event["actor"].get("email")
                if email:
                    emails[email] = emails.get(email, 0) + 1
                if number == self.events // 2 and correlation is None:
                    correlation = event["context"].get("correlation_id")
                if number > 20_000 and correlation is not None:
                    break
        common = max(sorted(emails), key=lambda e: emails[e])
        return {"rare": (correlation or "0000")[:13], "common": common}

    # ------------------------------------------------------------------ helpers

    def ac(self, *args: str) -> list[str]:
        return [self.auditctl, *args]

    def fresh(self, *paths: Path) -> Callable[[], None]:
        def remove() -> None:
            for path in paths:
                for suffix in ("", "-wal", "-shm", "-journal"):
                    Path(str(path) + suffix).unlink(missing_ok=True)
        return remove

    @staticmethod
    def size(path: Path) -> int:
        return sum(Path(str(path) + s).stat().st_size for s in ("", "-wal") if Path(str(path) + s).exists())

    # ------------------------------------------------------------------ rows

    def run(self) -> Report:
        started = time.perf_counter()
        data = self.data_file()
        shutil.rmtree(self.work, ignore_errors=True)
        self.work.mkdir(parents=True)
        self.home.mkdir()
        terms = self.probe(data)
        store = self.work / "audit.db"
        print(f"benchmark: {self.events:,} events, {self.runs} runs per quick row, {self.heavy_runs} per heavy row",
              file=sys.stderr, flush=True)
        # What pip does on a real install: without it (an editable install under
        # PYTHONDONTWRITEBYTECODE) every process would compile the modules it imports.
        subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "src")], check=True)
        self.startup_rows()
        import_rate = self.import_row(data, store)
        search_ms = self.search_rows(data, store, terms)
        self.export_row(store)
        self.purge_row(store)
        self.http_rows(data, import_rate, search_ms)
        if self.args.verify:
            sample = run_once(self.ac("verify", "--store", str(store)), env=self.env)
            self.report.notes.append(f"verify after purge: exit {sample.code} in {sample.wall:.1f} s")
            if sample.code != 0:
                raise RuntimeError(f"verify failed after the benchmark: {sample.stderr.strip()}")
        self.report.notes.append(
            f"{self.events:,} events ({data.stat().st_size / self.events:.0f} B/event as JSONL); "
            f"quick rows: median of {self.runs} (jq peers: {min(self.runs, 2)}); heavy rows (import, export): "
            f"median of {self.heavy_runs}, taking turns with the peer; "
            f"{os.cpu_count()} CPUs; benchmark wall time {time.perf_counter() - started:.0f} s"
        )
        if not self.args.keep:
            shutil.rmtree(self.work, ignore_errors=True)
        return self.report

    def startup_rows(self) -> None:
        empty = self.work / "empty.db"
        # An empty store, made the way a first write makes it.
        subprocess.run([sys.executable, "-c", ("import sys; from auditctl.store.sqlite import SQLiteStore;"
                        " SQLiteStore(sys.argv[1], create=True).close()"), str(empty)], check=True, env=self.env)
        runs = max(self.runs * 2, 1) if not self.args.fast else 1
        warm = self.ac("search", "--store", str(empty), "--limit", "1", "--format", "jsonl")
        run_once(warm, env=self.env)  # warms the page cache
        version = measure(self.ac("--version"), env=self.env, runs=runs)
        search = measure(warm, env=self.env, runs=runs)
        peer = measure([self.sqlite_utils, "--version"], env=self.env, runs=runs) if self.sqlite_utils else None
        for name, sample in (("`auditctl --version`", version), ("`search … --limit 1`, empty store", search)):
            if peer is None:
                self.report.add(Row(name, ms(sample.wall), "n/a (sqlite-utils missing)", "—",
                                    "≤ 120 ms, faster than peer", sample.wall <= 0.120))
                continue
            ratio = peer.wall / sample.wall
            self.report.add(Row(name, ms(sample.wall), f"{ms(peer.wall)} (`sqlite-utils --version`)",
                                ratio_text(ratio), "≤ 120 ms, faster than peer",
                                sample.wall <= 0.120 and ratio > 1))

    def import_row(self, data: Path, store: Path) -> float:
        ours_job = {"cmd": self.ac("import", str(data), "--store", str(store)), "before": self.fresh(store),
                    "timeout": 3600}
        name = f"import {self.events:,} events (JSONL), all indexes + search"
        if not self.sqlite_utils:
            ours = measure(env=self.env, runs=self.heavy_runs, **ours_job)
            self.report.add(Row(name, f"{rate(self.events, ours.wall)}, {ours.rss_mb:.0f} MB RSS",
                                "n/a (sqlite-utils missing)", "—", "> 1×, RSS < 200 MB", None))
            return self.events / ours.wall
        bare = self.work / "bare.db"
        peer_job = {"cmd": [self.sqlite_utils, "insert", str(bare), "events", str(data), "--nl"],
                    "before": self.fresh(bare), "timeout": 3600}
        # Each before() removes only its own file: the store our last run leaves is the
        # one the next rows search.
        ours, peer = measure_in_turns([ours_job, peer_job], env=self.env, runs=self.heavy_runs)
        ratio = peer.wall / ours.wall
        self.report.add(Row(name, f"{rate(self.events, ours.wall)}, {ours.rss_mb:.0f} MB RSS",
                            f"{rate(self.events, peer.wall)}, {peer.rss_mb:.0f} MB (`sqlite-utils insert --nl`)",
                            ratio_text(ratio), "> 1×, RSS < 200 MB", ratio > 1 and ours.rss_mb < 200))
        self.fresh(bare)()
        return self.events / ours.wall

    def search_rows(self, data: Path, store: Path, terms: dict[str, str]) -> float:
        cutoff = (self.now - timedelta(days=7)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        out = self.work / "out.jsonl"
        base = ["--store", str(store), "--format", "jsonl"]
        jq_filter = f'select(.action=="delete" and .timestamp >= "{cutoff}")'

        # 1. The headline filter, a page of 50.
        page = measure(self.ac("search", "--action", "delete", "--since", "7d", "--limit", "50", *base),
                       env=self.env, runs=self.runs, stdout_path=out)
        got = count_lines(out)
        name = "`search --action delete --since 7d --limit 50`"
        if self.jq:
            peer = measure(["bash", "-c", f"{self.jq} -c '{jq_filter}' {data} | head -50"], env=self.env,
                           runs=min(self.runs, 2), stdout_path=out)
            ratio = peer.wall / page.wall
            self.report.add(Row(name, ms(page.wall), f"{ms(peer.wall)} (`jq … ǀ head -50`)", ratio_text(ratio),
                                "≥ 20×, ≤ 250 ms", ratio >= 20 and page.wall <= 0.250 and got == 50))
        else:
            self.report.add(Row(name, ms(page.wall), "n/a (jq missing)", "—", "≥ 20×, ≤ 250 ms", page.wall <= 0.250))

        # 2. The same search, every match.
        every = measure(self.ac("search", "--action", "delete", "--since", "7d", *base), env=self.env,
                        runs=self.runs, stdout_path=out)
        matched = count_lines(out)
        name = f"the same, all matches ({matched:,} events)"
        if self.jq:
            peer = measure([self.jq, "-c", jq_filter, str(data)], env=self.env, runs=min(self.runs, 2),
                           stdout_path=out)
            peer_matched = count_lines(out)
            ratio = peer.wall / every.wall
            if peer_matched != matched:
                self.report.notes.append(f"all-matches row: auditctl found {matched}, jq {peer_matched}")
            self.report.add(Row(name, ms(every.wall), f"{ms(peer.wall)} (`jq`)", ratio_text(ratio), "≥ 10×",
                                ratio >= 10 and peer_matched == matched))
        else:
            self.report.add(Row(name, ms(every.wall), "n/a (jq missing)", "—", "≥ 10×", None))

        # 3. Free text: a rare term and a common one.
        for label, term in (("rare", terms["rare"]), ("common", terms["common"])):
            sample = measure(self.ac("search", term, "--limit", "50", *base), env=self.env, runs=self.runs,
                             stdout_path=out)
            found = count_lines(out)
            name = f"free text, {label} `{term}` (page of 50)"
            if self.grep:
                peer = measure(["bash", "-c", f"{self.grep} -i -F -- '{term}' {data} | head -50"], env=self.env,
                               runs=self.runs, stdout_path=out)
                ratio = peer.wall / sample.wall
                self.report.add(Row(name, f"{ms(sample.wall)} ({found} found)", f"{ms(peer.wall)} (`grep -i ǀ head -50`)",
                                    ratio_text(ratio), "≤ 300 ms", sample.wall <= 0.300 and found > 0))
            else:
                self.report.add(Row(name, ms(sample.wall), "n/a (grep missing)", "—", "≤ 300 ms",
                                    sample.wall <= 0.300))
        out.unlink(missing_ok=True)
        return page.wall

    def export_row(self, store: Path) -> None:
        out = self.work / "export.jsonl"
        ours_job = {"cmd": self.ac("export", "--format", "jsonl", "--store", str(store)), "stdout_path": out,
                    "timeout": 3600}
        target = "> 1×, RSS < 200 MB"
        if not self.sqlite_utils:
            ours = measure(env=self.env, runs=self.heavy_runs, **ours_job)
            exported = count_lines(out)
            self.report.add(Row(f"`export --format jsonl` of all {exported:,} events",
                                f"{rate(exported, ours.wall)}, {ours.rss_mb:.0f} MB RSS",
                                "n/a (sqlite-utils missing)", "—", target, ours.rss_mb < 200))
            out.unlink(missing_ok=True)
            return
        peer_job = {"cmd": [self.sqlite_utils, "query", str(store), "select * from events", "--nl"],
                    "stdout_path": out, "timeout": 3600}
        # The peer first in each round, so the file counted below is our last export.
        peer, ours = measure_in_turns([peer_job, ours_job], env=self.env, runs=self.heavy_runs)
        exported = count_lines(out)
        ratio = peer.wall / ours.wall
        self.report.add(Row(f"`export --format jsonl` of all {exported:,} events",
                            f"{rate(exported, ours.wall)}, {ours.rss_mb:.0f} MB RSS",
                            f"{rate(exported, peer.wall)}, {peer.rss_mb:.0f} MB (`sqlite-utils query --nl`)",
                            ratio_text(ratio), target, ratio > 1 and ours.rss_mb < 200))
        out.unlink(missing_ok=True)

    def purge_row(self, store: Path) -> None:
        before = self.size(store)
        # The data covers 30 days up to "now": older than 27 days is the oldest 10%.
        sample = run_once(self.ac("purge", "--older-than", "27d", "--yes", "--format", "json", "--store", str(store)),
                          env=self.env, stdout=subprocess.PIPE)
        if sample.code != 0:
            raise RuntimeError(f"purge exited {sample.code}: {sample.stderr.strip()}")
        after = self.size(store)
        self.report.add(Row(
            "`purge` of the oldest 10%", f"{sample.wall:.1f} s; file {before / 1e6:,.0f} → {after / 1e6:,.0f} MB",
            "—", "—", "≤ 10 s, file does not grow", sample.wall <= 10 and after <= before,
        ))

    # ------------------------------------------------------------------ HTTP

    def serve_available(self) -> bool:
        probe = run_once(self.ac("serve", "--help"), env=self.env, timeout=60)
        return probe.code == 0

    def http_rows(self, data: Path, local_rate: float, local_search: float) -> None:
        name_import = "HTTP: import in batches of 1,000"
        name_search = "HTTP: 8 concurrent clients searching"
        if not self.serve_available():
            self.report.add(Row(name_import, "n/a (server not available)", "—", "—", "≥ 50% of local", None))
            self.report.add(Row(name_search, "n/a (server not available)", "—", "—", "p95 ≤ 50 ms", None))
            return
        store = self.work / "http.db"
        count = min(self.args.http_events, self.events)
        created = run_once(self.ac("token", "create", "--role", "admin", "--store", str(store)),
                           env=self.env, stdout=subprocess.PIPE)
        token = self._token(created)
        port = free_port()
        server = subprocess.Popen(self.ac("serve", "--store", str(store), "--port", str(port)), env=self.env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
        try:
            wait_for(port)
            wall, sent = http_import(port, token, data, count, batch=1000)
            http_rate = sent / wall
            self.report.add(Row(f"HTTP: import {sent:,} events in batches of 1,000", rate(sent, wall),
                                f"{local_rate:,.0f} ev/s (local import)", f"{http_rate / local_rate:.0%} of local",
                                "≥ 50% of local", http_rate >= 0.5 * local_rate))
            latencies = http_search(port, token, clients=8, per_client=10 if self.args.fast else 50)
            p50 = statistics.median(latencies)
            p95 = statistics.quantiles(latencies, n=20)[18] if len(latencies) >= 20 else max(latencies)
            self.report.add(Row(name_search, f"p50 {ms(p50)}, p95 {ms(p95)}",
                                f"{ms(local_search)} (local search process)", "—", "p95 ≤ 50 ms", p95 <= 0.050))
        finally:
            server.terminate()
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()

    @staticmethod
    def _token(sample: Sample) -> str:
        if sample.code != 0:
            raise RuntimeError(f"token create exited {sample.code}: {sample.stderr.strip()}")
        match = re.search(r"actl_[A-Za-z0-9_\-]+", sample.stdout)
        if not match:
            raise RuntimeError("token create printed no actl_ token")
        return match.group(0)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"auditctl serve did not answer on port {port}")


def http_import(port: int, token: str, data: Path, count: int, batch: int) -> tuple[float, int]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/x-ndjson"}
    sent = 0
    started = time.perf_counter()
    with open(data, "rb") as handle:
        lines: list[bytes] = []
        for line in handle:
            lines.append(line)
            if len(lines) == batch or sent + len(lines) == count:
                conn.request("POST", "/v1/events", body=b"".join(lines), headers=headers)
                response = conn.getresponse()
                body = response.read()
                if response.status >= 300:
                    raise RuntimeError(f"POST /v1/events answered {response.status}: {body[:300]!r}")
                sent += len(lines)
                lines = []
                if sent >= count:
                    break
    return time.perf_counter() - started, sent


QUERIES = (
    "action=delete&since=7d&limit=50",
    "action=update&limit=50",
    "q=example.org&limit=50",
    "source=api&since=24h&limit=50",
)


def http_search(port: int, token: str, clients: int, per_client: int) -> list[float]:
    latencies: list[float] = []
    lock = threading.Lock()
    failures: list[str] = []

    def client(index: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        headers = {"Authorization": f"Bearer {token}"}
        mine = []
        for n in range(per_client):
            query = QUERIES[(index + n) % len(QUERIES)]
            start = time.perf_counter()
            conn.request("GET", f"/v1/events?{query}", headers=headers)
            response = conn.getresponse()
            response.read()
            mine.append(time.perf_counter() - start)
            if response.status != 200:
                failures.append(f"GET /v1/events?{query} answered {response.status}")
                return
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise RuntimeError(failures[0])
    return latencies


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="auditctl's benchmark against peers (see the top of bench/run.py).")
    parser.add_argument("--events", type=int, default=1_000_000, help="events to generate and import")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--runs", type=int, default=5, help="runs per quick row (median)")
    parser.add_argument("--heavy-runs", type=int, default=2,
                        help="rounds of the import and export rows, taking turns with the peer (median)")
    parser.add_argument("--http-events", type=int, default=100_000, help="events imported over HTTP")
    parser.add_argument("--fast", action="store_true", help="one run of everything (the smoke test)")
    parser.add_argument("--verify", action="store_true", help="run auditctl verify on the store at the end")
    parser.add_argument("--keep", action="store_true", help="keep the stores in DATA_DIR/work")
    parser.add_argument("--data-dir", default=str(ROOT / "bench" / "data"))
    args = parser.parse_args(argv)
    report = Bench(args).run()
    print(report.render())
    return 0


if __name__ == "__main__":
    sys.exit(main())
