"""What the data can serve, checked before a study exists, and the rows and windows of every
part and fold (``seqtune check``).

``launch`` refuses, before it creates ``results/<study>/``, everything the data and the spec
already tell: :func:`seqtune.spec.validate_with_data` checks the CSV and the target, each
searched transform against the target (a ``log`` family transform on a target with a value
<= 0, a seasonal one without a season length), the windows every part and rolling-origin
fold leaves for the largest look_back, the horizon and the rows the transforms lose, a fold
part of a single class, and a user objective. :func:`class_problems` adds what used to
surface only inside the first trial (leaving a study folder that blocked the next launch):
a class that no training window holds, in the holdout's training part, a stratified split's,
or any fold's. :func:`check_spec` runs all of them and describes the split for
``seqtune check``.

Rows are named as in every message: the CSV's data rows counted from 1. Nothing here writes
a file or imports TensorFlow.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from seqtune.data import Table, load_table
from seqtune.data import transforms as target_transforms
from seqtune.data.split import stratified_class_counts
from seqtune.errors import UserError, problems_of
from seqtune.spec import (
    Spec,
    check_spec_against_data,
    check_user_objective,
    searched_look_backs,
    searched_transforms,
)

__all__ = [
    "check_spec",
    "class_problems",
    "data_problems",
    "describe",
    "format_report",
    "problem_fields",
    "refuse_data_problems",
    "searched_look_backs",
    "searched_transforms",
]


# -- the checks -----------------------------------------------------------------------------


def data_problems(spec: Spec, table: Table) -> list[UserError]:
    """The checks :func:`seqtune.spec.validate_with_data` does not make (run after it)."""
    return class_problems(table, searched_look_backs(spec))


def refuse_data_problems(spec: Spec, table: Table) -> None:
    """Raise the first of :func:`data_problems`: ``launch`` calls it before the study
    folder exists."""
    found = data_problems(spec, table)
    if found:
        raise found[0]


def class_problems(table: Table, look_backs: Sequence[int]) -> list[UserError]:
    """A class of the target that no training window holds, for some ``look_back``.

    Chronological split: the training part (with rolling origins: each fold's, oldest first;
    the later ones train on more rows). A larger look_back drops the first label rows, so a
    class seen only there is lost; the error names the largest look_back that keeps every
    class when smaller ones do (``space.look_back``), else the split. Stratified split: the
    number of windows per class in each part does not depend on the seed, so a class whose
    every window goes to val/test is known here. Empty when the task is forecast or when a
    part has no window at all (the capacity check says so)."""
    if table.task != "classify" or not look_backs:
        return []
    assert table.labels is not None and table.classes is not None
    if not isinstance(look_backs, range):  # a range (an int domain) is ascending already
        look_backs = sorted(look_backs)
    if table.spec.split_method == "stratified":
        found = _stratified_problem(table, look_backs)
        return [found] if found else []
    if table.uses_folds:
        try:
            folds = table.fold_plan.folds
        except UserError:  # the split does not fit the rows: the capacity check says so
            return []
        for fold in folds:
            where = f" of fold {fold.index + 1} of {len(folds)}"
            fix = "use fewer folds or a smaller data.split.step (or val)"
            found = _training_classes(
                table, 0, fold.train_stop, look_backs, where, "data.split.folds", fix
            )
            if found:
                return [found]
        return []
    start, stop = table.bounds["train"]
    found = _training_classes(table, start, stop, look_backs, "", "data.split", "change data.split")
    return [found] if found else []


def _class_list(table: Table, indices: Sequence[int]) -> str:
    assert table.classes is not None
    names = [str(int(table.classes[i])) for i in indices]
    if len(names) == 1:
        return f"class {names[0]}"
    return "classes " + ", ".join(names[:-1]) + f" and {names[-1]}"


def _training_classes(
    table: Table,
    start: int,
    stop: int,
    look_backs: Sequence[int],
    where: str,
    field: str,
    fix: str,
) -> UserError | None:
    """The problem of the chronological training part ``[start, stop)`` (table rows) whose
    windows miss a class for the largest of ``look_backs``, or None."""
    assert table.labels is not None and table.classes is not None
    labels, rows = table.labels, table.row_numbers
    off = table.label_offset()
    lo, hi = look_backs[0], look_backs[-1]
    if start + hi + off - 1 >= stop:  # no training window at the largest look_back
        return None
    k = table.classes.size
    last = np.full(k, start - 1)  # the last row of each class in the part (start - 1: none)
    np.maximum.at(last, labels[start:stop], np.arange(start, stop))
    # a window of look_back L has its label at rows start + L + off - 1 and on: every class
    # is kept while that first label row is at most the class's last row
    fits = int(last.min()) - start + 1 - off
    if hi <= fits:
        return None
    if fits >= lo:
        first = start + hi + off - 1
        missing = [int(c) for c in np.flatnonzero(last < first)]
        return UserError(
            f"look_back {hi} leaves no training window{where} of {_class_list(table, missing)} "
            f"(labels at rows {int(rows[first])}-{int(rows[stop - 1])}); the largest look_back "
            f"whose training windows hold every class is {fits}",
            "space.look_back",
        )
    first = start + lo + off - 1  # the smallest look_back: the most training windows
    span = f"labels at rows {int(rows[first])}-{int(rows[stop - 1])}"
    present = np.unique(labels[first:stop])
    if present.size == 1:
        return UserError(
            f"every training window{where} ({span}) has class {int(table.classes[present[0]])}: "
            f"the model cannot learn to tell classes apart; {fix}",
            field,
        )
    missing = [int(c) for c in np.setdiff1d(np.arange(k), present)]
    seen = int(rows[int(np.flatnonzero(labels == missing[0])[0])])
    return UserError(
        f"no training window{where} ({span}) has {_class_list(table, missing)} (first at row "
        f"{seen}): the model could never predict it; {fix}",
        field,
    )


def _stratified_problem(table: Table, look_backs: Sequence[int]) -> UserError | None:
    """The first look_back at which a stratified split leaves a class no training window."""
    assert table.labels is not None and table.classes is not None
    labels, n, k = table.labels, table.n_rows, table.classes.size
    off = table.label_offset()
    counts = np.bincount(labels, minlength=k)  # windows per class: labels at rows span-1..
    dropped = 0  # label rows before the first window's label
    for look_back in look_backs:
        span = look_back + off
        if span > n:
            break
        counts -= np.bincount(labels[dropped : span - 1], minlength=k)
        dropped = span - 1
        train = stratified_class_counts(counts, table.spec.val, table.spec.test)["train"]
        missing = np.flatnonzero(train == 0)
        if missing.size:
            c = int(missing[0])
            return UserError(
                f"at look_back {look_back} the stratified split leaves "
                f"{_class_list(table, [c])} ({int(counts[c])} window(s)) no training window: "
                "every one goes to val or test; use smaller data.split.val and test, or more "
                "rows of that class",
                "data.split" if look_back == look_backs[0] else "space.look_back",
            )
    return None


def all_problems(spec: Spec, table: Table) -> list[UserError]:
    """Every check ``launch`` makes on a loaded table, each problem once: the spec against
    the data (the first problem), then, if that passed, :func:`data_problems`, and the user
    objective."""
    found: list[UserError] = []
    try:
        check_spec_against_data(spec, table)
    except UserError as err:
        found.extend(problems_of(err))
    else:
        found.extend(data_problems(spec, table))
    try:
        check_user_objective(spec, table)
    except UserError as err:
        found.append(err)
    return found


def check_spec(spec: Spec) -> dict[str, Any]:
    """Load the data, run every check and describe the split (:func:`describe`), with
    ``problems`` (one line each) and ``ok``. A CSV that cannot be loaded raises its
    UserError: there is nothing to describe."""
    table = load_table(spec.data)
    problems = all_problems(spec, table)
    report = describe(spec, table)
    report["problems"] = [str(p) for p in problems]
    report["ok"] = not problems
    report["problem_fields"] = problem_fields(problems)
    return report


def problem_fields(problems: Sequence[UserError]) -> list[dict[str, str | None]]:
    """``check --json``'s ``problem_fields``: each problem's ``field`` and ``message``
    apart (``problems`` holds the same, one line each).

    Examples
    --------
    >>> problem_fields([UserError("must be at least 1, got 0", "search.trials")])
    [{'field': 'search.trials', 'message': 'must be at least 1, got 0'}]
    """
    return [{"field": p.field, "message": p.message} for p in problems]


# -- the description ------------------------------------------------------------------------


def _lost(table: Table, transforms: Sequence[str]) -> tuple[int, str]:
    """The most rows a searched transform loses at the start of the series, and which one
    (those that do not apply are left out: the checks name them)."""
    if table.task != "forecast":
        return 0, "none"
    most, worst = 0, "none"
    for name in transforms:
        try:
            lost = target_transforms.lost_rows(name, table.period)
        except ValueError:
            continue
        if lost > most:
            most, worst = lost, name
    return most, worst


def _part(
    table: Table, start: int, stop: int, windows: dict[str, int], classes_at: int | None
) -> dict[str, Any]:
    """One part (table rows ``[start, stop)``): its rows, CSV rows and time, windows per
    look_back and, for classify, windows per class at look_back ``classes_at``."""
    rows = max(0, stop - start)
    out: dict[str, Any] = {
        "rows": rows,
        "first_row": int(table.row_numbers[start]) if rows else None,
        "last_row": int(table.row_numbers[stop - 1]) if rows else None,
    }
    if table.time is not None:
        first, last = table.labels_of(np.array([start, stop - 1])) if rows else (None, None)
        out["first_time"], out["last_time"] = first, last
    out["windows"] = windows
    if classes_at is not None and table.labels is not None and table.classes is not None:
        labels = table.labels[min(stop, start + classes_at + table.label_offset() - 1) : stop]
        counts = np.bincount(labels, minlength=table.classes.size)
        out["classes"] = {str(int(c)): int(n) for c, n in zip(table.classes, counts, strict=True)}
    return out


def _stratified_parts(table: Table, shown: list[int]) -> dict[str, Any]:
    """Parts of a stratified split: windows drawn at random over every row (no row range)."""
    assert table.labels is not None and table.classes is not None
    windows = {lb: table.window_counts(lb) for lb in shown}
    span = shown[-1] + table.label_offset()
    per_class = stratified_class_counts(
        np.bincount(table.labels[min(span - 1, table.n_rows) :], minlength=table.classes.size),
        table.spec.val,
        table.spec.test,
    )
    return {
        part: {
            "rows": None,
            "first_row": None,
            "last_row": None,
            "windows": {str(lb): windows[lb][part] for lb in shown},
            "classes": {
                str(int(c)): int(n) for c, n in zip(table.classes, per_class[part], strict=True)
            },
        }
        for part in ("train", "val", "test")
    }


def describe(spec: Spec, table: Table) -> dict[str, Any]:
    """The split as ``seqtune check`` prints it: rows, CSV rows (and time index values) of
    every part and fold, and their windows at the smallest and largest searched look_back,
    counted after the most rows a searched transform loses (the fewest a trial gets)."""
    look_backs = searched_look_backs(spec)
    shown = sorted({look_backs[0], look_backs[-1]}) if look_backs else [1]
    transforms = searched_transforms(spec) if table.task == "forecast" else ["none"]
    lost, worst = _lost(table, transforms)
    classes_at = shown[-1] if table.task == "classify" else None
    data = spec.data
    report: dict[str, Any] = {
        "spec": str(spec.source) if spec.source is not None else None,
        "study": spec.study,
        "task": table.task,
        "target": table.target,
        "csv": str(data.csv),
        "rows": table.n_rows,
        "first_row": int(table.row_numbers[0]),
        "last_row": int(table.row_numbers[-1]),
        "time": None,
        "look_back": {"min": shown[0], "max": shown[-1]},
        "transforms": transforms,
        "lost_rows": lost,  # the most rows a searched transform loses: windows counted after
        "lost_by": worst,
        "horizon": table.horizon,
        "split": "holdout",
        "parts": {},
        "folds": [],
    }
    if table.time is not None:
        first, last = table.labels_of(np.array([0, table.n_rows - 1]))
        report["time"] = {
            "column": data.time,
            "frequency": table.time.freq,  # a pandas frequency, or None for integers
            "step": table.time.step,  # the integer step, or None for dates
            "first": first,
            "last": last,
        }
    if data.split_method == "stratified":
        report["split"] = "stratified"
        report["parts"] = _stratified_parts(table, shown)
        return report
    if not table.uses_folds:
        counts = {lb: table.counts_in(table.bounds, lb, worst) for lb in shown}
        report["parts"] = {
            part: _part(table, start, stop, {str(lb): counts[lb][part] for lb in shown}, classes_at)
            for part, (start, stop) in table.bounds.items()
        }
        return report
    report["split"] = "folds"
    try:
        plan = table.fold_plan
    except UserError:  # the folds do not fit the rows: the problems say why
        return report
    per_fold = {lb: table.fold_counts(lb, worst) for lb in shown}
    for fold in plan.folds:
        i = fold.index
        report["folds"].append(
            {
                "fold": i + 1,
                "gap": fold.gap,
                "train": _part(
                    table,
                    0,
                    fold.train_stop,
                    {str(lb): per_fold[lb][i]["train"] for lb in shown},
                    classes_at,
                ),
                "val": _part(
                    table,
                    fold.val_start,
                    fold.val_stop,
                    {str(lb): per_fold[lb][i]["val"] for lb in shown},
                    classes_at,
                ),
            }
        )
    refit = {lb: table.counts_in(plan.refit_bounds(), lb, worst) for lb in shown}
    pre = plan.pre_test
    report["parts"] = {
        "refit": _part(table, 0, pre, {str(lb): refit[lb]["train"] for lb in shown}, classes_at),
        "test": _part(
            table, pre, plan.n_rows, {str(lb): refit[lb]["test"] for lb in shown}, classes_at
        ),
    }
    return report


def _rows_text(part: dict[str, Any]) -> str:
    if part["rows"] is None:
        return "random"
    if not part["rows"]:
        return "-"
    return f"{part['first_row']}-{part['last_row']}"


def _time_text(part: dict[str, Any]) -> str:
    if part.get("first_time") is None:
        return "-"
    return f"{part['first_time']} .. {part['last_time']}"


def _spacing(time: dict[str, Any]) -> str:
    if time["frequency"] is not None:
        return f"frequency {time['frequency']}"
    return f"integer step {time['step']}"


def format_report(report: dict[str, Any]) -> str:
    """The text ``seqtune check`` prints: a few lines on the data and the space, then one
    table row per part (with rolling origins: per fold, then the refit and the test part)."""
    lines = [
        f"study {report['study']} · {report['task']} '{report['target']}'"
        + (f" · horizon {report['horizon']}" if report["task"] == "forecast" else ""),
        f"data {report['csv']}: {report['rows']} rows "
        f"(CSV rows {report['first_row']}-{report['last_row']})"
        + (
            f", {report['time']['column']} {report['time']['first']} .. "
            f"{report['time']['last']} ({_spacing(report['time'])})"
            if report["time"]
            else ""
        ),
    ]
    lb = report["look_back"]
    searched = f"look_back {lb['min']}" + (f"..{lb['max']}" if lb["max"] != lb["min"] else "")
    if report["task"] == "forecast":
        searched += f"; transform {', '.join(report['transforms'])}"
    lines.append(f"space: {searched}")
    if report["lost_rows"]:
        lines.append(
            f"windows: counted after the {report['lost_rows']} rows {report['lost_by']} loses "
            "(the most of the transforms: the fewest windows a trial gets)"
        )
    if report["split"] == "stratified":
        lines.append(
            "split: stratified: windows drawn at random over every row, class proportions "
            "kept (val/test share rows with training windows: a leak)"
        )
    elif report["split"] == "folds":
        folds = report["folds"]
        gap = folds[0]["gap"] if folds else 0
        lines.append(
            f"split: {len(folds)} rolling-origin fold(s) before the test part"
            + (f", {gap} row(s) left out between training and validation" if gap else "")
            + "; export refits on every row before the test part"
        )
    else:
        lines.append("split: chronological holdout")
    rows: list[tuple[str, dict[str, Any]]] = []
    for fold in report["folds"]:
        rows += [
            (f"fold {fold['fold']} train", fold["train"]),
            (f"fold {fold['fold']} val", fold["val"]),
        ]
    rows += list(report["parts"].items())
    shown = sorted({lb["min"], lb["max"]})
    header = ["part", "rows", "CSV rows"]
    right = [False, True, False]  # numbers right-aligned
    if report["time"]:
        header.append(str(report["time"]["column"]))
        right.append(False)
    header += [f"windows lb {v}" for v in shown]
    right += [True] * len(shown)
    if report["task"] == "classify":
        header.append(f"classes (lb {shown[-1]})")
        right.append(False)
    table = [header]
    for name, part in rows:
        cells = [name, "-" if part["rows"] is None else str(part["rows"]), _rows_text(part)]
        if report["time"]:
            cells.append(_time_text(part))
        cells += [str(part["windows"][str(v)]) for v in shown]
        if report["task"] == "classify":
            cells.append(" ".join(f"{c}:{n}" for c, n in part.get("classes", {}).items()))
        table.append(cells)
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    lines.append("")
    for cells in table:
        lines.append(
            "  ".join(
                c.rjust(w) if r else c.ljust(w)
                for c, w, r in zip(cells, widths, right, strict=True)
            ).rstrip()
        )
    if report["ok"]:
        lines += ["", "ok: every check passed"]
    return "\n".join(lines)
