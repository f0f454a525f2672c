"""The ``seqtune`` command: init, launch, resume, status, export, report, plot, train, datasets.

Exit codes: 0 done; 1 failed at run time (disk full, a storage that went away, a worker
that failed, an internal error) — one line on stderr, what finished is kept and ``resume``
continues; 2 bad input (one line on stderr naming the field or file, nothing written); 130
stopped by SIGINT (Ctrl-C), 143 by SIGTERM — the running trial is recorded as interrupted
and the study can be resumed.
"""

from __future__ import annotations

import argparse
import errno
import json
import os
import sys
from pathlib import Path
from typing import Any

from seqtune import __version__
from seqtune.errors import UserError, exception_chain
from seqtune.quiet import load_tensorflow as _load_tensorflow
from seqtune.quiet import quiet_libraries as _quiet_libraries
from seqtune.store.files import EXPORT_LOCK_FILE, META_FILE

EXIT_RUNTIME, EXIT_USAGE = 1, 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # argparse's usage errors: one line, exit 2
        self.exit(EXIT_USAGE, f"{self.prog}: {message}\n")


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not 0.1 <= value <= 3600:
        raise argparse.ArgumentTypeError(f"must be between 0.1 and 3600, got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="seqtune",
        description=(
            "Hyperparameter search for Keras sequence models on time series: init a spec for "
            "your own CSV, check it, launch and resume a study, watch its status, export the "
            "best model, predict, train, report and plot; worker and datasets for many "
            "machines and the shipped data; schema for editors. `seqtune COMMAND --help` for "
            "each."
        ),
    )
    p.add_argument("--version", action="version", version=f"seqtune {__version__}")
    sub = p.add_subparsers(dest="verb", required=True, parser_class=_Parser)
    _add_launch(sub)
    _add_resume(sub)
    _add_worker(sub)
    _add_status(sub)
    _add_export(sub)
    _add_check(sub)
    _add_train(sub)
    _add_predict(sub)
    _add_report(sub)
    _add_plot(sub)
    _add_datasets(sub)
    _add_init(sub)
    sub.add_parser("schema", help="print the spec's JSON Schema (editor completion of spec keys)")
    for command in sub.choices.values():  # every command takes -q and -v
        loudness = command.add_mutually_exclusive_group()
        loudness.add_argument(
            "-q",
            "--quiet",
            action="store_true",
            help="no progress or notes on stderr: only the result, warnings and errors",
        )
        loudness.add_argument(
            "-v",
            "--verbose",
            action="store_true",
            help="leave TensorFlow's and Optuna's own log lines and warnings in",
        )
    return p


def _add_launch(sub: Any) -> None:
    """The ``launch`` command's arguments."""
    launch = sub.add_parser("launch", help="start a study from a spec file")
    launch.add_argument("spec", type=Path, help="the study spec (YAML)")
    launch.add_argument("--backend", choices=("tpe", "random", "hyperband"))
    launch.add_argument("--trials", type=_positive, help="total trial budget")
    launch.add_argument("--max-epochs", type=_positive, help="epochs per trial at most")
    launch.add_argument(
        "--results", type=Path, default=Path("results"), help="results root (default: ./results)"
    )
    launch.add_argument("--study", help="study name (default: the spec's `study`)")
    launch.add_argument(
        "--storage", help="Optuna storage URL (default: SQLite in the study folder)"
    )
    launch.add_argument(
        "--workers",
        type=_positive,
        default=1,
        help="worker processes on this machine, one study (tpe/random; default 1)",
    )
    _json_option(launch, "at the end, the study's status (as `status --json`) on stdout")


def _add_resume(sub: Any) -> None:
    """The ``resume`` command's arguments."""
    resume = sub.add_parser("resume", help="continue a stopped study to its total budget")
    resume.add_argument("study_dir", type=Path)
    resume.add_argument("--trials", type=_positive, help="raise (or set) the total budget")
    resume.add_argument("--storage", help="storage URL, if the study was launched with one")
    resume.add_argument("--workers", type=_positive, default=1, help="worker processes")
    _json_option(resume, "at the end, the study's status (as `status --json`) on stdout")


def _add_worker(sub: Any) -> None:
    """The ``worker`` command's arguments."""
    worker = sub.add_parser(
        "worker", help="run trials of a study on a database server, from any machine"
    )
    # STUDY_DIR: started by launch/resume --workers on the study's machine
    worker.add_argument("study_dir", type=Path, nargs="?")
    _remote_options(worker)
    worker.add_argument(
        "--wait",
        type=float,
        default=60.0,
        help="seconds to wait for an unreachable server at start (default 60)",
    )
    # started by launch before the study exists: load TensorFlow meanwhile, then wait for
    # the launching process (this pid) to create the study
    worker.add_argument("--launched-by", type=int, help=argparse.SUPPRESS)  # internal


def _add_status(sub: Any) -> None:
    """The ``status`` command's arguments."""
    status = sub.add_parser("status", help="trials table and best trial")
    status.add_argument("study_dir", type=Path, nargs="?")
    status.add_argument("--json", action="store_true", help="one JSON object on stdout")
    _remote_options(status)
    status.add_argument(
        "--watch",
        nargs="?",
        const=2.0,
        type=_seconds,
        metavar="SECONDS",
        help="refresh the table every SECONDS (default 2) until the study ends or Ctrl-C",
    )


def _add_export(sub: Any) -> None:
    """The ``export`` command's arguments."""
    export = sub.add_parser("export", help="write best.yaml and best.keras")
    export.add_argument("study_dir", type=Path, nargs="?")
    export.add_argument(
        "-o", "--output", type=Path, help="spec file to write (default STUDY/best.yaml)"
    )
    _force_option(export)
    _remote_options(export)
    _mlflow_options(export)
    _json_option(export, "one JSON object on stdout: the files written and best.yaml's result")


def _mlflow_options(p: argparse.ArgumentParser) -> None:
    """``export --mlflow URI``: the study's trials and the exported model logged to MLflow
    (seqtune.integrations.mlflow; needs ``pip install 'seqtune[mlflow]'``)."""
    p.add_argument(
        "--mlflow",
        metavar="URI",
        help="also log the study's trials and the exported model to this MLflow tracking "
        "URI (sqlite:///mlflow.db, http://host:5000; trials already logged are skipped)",
    )
    p.add_argument(
        "--mlflow-experiment", metavar="NAME", help="MLflow experiment (default: the study's name)"
    )


def _check_mlflow(args: argparse.Namespace) -> None:
    """``--mlflow`` refused before anything is written: MLflow missing, or no study folder."""
    if not getattr(args, "mlflow", None):
        return
    from seqtune.integrations.mlflow import check_tracking_uri, require_mlflow

    require_mlflow()
    if args.study_dir is None:
        raise UserError("logs a study folder's trials: give STUDY_DIR", "--mlflow")
    check_tracking_uri(args.mlflow)


def _log_mlflow(
    args: argparse.Namespace, study_dir: Path, out_yaml: Path, quiet: bool = False
) -> tuple[str, str] | None:
    """After ``export --mlflow``: the trials and the model logged; the run and model URI
    (printed unless ``quiet``). None without ``--mlflow``."""
    if not getattr(args, "mlflow", None):
        return None
    from seqtune.api import load_study
    from seqtune.integrations.mlflow import log_forecaster, log_study

    where = {"tracking_uri": args.mlflow, "experiment": args.mlflow_experiment}
    try:
        run = log_study(load_study(study_dir, storage=args.storage), **where)
        uri = log_forecaster(out_yaml, **where)
    except UserError as err:
        raise UserError(f"{err} (the export is written; `export --mlflow` again logs it)") from None
    if not quiet:
        print(f"mlflow: study run {run}, model {uri}")
    return run, uri


def _add_check(sub: Any) -> None:
    """The ``check`` command's arguments."""
    check = sub.add_parser(
        "check", help="check a spec against its data; rows and windows of every part and fold"
    )
    check.add_argument("spec", type=Path, help="the study spec (YAML)")
    check.add_argument("--json", action="store_true", help="one JSON object on stdout")


def _add_train(sub: Any) -> None:
    """The ``train`` command's arguments."""
    train = sub.add_parser("train", help="refit a spec whose parameters are all fixed")
    train.add_argument("spec", type=Path)
    train.add_argument("-o", "--output", type=Path, help="save the model here (.keras)")
    _force_option(train)
    train.add_argument("--json", action="store_true", help="one JSON object on stdout")


def _add_predict(sub: Any) -> None:
    """The ``predict`` command's arguments."""
    predict = sub.add_parser(
        "predict", help="forecast the horizon after the data's last row with an exported model"
    )
    predict.add_argument("spec", type=Path, help="an exported best.yaml (or its study folder)")
    predict.add_argument(
        "--csv", type=Path, help="a newer CSV with the same columns: forecast after its last row"
    )
    predict.add_argument(
        "-o", "--output", type=Path, help="CSV file to write (default: print to stdout)"
    )
    predict.add_argument(
        "--level",
        type=float,
        nargs="+",
        metavar="PCT",
        help="add lower_PCT/upper_PCT columns: prediction intervals at these levels (e.g. 80 95)",
    )
    _force_option(predict)
    _json_option(predict, "one JSON object on stdout: the forecast's rows (also with -o)")


def _add_report(sub: Any) -> None:
    """The ``report`` command's arguments."""
    report = sub.add_parser("report", help="one self-contained HTML page about a study")
    report.add_argument("study_dir", type=Path)
    report.add_argument(
        "-o", "--output", type=Path, help="HTML file to write (default STUDY/report.html)"
    )
    _force_option(report)
    report.add_argument("--storage", help="storage URL, if the study was launched with one")


def _add_plot(sub: Any) -> None:
    """The ``plot`` command's arguments."""
    plot = sub.add_parser("plot", help="one figure of the report as PNG")
    plot.add_argument("study_dir", type=Path)
    plot.add_argument(
        "--what", required=True, choices=("history", "importance", "forecast", "curves")
    )
    plot.add_argument("-o", "--output", type=Path, required=True, help="PNG file to write")
    _force_option(plot)
    plot.add_argument("--storage", help="storage URL, if the study was launched with one")


def _add_datasets(sub: Any) -> None:
    """The ``datasets`` command's arguments."""
    ds = sub.add_parser("datasets", help="write a shipped data set generator's output")
    ds.add_argument("name", choices=("drone-deauth",))
    ds.add_argument("-o", "--output", type=Path, required=True)
    _force_option(ds)
    ds.add_argument("--rows", type=_positive, default=22000)
    ds.add_argument("--seed", type=int, default=0)


def _add_init(sub: Any) -> None:
    """The ``init`` command's arguments."""
    init = sub.add_parser(
        "init", help="write a first spec for a CSV of your own, sized from its rows and period"
    )
    init.add_argument("csv", type=Path, help="the data file (CSV, or Parquet by extension)")
    init.add_argument("--target", required=True, help="the column to forecast or classify")
    init.add_argument("--time", help="the time column (default: one named or looking like it)")
    init.add_argument("--horizon", type=_positive, help="steps to forecast at once (default 1)")
    init.add_argument("--task", choices=("forecast", "classify"), default="forecast")
    init.add_argument(
        "-o", "--out", type=Path, help="the spec file to write (default: ./STUDY.yaml)"
    )
    _force_option(init)
    _json_option(init, "one JSON object on stdout: the file written and every decision")


#: the spec fields whose mistakes ``init`` names by the flag (or argument) the user typed
INIT_FLAGS = {"data.target": "--target", "data.time": "--time", "data.csv": "CSV"}


def _init(args: argparse.Namespace) -> int:
    """Decide a spec for the data file (seqtune.recipe), write it, say what and why."""
    from seqtune.recipe import make_recipe, study_name, write_recipe
    from seqtune.store.outputs import check_output

    out = args.out if args.out is not None else Path(f"{study_name(args.csv)}.yaml")
    check_output(out, force=args.force, suffixes=(".yaml", ".yml"), reads=[args.csv], flag="--out")
    try:
        recipe = make_recipe(
            args.csv,
            args.target,
            time=args.time,
            horizon=args.horizon,
            task=args.task,
            spec_dir=out.absolute().parent,
        )
    except UserError as err:
        # the user typed CSV/--target/--time, not a spec's data.csv/data.target/data.time
        flag = INIT_FLAGS.get(err.field or "")
        if flag is None:
            raise
        raise UserError(err.message, flag) from None
    write_recipe(recipe, out, force=args.force, reads=(args.csv,))
    if args.json:
        print(json.dumps({"spec": str(out), **recipe.to_dict()}, indent=2, default=str))
        return 0
    if not args.quiet:
        for reason in recipe.reasons:
            print(f"  {reason}")
    print(f"wrote {out} (study {recipe.study}, {recipe.task} of '{recipe.target}')")
    if not args.quiet:
        print(f"next: seqtune check {out}   (then: seqtune launch {out})")
    return 0


def _json_option(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument("--json", action="store_true", help=what)


def _force_option(p: argparse.ArgumentParser) -> None:
    """``--force``: every command with ``-o`` takes it (see seqtune.store.outputs)."""
    p.add_argument("--force", action="store_true", help="replace an existing output file (see -o)")


def _remote_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--storage",
        help="storage URL (default for a study given by --study: $SEQTUNE_STORAGE, which "
        "keeps a password out of the process list)",
    )
    p.add_argument("--study", help="the study's name on a database server (no STUDY_DIR)")
    p.add_argument("--data", type=Path, help="this machine's copy of the study's data file")
    p.add_argument(
        "--artifacts", type=Path, help="Optuna artifact store folder for trial checkpoints"
    )


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.verbose:  # the libraries' own warnings and log lines, as they print them
        import seqtune.quiet

        seqtune.quiet.VERBOSE = True
    else:
        _quiet_libraries()
    try:
        if getattr(args, "storage", None):  # a SQLite path made absolute, :memory: refused
            from seqtune.store.server import normalize_storage

            args.storage = normalize_storage(args.storage)
        return int(_dispatch(args) or 0)
    except UserError as err:
        print(f"seqtune {args.verb}: {err}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt as stop:  # SIGTERM too, as Interrupted: 128 + its number
        print(f"seqtune {args.verb}: interrupted", file=sys.stderr)
        return 128 + int(getattr(stop, "signum", 2))
    except BrokenPipeError:  # `seqtune status | head`: the reader left, as any Unix tool
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # Python's flush at exit would fail again
        return 128 + 13  # SIGPIPE
    except Exception as exc:  # never a traceback: one line, and the way to get the rest
        if os.environ.get("SEQTUNE_DEBUG"):
            raise
        print(f"seqtune {args.verb}: {runtime_failure(exc, args)}", file=sys.stderr)
        return EXIT_RUNTIME


def runtime_failure(exc: BaseException, args: argparse.Namespace) -> str:
    """The one line for a failure after the input was accepted."""
    study = getattr(args, "study_dir", None)
    resume = f"; then `seqtune resume {study}` continues" if study else ""
    for cause in exception_chain(exc):
        if isinstance(cause, OSError) and cause.errno in (errno.ENOSPC, errno.EDQUOT):
            where = f" (writing {cause.filename})" if cause.filename else ""
            return f"no space left on the device{where}: what finished is kept; free space" + (
                resume or " and resume the study"
            )
        if "database or disk is full" in str(cause):
            return "no space left for the study's database: what finished is kept; free space" + (
                resume or " and resume the study"
            )
        if type(cause).__name__ == "StorageLost":
            return f"{cause}" + (resume or "; start the workers again once it is back")
        if isinstance(cause, MemoryError):
            return "out of memory outside a trial: what finished is kept" + resume
    first = (str(exc).strip().splitlines() or [""])[0][:300]
    return (
        f"failed: {type(exc).__name__}: {first} (what finished is kept; "
        "SEQTUNE_DEBUG=1 shows the traceback)"
    )


def _dispatch(args: argparse.Namespace) -> int:
    verb = args.verb
    if verb == "datasets":
        from seqtune.datasets import write_drone_deauth
        from seqtune.datasets.drone import DRONE_DEAUTH_COLUMNS
        from seqtune.store.outputs import check_output, starts_with

        header = ",".join(DRONE_DEAUTH_COLUMNS).encode()
        if not args.output.is_dir():  # a folder is refused by the writer, naming it
            check_output(args.output, force=args.force, own=lambda p: starts_with(p, header))
        path = write_drone_deauth(args.output, n_rows=args.rows, seed=args.seed)
        print(f"wrote {path} ({args.rows} rows, seed {args.seed})")
        return 0
    if verb == "schema":
        from seqtune.schema import shipped_schema_text

        sys.stdout.write(shipped_schema_text())
        return 0
    if verb == "launch":
        return _launch(args)
    if verb == "resume":
        return _resume(args)
    if verb == "worker":
        return _worker(args)
    if verb == "status":
        return _status(args)
    if verb == "export":
        return _export(args)
    if verb == "report":
        return _report(args)
    if verb == "plot":
        return _plot(args)
    if verb == "predict":
        return _predict(args)
    if verb == "check":
        return _check(args)
    if verb == "init":
        return _init(args)
    return _train(args)


def _spec(path: Path) -> Any:
    from seqtune.spec import Spec

    return Spec.from_file(path)


def _say(text: str) -> None:
    print(text, file=sys.stderr)


def _told(args: argparse.Namespace) -> dict[str, Any]:
    """Where a run's messages and progress lines go: stderr, or nowhere with ``-q``."""
    if args.quiet:
        import io

        return {"say": lambda _: None, "out": io.StringIO()}
    return {"say": _say}


def _launch(args: argparse.Namespace) -> int:
    from seqtune.spec import Overrides, validate_with_data

    overrides = Overrides(args.backend, args.trials, args.max_epochs, args.study)
    spec = overrides.apply(_spec(args.spec))
    table = validate_with_data(spec)  # every input mistake is refused here, before TensorFlow loads
    from seqtune.checks import refuse_data_problems

    refuse_data_problems(spec, table)  # e.g. a class no training window holds: before any folder
    from seqtune.study import running

    storage = running.check_launch(spec, args.results, args.storage, args.workers)
    from seqtune.search.signals import signals_as_interrupt

    with signals_as_interrupt():  # a stop request from here on ends in exit 143, cleanly
        code, _ = running.launch(
            spec,
            overrides,
            args.results,
            storage,
            workers=args.workers,
            worker_storage=args.storage,
            done=_finished(args),
            **_told(args),
        )
    return code


def _finished(args: argparse.Namespace) -> Any:
    """What launch and resume print at the end: the best trial and what to do next, or
    with ``--json`` the study's status as ``status --json`` prints it."""

    def done(study: Any) -> None:
        if getattr(args, "json", False):
            print(json.dumps(study.status(), indent=2, default=str))
            return
        _print_best(study.status())
        if study.path is not None and not args.quiet:
            print(f"next: seqtune export {study.path}   (then: seqtune report {study.path})")

    return done


def _resume(args: argparse.Namespace) -> int:
    from seqtune.search.signals import signals_as_interrupt
    from seqtune.study import running

    with signals_as_interrupt():  # a stop request from here on ends in exit 143, cleanly
        return running.resume(
            args.study_dir,
            args.storage,
            args.trials,
            workers=args.workers,
            done=_finished(args),
            **_told(args),
        )


def _worker(args: argparse.Namespace) -> int:
    """One more process running trials: of a study folder (started by --workers), or of
    a study on a database server joined by URL and name (``--storage URL --study NAME``)."""
    remote = _remote_request(args)
    if remote is not None:  # before TensorFlow loads: a wrong URL is refused at once
        _probe_waiting(remote, args)
    _load_tensorflow()  # first: seqtune.search imports TensorFlow, whose start-up chatter
    from seqtune.search.signals import Interrupted  # only _load_tensorflow keeps quiet
    from seqtune.study.lifecycle import Study

    if remote is None:
        if args.launched_by is not None and not _wait_for_launch(args.study_dir, args.launched_by):
            return 0  # the launch failed and said why; nothing to do
        lock = None
        if not _holds_inherited_lock(args.study_dir):
            # started by hand: the study's owner, as launch and resume are (a resume beside
            # it would take its running trial for a dead process's)
            from seqtune.store.lock import StudyLock

            Study.open(args.study_dir, args.storage).close()  # not a study: say so first
            lock = StudyLock.acquire(args.study_dir, "seqtune worker")
        study = Study.open(args.study_dir, args.storage or os.environ.get("SEQTUNE_STORAGE"))
        study.lock = lock
    else:
        study = _open_remote_waiting(remote, args)
        print(
            f"worker on {study.where}: {study.backend.finished()}/"
            f"{study.backend.budget()} trials finished",
            file=sys.stderr,
        )
    try:
        _, runner = study.prepare()  # refuses data that changed since the launch
        study.run(runner, out=_told(args).get("out"))
        if remote is not None:
            _print_best(study.status())
    except Interrupted as stop:
        return 128 + stop.signum
    finally:
        study.close()
    return 0


def _holds_inherited_lock(study_dir: Path) -> bool:
    """Whether this process inherited the study's locked descriptor from the launch or
    resume that started it (the descriptor is the study folder's own lock file)."""
    from seqtune.store.files import LOCK_FILE
    from seqtune.study.running import INHERITED_LOCK

    try:
        fd = int(os.environ.get(INHERITED_LOCK, ""))
        mine, theirs = os.fstat(fd), os.stat(Path(study_dir) / LOCK_FILE)
    except (ValueError, OSError):
        return False
    return (mine.st_dev, mine.st_ino) == (theirs.st_dev, theirs.st_ino)


def _remote_request(args: argparse.Namespace) -> str | None:
    """The storage URL of a study named by --study (no folder), or None for a folder."""
    if args.study_dir is not None:
        if args.study is not None:
            raise UserError("give a study folder or --study NAME, not both", "--study")
        return None
    if args.study is None:
        raise UserError("give the study folder, or --storage URL --study NAME", args.verb)
    url = args.storage or os.environ.get("SEQTUNE_STORAGE")
    if not url:
        raise UserError(
            "a study given by name needs --storage URL (or $SEQTUNE_STORAGE)", "--study"
        )
    return str(url)


def _probe_waiting(url: str, args: argparse.Namespace) -> None:
    """Check the server and the study name; a worker started before its server waits for
    it (up to --wait seconds, one line saying so), then gives up in one line."""
    from seqtune.store.server import probe_server

    return _waiting_for_server(lambda: probe_server(url, args.study), args, 1.0)


def _open_remote_waiting(url: str, args: argparse.Namespace) -> Any:
    """Join a study on a server; a worker started before its server waits for it (up to
    --wait seconds, one line saying so), then gives up in one line."""
    from seqtune.study.lifecycle import open_remote

    return _waiting_for_server(
        lambda: open_remote(url, args.study, args.data, args.artifacts), args, 2.0
    )


def _waiting_for_server(call: Any, args: argparse.Namespace, interval: float) -> Any:
    """``call()``, retried every ``interval`` s while the server is unreachable, for up to
    --wait seconds (one line saying so), then its one-line error."""
    import time

    deadline = time.monotonic() + max(0.0, getattr(args, "wait", 0.0) or 0.0)
    said = False
    while True:
        try:
            return call()
        except UserError as err:
            if "unreachable" not in str(err) or time.monotonic() >= deadline:
                raise
            if not said:
                print(
                    f"seqtune {args.verb}: {err}; waiting up to "
                    f"{deadline - time.monotonic():.0f} s",
                    file=sys.stderr,
                    flush=True,
                )
                said = True
            time.sleep(interval)


def _open_any(args: argparse.Namespace) -> Any:
    from seqtune.study.lifecycle import Study

    remote = _remote_request(args)
    if remote is not None:
        return _open_remote_waiting(remote, args)
    return Study.open(args.study_dir, args.storage)


def _probe_remote(args: argparse.Namespace) -> None:
    """status/export of a study given by name: the server and the name are checked
    before TensorFlow loads."""
    from seqtune.store.server import probe_server

    remote = _remote_request(args)
    if remote is not None:
        probe_server(remote, args.study)


def _wait_for_launch(study_dir: Path, parent: int) -> bool:
    """Wait until the launching process has created the study; False if it died first."""
    import time

    while not (study_dir / META_FILE).exists():
        try:
            os.kill(parent, 0)
        except OSError:
            return False
        time.sleep(0.05)
    return True


def _shown(value: Any) -> str:
    """A parameter as a table prints it: floats to 4 significant digits (the stored value,
    in trials.csv, best.yaml and --json, keeps every digit)."""
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _print_best(status: dict[str, Any]) -> None:
    best = status["best"]
    if best is None:
        print("no complete trial")
        return
    obj = status["objective"]
    print(f"best trial {best['number']}: {obj['name']} = {best['value']:.6g} ({obj['direction']})")
    for key, value in best["params"].items():
        print(f"  {key}: {value}")


def _status(args: argparse.Namespace) -> int:
    _probe_remote(args)
    if _reads_keras_tuner(args):  # a hyperband study's state is keras-tuner's own
        if args.watch is not None and sys.stdout.isatty():  # something at once
            print("reading a hyperband study: keras-tuner loads TensorFlow first…", flush=True)
        _load_tensorflow()
    if args.watch is not None:
        if args.json:
            raise UserError("--watch shows the table; leave out --json", "--watch")
        return _watch(args)
    status = _read_status(args)
    if args.json:
        print(json.dumps(status, indent=2, default=str))
        return 0
    print(format_status(status))
    return 0


def _reads_keras_tuner(args: argparse.Namespace) -> bool:
    """Whether opening the study imports keras-tuner (and so TensorFlow): a hyperband study
    folder. A study of any other backend is read without TensorFlow; a folder whose
    ``study.json`` cannot be read is refused by :func:`_open_any`, naming it."""
    if getattr(args, "study_dir", None) is None:
        return False
    try:
        meta = json.loads((Path(args.study_dir) / META_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(meta, dict) and meta.get("backend") == "hyperband"


def _needs_keras(args: argparse.Namespace, model: bool) -> bool:
    """Whether ``report``/``plot`` of a study folder loads Keras: a hyperband study's state,
    or (``model``) the exported ``best.keras`` evaluated on the test part. Without them
    the page or figure is drawn without TensorFlow."""
    return _reads_keras_tuner(args) or (model and (Path(args.study_dir) / "best.keras").is_file())


def _read_status(args: argparse.Namespace, baselines: bool = True) -> dict[str, Any]:
    """The study's status; with ``baselines``, scored beside its best trial (the first
    time for a trial this fits them, which can take seconds)."""
    from seqtune.store.lock import holder

    if args.study_dir is not None and args.study is None and args.storage is None:
        from seqtune.study.reading import quick_status

        # the folder's own files, without Optuna, pandas or TensorFlow, when they suffice
        found = quick_status(args.study_dir, baselines)
        if found is not None:
            found["running_by"] = holder(Path(found["path"]))
            return found
    from seqtune.study.baselines import status_baselines
    from seqtune.study.reading import keep_status_baselines

    study = _open_any(args)
    try:
        status = study.status()
        if baselines:
            # the validation-side baselines with the best trial's framing (never the test part)
            status["baselines"] = status_baselines(study, status["best"])
            keep_status_baselines(study, status["best"], status["baselines"])  # for the next
    finally:
        study.close()
    # "pid N (seqtune launch)" while it runs
    status["running_by"] = holder(study.path) if study.path is not None else None
    return status


def _watch(args: argparse.Namespace) -> int:
    """The status table, redrawn every ``--watch`` seconds until the study has met its
    budget and no process runs it, or Ctrl-C (which ends the watch, not the study: one
    line says so). On a terminal the trials are drawn at once, before the baselines are
    scored (the first time for a trial that fits them, seconds on a long series)."""
    import time

    terminal = sys.stdout.isatty()
    clear = "\x1b[H\x1b[2J" if terminal else ""
    try:
        if terminal:  # the first frame before any slow work; redrawn in place below
            first = _read_status(args, baselines=False)
            print(f"{clear}{format_status(first)}\nbaselines: being scored…", flush=True)
        while True:
            status = _read_status(args)
            stamp = time.strftime("%H:%M:%S")
            running = status["running_by"] or "no process"
            print(f"{clear}{format_status(status)}\n\n{stamp} · run by {running}", flush=True)
            if status["finished"] >= status["budget"] and status["running_by"] is None:
                return 0
            if status["running_by"] is None and not status["trials"].get("running"):
                print("the study is not running: `seqtune resume` continues it", flush=True)
                return 0
            time.sleep(args.watch)
    except KeyboardInterrupt:  # after the terminal's ^C: one line, the study runs on
        print(
            f"{chr(10) if terminal else ''}seqtune status: stopped watching "
            "(the study itself was not stopped)",
            file=sys.stderr,
        )
        return 0


def format_status(status: dict[str, Any]) -> str:
    obj = status["objective"]
    lines = [
        f"study {status['study']} · backend {status['backend']} · "
        f"{obj['name']} ({obj['direction']}) · {status['finished']}/{status['budget']} finished",
        "  ".join(f"{k} {v}" for k, v in status["trials"].items()),
        "",
        f"{'trial':>5}  {'state':<11} {obj['name']:>12} {'epochs':>6} {'seconds':>8}  params",
    ]
    for r in status["trial_records"]:
        value = "" if r["value"] is None else f"{r['value']:.6g}"
        secs = "" if r["seconds"] is None else f"{r['seconds']:.1f}"
        params = ", ".join(f"{k}={_shown(v)}" for k, v in r["params"].items())
        extra = f"  [{r['reason']}]" if r["reason"] and r["state"] != "complete" else ""
        lines.append(
            f"{r['number']:>5}  {r['state']:<11} {value:>12} {r['epochs'] or '':>6} "
            f"{secs:>8}  {params}{extra}"
        )
    best = status["best"]
    lines.append("")
    if best is None:
        lines.append("best: none yet")
    else:
        lines.append(
            f"best: trial {best['number']}, {obj['name']} = {best['value']:.6g}"
            + _over_folds(status, best["number"])
        )
        lines.extend(_by_step(status, best["number"]))
    if "baselines" in status:
        from seqtune.study.baselines import format_baselines

        lines.extend(format_baselines(status["baselines"]))
    return "\n".join(lines)


def _over_folds(status: dict[str, Any], number: int) -> str:
    """`` ± sd over K folds (f0, f1, ...)`` for a trial scored on rolling-origin folds."""
    name = status["objective"]["name"]
    record = next((r for r in status["trial_records"] if r["number"] == number), None)
    metrics = (record or {}).get("metrics") or {}
    folds = [v for k, v in metrics.items() if k.startswith(f"{name}_fold")]
    if not folds or f"{name}_sd" not in metrics:
        return ""
    each = ", ".join(f"{v:.4g}" for v in folds)
    return f" ± {metrics[name + '_sd']:.3g} over {len(folds)} folds ({each})"


def _by_step(status: dict[str, Any], number: int) -> list[str]:
    """``val_rmse by step (h = 1..H): …``, one line, for a trial forecasting H > 1 steps:
    the objective's per-step values when it has them, else val_rmse's."""
    from seqtune.objectives import BY_STEP, by_step_values

    record = next((r for r in status["trial_records"] if r["number"] == number), None)
    metrics = (record or {}).get("metrics") or {}
    name = status["objective"]["name"]
    name = name if name in BY_STEP else "val_rmse"
    values = by_step_values(metrics, name)
    if len(values) < 2:
        return []
    steps = " ".join(f"{v:.4g}" for v in values)
    return [f"{name} by step (h = 1..{len(values)}): {steps}"]


def _export(args: argparse.Namespace) -> int:
    _check_mlflow(args)
    _probe_remote(args)
    _load_tensorflow()
    from seqtune.exported.export import check_exportable, export
    from seqtune.store.lock import StudyLock, holder

    study = _open_any(args)
    try:
        check_exportable(study, args.output, args.force)  # refused before anything is written
        if study.path is None:  # a study on a server, exported where this runs
            running = None
            out_yaml, out_model, result = export(study, args.output, args.force)
        else:
            # one export at a time (best.yaml and best.keras come from the same one); a
            # study that is still running is read, not stopped: its best trial so far
            with StudyLock.acquire(study.path, "seqtune export", name=EXPORT_LOCK_FILE):
                running = holder(study.path)
                out_yaml, out_model, result = export(study, args.output, args.force)
    finally:
        study.close()
    if args.json:
        return _export_json(args, study, out_yaml, out_model, result, running)
    if running and not args.quiet:
        print(f"note: the study is still running ({running}); exported its best trial so far")
    obj = result["objective"]
    print(f"trial {result['trial']}: {obj['name']} = {obj['value']:.6g}")
    print(
        "test: "
        + ", ".join(f"{k} {v:.6g}" for k, v in result["test"].items() if isinstance(v, float))
    )
    _print_combination(result.get("combination"), obj["name"])
    _print_baselines(result.get("baselines") or {})
    _print_intervals(result.get("intervals"))
    others = [n for n in (result.get("files") or {}) if n != out_model.name]
    beside = f" (beside them: {', '.join(others)})" if others else ""
    print(f"wrote {out_yaml} and {out_model}{beside}")
    from seqtune.tasks import task_of

    if not args.quiet:
        print(
            f"next: seqtune predict {out_yaml} --csv RECENT.csv --level 80 95"
            if task_of(study.spec.data.task).forecasts
            else f"next: seqtune train {out_yaml}   (refit from scratch, reproduces the export)"
        )
    _warn_not_beaten(study, result)
    _log_mlflow(args, study.path, out_yaml)
    return 0


def _warn_not_beaten(study: Any, result: dict[str, Any]) -> str | None:
    """The one line, on stderr, when the exported model does not beat the best baseline on
    the test part; returned too (None when it does)."""
    from seqtune.exported.export import baseline_warning

    warning = baseline_warning(study.spec, result["test"], result.get("baselines") or {})
    if warning:
        print(f"seqtune: warning: {warning}", file=sys.stderr)
    return warning


def _export_json(
    args: argparse.Namespace,
    study: Any,
    out_yaml: Path,
    out_model: Path,
    result: dict[str, Any],
    running: str | None,
) -> int:
    """``export --json``: one object — the files written, best.yaml's ``result``, the
    not-beaten warning (also on stderr) and, with ``--mlflow``, the run and model URI."""
    warning = _warn_not_beaten(study, result)
    logged = _log_mlflow(args, study.path, out_yaml, quiet=True)
    files = [str(out_yaml), *(str(out_yaml.parent / n) for n in result.get("files") or {})]
    out: dict[str, Any] = {
        "spec": str(out_yaml),
        "model": str(out_model),
        "files": files,
        "running": running,
        "warning": warning,
        "result": result,
    }
    if logged is not None:
        out["mlflow"] = {"study_run": logged[0], "model_uri": logged[1]}
    print(json.dumps(out, indent=2, default=str))
    return 0


def _print_combination(found: Any, objective: str) -> None:
    """One or two lines: the combined forecaster (``0.62 × network + 0.38 × AutoETS ...``),
    the rule the folds chose and what the network alone scored on the test part; or why
    there is no combination."""
    if not isinstance(found, dict):
        return
    if found.get("note"):
        print(f"note: {found['note']}")
        return
    key = objective.removeprefix("val_")
    alone = (found.get("network_test") or {}).get(key)
    scores = found.get("fold_scores") or {}
    folds = ", ".join(f"{r} {v:.4g}" for r, v in scores.items())
    print(f"forecast: {found.get('text')} (rule {found.get('rule')}; left-out folds: {folds})")
    if isinstance(alone, int | float) and len(found.get("members") or []) > 1:
        print(f"the network alone on the test part: {key} {alone:.6g}")


def _print_intervals(found: Any) -> None:
    """One line: what each default level's prediction interval covered of the test part."""
    if not isinstance(found, dict) or not found.get("coverage"):
        return
    cells = [f"{k} % covers {100 * v:.1f} %" for k, v in found["coverage"].items()]
    source = "fold validation" if found.get("calibrated_on") == "folds" else "validation"
    print(
        f"intervals (split conformal on {found.get('errors')} {source} errors), on the test "
        "part: " + ", ".join(cells)
    )


def _print_baselines(found: dict[str, Any]) -> None:
    """One line: each baseline's validation and test value of the objective."""
    if not found:
        return
    cells = []
    for name, parts in found.items():
        got = " / ".join(f"{parts[p]:.4g}" for p in ("val", "test") if p in parts)
        cells.append(f"{name.replace('_', ' ')} {got}")
    print("baselines (val / test): " + ", ".join(cells))


def _report(args: argparse.Namespace) -> int:
    from seqtune.report.commands import check_study_dir, report

    check_study_dir(args.study_dir)  # a wrong path is refused before TensorFlow loads
    if _needs_keras(args, model=True):  # quietly, before keras-tuner or best.keras load it
        _load_tensorflow()

    print(f"wrote {report(args.study_dir, args.output, args.storage, args.force)}")
    return 0


def _plot(args: argparse.Namespace) -> int:
    from seqtune.report.commands import check_study_dir, plot

    check_study_dir(args.study_dir)
    if _needs_keras(args, model=args.what == "forecast"):
        _load_tensorflow()

    print(f"wrote {plot(args.study_dir, args.what, args.output, args.storage, args.force)}")
    return 0


def _predict(args: argparse.Namespace) -> int:
    from seqtune.exported.intervals import check_levels
    from seqtune.exported.predict import open_export, rows_for
    from seqtune.store.files import write_csv

    # everything is checked before TensorFlow loads: the export, its files, the data
    exported = open_export(args.spec)
    levels = check_levels(args.level or ())
    if args.output is not None:
        from seqtune.store.outputs import check_output, starts_with

        reads = [*exported.files_read(), *([args.csv] if args.csv is not None else [])]
        if exported.spec.source is not None:
            reads.append(exported.spec.source)
        check_output(
            args.output,
            force=args.force,
            reads=reads,
            own=lambda p: starts_with(p, b"time,h,prediction", b"step,h,prediction"),
        )
    table, data = rows_for(exported, args.csv)
    _load_tensorflow()
    from seqtune.exported.predict import forecast

    header, rows = forecast(
        exported.spec,
        exported.values,
        exported.model,
        table,
        data,
        state=exported.state,
        levels=levels,
    )
    if args.json:
        if args.output is not None:
            write_csv(args.output, header, rows)
        records = [dict(zip(header, row, strict=True)) for row in rows]
        after = data.labels_of([data.n_rows - 1])[0]
        out = {"export": str(exported.path), "after": after, "levels": list(levels)}
        if args.output is not None:
            out["output"] = str(args.output)
        print(json.dumps({**out, "forecast": records}, indent=2, default=str))
        return 0
    if args.output is None:
        import csv

        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
        return 0
    write_csv(args.output, header, rows)
    print(f"wrote {args.output} ({len(rows)} steps after {data.labels_of([data.n_rows - 1])[0]})")
    return 0


def _check(args: argparse.Namespace) -> int:
    """Load the spec and its data, run every check ``launch`` runs, print the rows and
    windows of every part and fold; exit 2 with one line per problem. Writes nothing and
    does not load TensorFlow."""
    from seqtune.checks import check_spec, format_report, problem_fields
    from seqtune.errors import problems_of

    try:
        report = check_spec(_spec(args.spec))
    except UserError as err:  # the spec or its data cannot be read: every mistake found
        found = problems_of(err)
        if args.json:  # --json always prints JSON, also when the spec or its data cannot be read
            out = {"spec": str(args.spec), "problems": [str(p) for p in found], "ok": False}
            print(json.dumps({**out, "problem_fields": problem_fields(found)}))
        for problem in found:
            print(f"seqtune check: {problem}", file=sys.stderr)
        return EXIT_USAGE
    print(json.dumps(report, indent=2) if args.json else format_report(report))
    for problem in report["problems"]:
        print(f"seqtune check: {problem}", file=sys.stderr)
    return EXIT_USAGE if report["problems"] else 0


def epoch_text(best_epoch: int | None, epochs: int) -> str:
    """Where the best epoch was, for people: epochs are counted from 1 in what seqtune
    prints (``epoch 26 of 41``, as the progress line does), while ``best_epoch`` in
    best.yaml, ``--json``, trials.csv and ``status --json`` is the 0-based index Keras
    passes to callbacks; the text names the stored value so the two are never confused."""
    if best_epoch is None:
        return f"(no best epoch in {epochs})"
    return f"at epoch {best_epoch + 1} of {epochs} (best_epoch: {best_epoch}, counted from 0)"


def _train(args: argparse.Namespace) -> int:
    from seqtune.spec import fixed_values, validate_with_data

    spec = _spec(args.spec)
    fixed_values(spec)  # a searched parameter, bad data: refused before TensorFlow loads
    from seqtune.checks import refuse_data_problems

    refuse_data_problems(spec, validate_with_data(spec))  # the checks launch makes
    if args.output is not None:  # refused before the refit, not after it
        from seqtune.store.outputs import check_output

        reads = [args.spec, spec.data.csv]
        model = (spec.result or {}).get("model")
        if isinstance(model, str):  # an export's own model: never replaced by a refit
            reads.append(args.spec.parent / model)
        check_output(args.output, force=args.force, suffixes=(".keras",), reads=reads)
    _load_tensorflow()
    from seqtune.exported.export import train

    report = train(spec, args.output)
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    obj = report["objective"]
    where = epoch_text(report["best_epoch"], report["epochs"])
    print(f"{obj['name']} = {obj['value']:.6g} {where}")
    for part in ("val", "test"):
        print(
            f"{part}: "
            + ", ".join(f"{k} {v:.6g}" for k, v in report[part].items() if isinstance(v, float))
        )
    _print_combination(report.get("combination"), obj["name"])
    _print_baselines(report.get("baselines") or {})
    from seqtune.exported.export import baseline_warning

    warning = baseline_warning(spec, report["test"], report.get("baselines") or {})
    if warning:
        print(f"seqtune: warning: {warning}", file=sys.stderr)
    rep = report.get("reproduced")
    if rep:
        verdict = "reproduced" if rep["within_tolerance"] else "NOT reproduced"
        why = f": {rep['reason']}" if rep.get("reason") else ""
        print(
            f"{verdict}: exported {rep['exported']:.6g}, |diff| {rep['abs_diff']:.3g} "
            f"(tolerance {rep['rtol']:g} relative){why}"
        )
    if "model" in report:
        print(f"wrote {report['model']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
