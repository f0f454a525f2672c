"""What the read-only commands cost, as whole processes: ``status``, ``status --json``,
``status --watch`` (its first output on a terminal), ``check`` and, with ``--report``,
``report``, each beside a bare ``python -c "import optuna"`` started in the same round.

Every round runs each command once, in turn, so that a machine getting busier or quieter
weighs on all of them alike; a command's ratio is the median over the rounds of its time
over the ``import optuna`` of the same round. With ``--before SRC`` (another checkout's
``src``, e.g. the main branch) every command runs with that source too ("before") and with
this one ("after").

Usage (an airline study made once, e.g. ``seqtune launch examples/airline.yaml --trials 4
--max-epochs 8 --results /tmp/r`` then ``seqtune export /tmp/r/airline``)::

    nice -n 10 python benchmarks/readonly.py --study /tmp/r/airline --before ../main/src

Nothing here imports seqtune or TensorFlow: the processes measured do.
"""

from __future__ import annotations

import argparse
import os
import pty
import resource
import select
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def timed(argv: list[str], env: dict[str, str]) -> tuple[float, float, int]:
    """Wall and CPU seconds (user + system, of the child) of one whole process, and its
    exit code."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, done.returncode


def first_output(argv: list[str], env: dict[str, str]) -> tuple[float, float, int]:
    """Seconds until ``argv``, on a terminal, writes its first byte (then it is stopped
    with Ctrl-C if still running); CPU seconds of the whole process; its exit code."""
    leader, follower = pty.openpty()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, stdout=follower, stderr=subprocess.DEVNULL)
    os.close(follower)
    first = float("nan")
    try:
        ready, _, _ = select.select([leader], [], [], 600)
        if ready:
            first = time.perf_counter() - start
        proc.send_signal(signal.SIGINT)
        while select.select([leader], [], [], 0.1)[0]:  # drain, so it never blocks writing
            try:
                if not os.read(leader, 65536):
                    break
            except OSError:
                break
        code = proc.wait(timeout=600)
    finally:
        os.close(leader)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return first, cpu, code


def commands(args: argparse.Namespace, out: Path) -> list[tuple[str, str, list[str]]]:
    """(name, how it is timed, seqtune arguments) of every command measured."""
    study, spec = str(args.study), str(args.spec)
    found = [
        ("status", "run", ["status", study]),
        ("status --json", "run", ["status", study, "--json"]),
        ("status --watch (first output)", "first", ["status", study, "--watch", "2"]),
        ("check", "run", ["check", spec]),
    ]
    if args.report:
        found.append(("report", "run", ["report", study, "-o", str(out), "--force"]))
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--study", type=Path, default=ROOT / "results" / "airline")
    parser.add_argument("--spec", type=Path, default=ROOT / "examples" / "airline.yaml")
    parser.add_argument("--before", type=Path, help="another checkout's src, timed as well")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--report", action="store_true", help="time `report` too (slow)")
    args = parser.parse_args()
    sources = {"after": ROOT / "src"}
    if args.before is not None:
        sources = {"before": args.before.resolve(), **sources}
    py = sys.executable
    base_env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    times: dict[tuple[str, str], list[tuple[float, float, float, float]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        todo = commands(args, Path(tmp) / "report.html")
        for r in range(args.rounds):
            for name, how, argv in todo:
                for label, src in sources.items():
                    base_wall, base_cpu, _ = timed([py, "-c", "import optuna"], base_env)
                    env = {**base_env, "PYTHONPATH": str(src)}
                    measure = first_output if how == "first" else timed
                    wall, cpu, code = measure([py, "-m", "seqtune.cli", *argv], env)
                    if code not in (0, 130) and how == "run":
                        print(f"{label} {name}: exit {code}", file=sys.stderr)
                    times.setdefault((name, label), []).append((wall, cpu, base_wall, base_cpu))
            print(f"round {r + 1}/{args.rounds} done", file=sys.stderr, flush=True)
    load = os.getloadavg()[0]
    print(f"{args.rounds} rounds; {os.cpu_count()} cores, load {load:.1f} at the end")
    print(f"{'command':<32} {'code':<7} {'wall s':>8} {'CPU s':>7} {'wall/optuna':>12}")
    for (name, label), found in times.items():
        wall = statistics.median(w for w, _, _, _ in found)
        cpu = statistics.median(c for _, c, _, _ in found)
        ratio = statistics.median(w / b for w, _, b, _ in found)
        print(f"{name:<32} {label:<7} {wall:>8.2f} {cpu:>7.2f} {ratio:>11.1f}x")
    base = [b for found in times.values() for _, _, b, _ in found]
    bare = 'python -c "import optuna"'
    print(f"{bare:<40} {statistics.median(base):>8.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
