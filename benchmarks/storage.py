"""Benchmark 6 — storage: PostgreSQL against the journal file, for one study's workers.

Two measurements, from one run:

* trials per minute with 1 and 2 worker processes on one study, on each storage: the
  study of ``parallel.py`` (one fixed LSTM configuration, ``--epochs`` epochs, no pruning)
  is launched in a fresh journal file or a fresh PostgreSQL database, then N processes run
  it as ``seqtune worker`` does (heartbeats, retries and the constant liar included on the
  server); the rate runs from the first trial's start to the last trial's end, as the
  storage recorded them, so that importing TensorFlow does not count;
* the storage cost of one trial in milliseconds, without any training: what seqtune's
  trial loop asks of the storage for a trial of ``--epochs`` epochs (progress read, ask,
  parameters, attributes, one report per epoch, tell, the record read back), the median
  over ``--calls`` trials in a study that grows meanwhile.

The server is a throwaway PostgreSQL cluster on 127.0.0.1 (the tests' fixture, see
tests/conftest_pg.py) unless ``--url`` names a database to use (it must be empty).

    python benchmarks/storage.py [--trials 16] [--epochs 20] [--calls 40] [--url URL]
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import ROOT, machine, table
from parallel import fixed_spec_dict

os.environ.setdefault("SEQTUNE_HEARTBEAT", "20:120")


def worker(study_dir: Path, storage: str) -> None:
    """One worker process, as `seqtune worker` runs it (one TensorFlow thread)."""
    from seqtune.cli import _load_tensorflow

    _load_tensorflow()
    from seqtune.study.lifecycle import Study, prepare

    study = Study.open(study_dir, storage)
    _, runner = prepare(study.spec)
    study.run(runner, out=io.StringIO())
    study.close()


def trial_span(study_dir: Path, storage: str) -> float:
    from seqtune.study.lifecycle import Study

    study = Study.open(study_dir, storage)
    trials = study.backend.study.get_trials(deepcopy=False)  # type: ignore[attr-defined]
    study.close()
    start = min(t.datetime_start for t in trials if t.datetime_start)
    end = max(t.datetime_complete for t in trials if t.datetime_complete)
    return (end - start).total_seconds()


def throughput(storage: str, workers: int, trials: int, epochs: int, root: Path) -> float:
    """Trials per minute of one study with ``workers`` processes on ``storage``."""
    from seqtune.spec import Spec
    from seqtune.study.lifecycle import Study

    spec = Spec.from_dict(fixed_spec_dict(trials, epochs), ROOT)
    study, _ = Study.launch(spec, root, storage=storage)
    study.close()
    cmd = [sys.executable, __file__, "--worker", str(root / spec.study)]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "SEQTUNE_STORAGE": storage}
    procs = [subprocess.Popen(cmd, env=env, stderr=subprocess.DEVNULL) for _ in range(workers)]
    codes = [p.wait() for p in procs]
    if any(codes):
        raise SystemExit(f"a worker failed (exit codes {codes})")
    return trials / trial_span(root / spec.study, storage) * 60


def storage_cost(url: str, epochs: int, calls: int) -> float:
    """Median milliseconds of storage work for one trial of ``epochs`` epochs."""
    import optuna

    from seqtune.search.backends.optuna_backend import OptunaBackend, retrying
    from seqtune.spaces import suggest_optuna
    from seqtune.spec import Spec

    raw = fixed_spec_dict(calls, epochs)
    raw["study"] = "cost"
    raw["space"] = {
        "look_back": {"int": [1, 12]},
        "units": {"int": [8, 64], "step": 8},
        "learning_rate": {"float": [0.0003, 0.03], "log": True},
        "batch_size": {"choice": [8, 16, 32]},
    }
    spec = Spec.from_dict(raw, ROOT)
    with tempfile.TemporaryDirectory() as tmp:
        backend = OptunaBackend(Path(tmp), spec, url)
        backend.create()
        study = backend.study
        call = retrying if backend.server else (lambda fn, *a, **k: fn(*a, **k))
        times = []
        for n in range(calls):
            t0 = time.perf_counter()
            call(backend._progress)
            trial = call(study.ask)
            values = call(suggest_optuna, trial, spec.space)
            for key, value in (("params", values), ("seed", n), ("epochs", epochs)):
                call(trial.set_user_attr, key, value)
            for epoch in range(epochs):
                call(trial.report, 1.0 / (epoch + 1 + n), epoch)
            call(study.tell, trial, 1.0 / (n + 1))
            call(study._storage.get_trial, trial._trial_id)
            times.append(time.perf_counter() - t0)
        backend.close()
        del optuna
    return statistics.median(times) * 1000


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "--worker":
        from seqtune.cli import _quiet_libraries

        _quiet_libraries()
        worker(Path(argv[1]), os.environ["SEQTUNE_STORAGE"])
        return
    from seqtune.cli import _quiet_libraries

    _quiet_libraries()
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--trials", type=int, default=16, help="budget of each study")
    p.add_argument("--epochs", type=int, default=20, help="epochs of every trial")
    p.add_argument("--calls", type=int, default=40, help="trials for the storage cost")
    p.add_argument("--url", help="an empty PostgreSQL database (default: a throwaway one)")
    args = p.parse_args(argv)

    server = None
    if args.url is None:
        sys.path.insert(0, str(ROOT / "tests"))
        from conftest_pg import PgServer, postgres_bindir

        bindir = postgres_bindir()
        if bindir is None:
            raise SystemExit("PostgreSQL is not installed: give --url")
        server = PgServer(bindir, Path(tempfile.mkdtemp(prefix="seqtune-pg-")))
        server.init()
    count = 0

    def database() -> str:
        nonlocal count
        count += 1
        if server is not None:
            return server.create_database(f"bench{count}")
        assert args.url is not None
        return args.url

    print(f"# storage — {machine()}", flush=True)
    try:
        rates: dict[tuple[str, int], float] = {}
        for workers in (1, 2):
            for name in ("journal file", "PostgreSQL"):
                with tempfile.TemporaryDirectory() as tmp:
                    url = f"journal:{tmp}/optuna.journal" if name == "journal file" else database()
                    rates[name, workers] = throughput(
                        url, workers, args.trials, args.epochs, Path(tmp)
                    )
                print(f"  {name}, {workers} worker(s): done", flush=True)
        with tempfile.TemporaryDirectory() as tmp:
            journal = f"journal:{tmp}/cost.journal"
            costs = {
                "journal file": storage_cost(journal, args.epochs, args.calls),
                "PostgreSQL": storage_cost(database(), args.epochs, args.calls),
            }
    finally:
        if server is not None:
            server.stop()
            shutil.rmtree(server.root, ignore_errors=True)
    rows = []
    for name in ("journal file", "PostgreSQL"):
        one, two = rates[name, 1], rates[name, 2]
        rows.append([name, one, two, two / one, costs[name]])
    print(
        f"\n{args.trials} trials of {args.epochs} epochs per study (one run); trials per minute "
        "from the first trial's start to the last trial's end; storage ms: median storage work "
        f"of one {args.epochs}-epoch trial over {args.calls} trials, no training\n"
    )
    header = ["storage", "1 worker/min", "2 workers/min", "ratio 2/1", "storage ms/trial"]
    print(table(header, rows))
    pg1, j1 = rates["PostgreSQL", 1], rates["journal file", 1]
    pg2, j2 = rates["PostgreSQL", 2], rates["journal file", 2]
    print(f"\nPostgreSQL / journal file: {pg1 / j1:.2f}x with 1 worker, {pg2 / j2:.2f}x with 2")


if __name__ == "__main__":
    main()
