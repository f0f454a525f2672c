"""Bad input catalogue (issue 5): every malformed input, run through the real ``seqtune``
command in a fresh process, must end with

* exit code 2,
* exactly one non-empty line on stderr (``seqtune <verb>: <field or file>: <problem>``),
  naming the field or file and carrying a key phrase of the problem, no traceback,
* nothing on stdout, and nothing created: the ``--results`` folder does not exist afterwards
  (or is empty), no file appears in the case's folder, and a study folder a case points at
  comes out with the same files.

Each case is a row of ``CASES``. All selected cases run in one module fixture, and each test
then checks its own outcome. Cases whose command imports TensorFlow before failing (``tf=True``:
storage, study folders, ``train``), those needing a launched study, and those with a user
objective module (Python imports a module name once per process) run as subprocesses, several
at once; the others, refused before TensorFlow loads, run through ``seqtune.cli.main`` in the
test process meanwhile (a fresh interpreter would spend a second importing pandas for each):
exit code, stdout and stderr, warnings included, are the command's own as in a fresh process.
Cases importing TensorFlow and those needing a launched study are marked slow.

TensorFlow's C++ logger prints ``WARNING: All log messages before absl::InitializeLog() ...``
and a oneDNN notice to stderr when it is imported, unless ``seqtune.cli`` silences it (it
does). Those lines are checked last and separately (:class:`TensorFlowNoise`), so that a
case failing on them says so.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import threading
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import AIRLINE, cli_here, run_cli, tiny_spec, write_spec

DELETE = object()  # an edit that removes the key

#: TensorFlow's C++ logger: ``WARNING: All log messages before absl::InitializeLog() ...`` and
#: ``I0000 00:00:1795309283.232107   11701 port.cc:153] oneDNN custom operations are on ...``
TF_NOISE = re.compile(
    r"^(WARNING: All log messages before absl::InitializeLog\(\) is called"
    r"|[IWEF]\d{4} \d\d:\d\d:[\d.]+\s+\d+ \S+:\d+\])"
)


class TensorFlowNoise(AssertionError):
    """The seqtune line was right, but TensorFlow's C++ logger added lines to stderr."""


@dataclass(frozen=True)
class Case:
    """One bad input.

    ``argv`` and ``needles`` may use the placeholders ``{dir}`` (the case's own folder),
    ``{spec}`` (the spec written there), ``{results}`` (``{dir}/results``), ``{csv}``
    (``{dir}/data.csv``), and for ``study=True`` cases ``{study}``, ``{study_spec}`` and
    ``{study_results}`` (the shared study launched once per module).
    """

    id: str
    needles: tuple[str, ...]  # substrings the one error line must contain
    edits: dict[str, Any] = field(default_factory=dict)  # dotted keys of tiny_spec()
    argv: tuple[str, ...] = ("launch", "{spec}", "--results", "{results}")
    args: tuple[str, ...] = ()  # appended to argv
    spec_text: str | bytes | None = None  # the spec file's raw content instead of tiny_spec()
    csv: str | bytes | None = None  # written to {dir}/data.csv and used as data.csv
    files: dict[str, str | bytes] = field(default_factory=dict)  # more files in {dir}
    modes: dict[str, int] = field(default_factory=dict)  # chmod of files in {dir}
    fifos: tuple[str, ...] = ()  # named pipes made in {dir} (nobody ever writes to them)
    study: bool = False  # needs the shared study
    forbidden: tuple[str, ...] = ()  # must not appear anywhere in the output
    tf: bool = False  # the command imports TensorFlow before it fails: slow
    marks: tuple[Any, ...] = ()  # pytest marks of the case

    @property
    def own_process(self) -> bool:
        """Run as a subprocess: TensorFlow's start-up, a launched study, or a user module."""
        objective = self.edits.get("objective")
        if isinstance(objective, dict):
            objective = objective.get("name")
        user_module = isinstance(objective, str) and ":" in objective
        return self.tf or self.study or user_module or any(f.endswith(".py") for f in self.files)


def airline_rows() -> list[str]:
    return AIRLINE.read_text().splitlines()


def airline_with(**rows: str) -> str:
    """The airline CSV with data row ``r<N>`` (1-based, header excluded) set to a value."""
    lines = airline_rows()
    for key, value in rows.items():
        n = int(key.removeprefix("r"))
        date = lines[n].split(",")[0]
        lines[n] = f"{date},{value}"
    return "\n".join(lines) + "\n"


def series(values: list[float]) -> str:
    return "Date,Passengers\n" + "".join(f"t{i},{v}\n" for i, v in enumerate(values))


SEASONAL = {"choice": ["none", "log_diff", "seasonal_diff"]}
USER_OBJ = {"name": "userobj:score", "direction": "minimize"}
NOT_ROOT = pytest.mark.skipif(
    hasattr(os, "geteuid") and os.geteuid() == 0, reason="root reads any file"
)


def tiny_yaml() -> str:
    return yaml.safe_dump(tiny_spec(), sort_keys=False)


def laughs(levels: int = 9) -> str:
    """A billion-laughs YAML value: 9**levels strings from a few hundred bytes."""
    parts = ['&a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    parts += [f"&a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, levels)]
    return "[" + ", ".join(parts) + "]"


CASES: list[Case] = [
    # ---- the spec file itself --------------------------------------------------------------
    Case(
        "yaml_unclosed_bracket",
        ("{spec}", "not valid YAML", "line 4"),
        spec_text="study: tiny\nseed: 7\ndata: {csv: x.csv, target: [Passengers\nmodel: lstm\n",
    ),
    Case(
        "yaml_bad_indentation",
        ("{spec}", "not valid YAML", "line"),
        spec_text="study: tiny\ndata:\n  csv: x.csv\n   target: Passengers\n",
    ),
    Case("spec_missing", ("{dir}/nope.yaml", "no such file"), argv=("launch", "{dir}/nope.yaml")),
    Case("spec_is_a_directory", ("{dir}", "is a folder"), argv=("launch", "{dir}")),
    Case("spec_is_a_list", ("{spec}", "must be a YAML mapping"), spec_text="- study\n- data\n"),
    Case("spec_is_empty", ("{spec}", "must be a YAML mapping"), spec_text=""),
    Case("spec_not_utf8", ("{spec}", "cannot read"), spec_text=b"study: t\xff\xfe\x80\n"),
    # hostile spec files: each refused before any value is built or shown
    Case(
        "yaml_billion_laughs",
        ("{spec}", "100,000 values", "aliases"),
        spec_text=f"study: {laughs()}\n" + tiny_yaml().replace("study: tiny\n", ""),
    ),
    Case(
        "yaml_billion_laughs_in_result",
        ("{spec}", "100,000 values", "aliases"),
        spec_text=tiny_yaml() + f"result: {{lol: {laughs()}}}\n",
    ),
    Case(
        "yaml_recursive_alias",
        ("{spec}", "recursive"),
        spec_text=tiny_yaml() + "result: &r {again: *r}\n",
    ),
    Case("spec_5_megabytes", ("{spec}", "1 MiB limit"), spec_text=tiny_yaml() + "#" * 5_000_000),
    Case(
        "yaml_duplicate_key",
        ("data.split.val", "duplicate key 'val'", "spec.yaml"),
        spec_text=tiny_yaml().replace("    val: 0.13\n", "    val: 0.13\n    val: 0.5\n"),
    ),
    Case(
        "yaml_duplicate_top_key",
        ("study", "duplicate key 'study'"),
        spec_text=tiny_yaml() + "study: other\n",
    ),
    Case("spec_nul_byte", ("{spec}", "NUL byte", "line 2"), spec_text=b"study: t\nseed: \x00\n"),
    Case(
        "spec_several_documents",
        ("{spec}", "several YAML documents"),
        spec_text=tiny_yaml() + "---\n" + tiny_yaml(),
    ),
    Case(
        "spec_python_tag",
        ("{spec}", "python/object/apply:os.system"),
        spec_text='study: !!python/object/apply:os.system ["touch owned"]\n',
    ),
    Case(
        "spec_nested_10000_lists",
        ("{spec}", "nest"),
        spec_text=tiny_yaml() + "result: " + "[" * 10_000 + "]" * 10_000 + "\n",
    ),
    Case(
        "spec_nested_10000_block_lists",
        ("{spec}", "nested more than 50 levels"),
        spec_text=tiny_yaml() + "result:\n" + "- " * 10_000 + "1\n",
    ),
    Case(
        "spec_is_a_fifo",
        ("{dir}/pipe.yaml", "not a regular file"),
        argv=("launch", "{dir}/pipe.yaml", "--results", "{results}"),
        fifos=("pipe.yaml",),
    ),
    Case(
        "spec_unreadable",
        ("{dir}/locked.yaml", "cannot read", "Permission denied"),
        argv=("launch", "{dir}/locked.yaml", "--results", "{results}"),
        files={"locked.yaml": tiny_yaml()},
        modes={"locked.yaml": 0},
        marks=(NOT_ROOT,),
    ),
    # ---- top level -------------------------------------------------------------------------
    Case(
        "unknown_top_key",
        ("serach", "did you mean 'search'"),
        edits={"search": DELETE, "serach": {"trials": 3}},
    ),
    Case("study_name_escapes", ("study", "not a valid study name"), edits={"study": "../../x"}),
    Case("study_name_absolute", ("study", "not a valid study name"), edits={"study": "/tmp/x"}),
    Case("study_name_dotdot", ("study", "not a valid study name"), edits={"study": ".."}),
    Case(
        "study_name_trailing_newline",
        ("study", "not a valid study name", "'abc\\n'"),
        edits={"study": "abc\n"},
    ),
    Case(
        "cli_study_trailing_newline",
        ("study", "not a valid study name"),
        args=("--study", "abc\n"),
    ),
    Case(
        "cli_study_escapes",
        ("study", "not a valid study name"),
        args=("--study", "../escaped"),
    ),
    Case("seed_wrong_type", ("seed", "whole number"), edits={"seed": "lucky"}),
    Case("seed_negative", ("seed", "whole number"), edits={"seed": -1}),
    Case("model_kind_unknown", ("model.kind", "'gru'"), edits={"model.kind": "gru"}),
    Case("model_layout_unknown", ("model.layout", "'flat'"), edits={"model.layout": "flat"}),
    Case("model_missing", ("model", "missing section"), edits={"model": DELETE}),
    # ---- data: ------------------------------------------------------------------------------
    Case("data_missing", ("data", "missing section"), edits={"data": DELETE}),
    Case(
        "data_unknown_key",
        ("data.targte", "did you mean 'target'"),
        edits={"data.targte": "Passengers"},
    ),
    Case("data_no_target_key", ("data.target", "missing"), edits={"data.target": DELETE}),
    Case(
        "scaler_unknown",
        ("data.scaler", "did you mean 'minmax'"),
        edits={"data.scaler": "min-max"},
    ),
    Case("task_unknown", ("data.task", "did you mean 'forecast'"), edits={"data.task": "forcast"}),
    Case("split_wrong_type", ("data.split.val", "number"), edits={"data.split.val": "a lot"}),
    Case(
        "split_leaves_no_train",
        ("data.split", "leave rows for training"),
        edits={"data.split": {"val": 0.5, "test": 0.5}},
    ),
    Case("period_wrong_type", ("data.period", "integer"), edits={"data.period": "monthly"}),
    Case("missing_policy_unknown", ("data.missing", "ffill"), edits={"data.missing": "fill"}),
    # ---- space: -----------------------------------------------------------------------------
    Case("space_not_a_mapping", ("space", "mapping"), edits={"space": ["units", "dropout"]}),
    Case("param_not_read", ("space.unitz", "did you mean 'units'"), edits={"space.unitz": 8}),
    Case(
        "int_low_above_high",
        ("space.units", "low 12 is greater than high 4"),
        edits={"space.units": {"int": [12, 4]}},
    ),
    Case(
        "int_step_larger_than_range",
        ("space.units", "step 16 is larger than the range"),
        edits={"space.units": {"int": [4, 12], "step": 16}},
    ),
    Case(
        "float_step_larger_than_range",
        ("space.dropout", "step 0.5 is larger than the range"),
        edits={"space.dropout": {"float": [0.0, 0.2], "step": 0.5}},
    ),
    Case(
        "int_step_does_not_divide",
        ("space.units", "does not divide"),
        edits={"space.units": {"int": [4, 12], "step": 3}},
    ),
    Case(
        "int_bounds_not_integers",
        ("space.units", "integers"),
        edits={"space.units": {"int": [4.5, 12]}},
    ),
    Case(
        "log_low_zero",
        ("space.learning_rate", "log needs low > 0"),
        edits={"space.learning_rate": {"float": [0.0, 0.01], "log": True}},
    ),
    Case(
        "log_with_step",
        ("space.learning_rate", "log and step cannot be combined"),
        edits={"space.learning_rate": {"float": [0.001, 0.1], "log": True, "step": 0.001}},
    ),
    Case(
        "bound_is_a_string",
        ("space.learning_rate", "1.0e-5"),
        edits={"space.learning_rate": {"float": ["1e-5", 0.01]}},
    ),
    Case(
        "empty_choice",
        ("space.batch_size", "at least one value"),
        edits={"space.batch_size": {"choice": []}},
    ),
    Case(
        "choice_mixes_types",
        ("space.batch_size", "mix types"),
        edits={"space.batch_size": {"choice": [16, "big"]}},
    ),
    Case(
        "bare_list_domain",
        ("space.batch_size", "choice"),
        edits={"space.batch_size": [16, 32]},
    ),
    Case(
        "domain_unknown_key",
        ("space.units", "did you mean 'step'"),
        edits={"space.units": {"int": [4, 12], "stpe": 4}},
    ),
    Case(
        "per_names_missing_parameter",
        ("space.dense_units", "'num_layers' is not a parameter", "num_hidden_layers"),
        edits={"space.dense_units": {"int": [4, 8], "step": 4, "per": "num_layers"}},
    ),
    Case(
        "per_names_float_parameter",
        ("space.dense_units", "must be an int parameter"),
        edits={"space.dense_units": {"int": [4, 8], "step": 4, "per": "dropout"}},
    ),
    Case(
        "dropout_one",
        ("space.dropout", "[0, 1)"),
        edits={"space.dropout": {"float": [0.5, 1.0], "step": 0.25}},
    ),
    Case("units_zero", ("space.units", "at least 1"), edits={"space.units": {"int": [0, 8]}}),
    Case(
        "activation_unknown",
        ("space.dense_activation", "'relux'"),
        edits={"space.dense_activation": {"choice": ["relu", "relux"]}},
    ),
    Case(
        "transform_unknown",
        ("space.transform", "did you mean 'log'"),
        edits={"space.transform": {"choice": ["none", "lgo"]}},
    ),
    # ---- objective: -------------------------------------------------------------------------
    Case(
        "objective_unknown", ("objective", "did you mean 'val_rmse'"), edits={"objective": "rmse"}
    ),
    Case(
        "objective_wrong_task",
        ("objective", "'val_f1' is a classify objective", "forecast"),
        edits={"objective": "val_f1"},
    ),
    Case(
        "objective_wrong_direction",
        ("objective.direction", "minimize"),
        edits={"objective": {"name": "val_rmse", "direction": "maximize"}},
    ),
    Case("objective_missing", ("objective", "missing"), edits={"objective": DELETE}),
    Case(
        "user_objective_without_direction",
        ("objective", "needs a direction"),
        edits={"objective": "userobj:score"},
    ),
    # ---- search: and command-line overrides --------------------------------------------------
    Case("backend_unknown", ("search.backend", "'tpee'"), edits={"search.backend": "tpee"}),
    Case(
        "search_unknown_key",
        ("search.max_epoch", "did you mean 'max_epochs'"),
        edits={"search.max_epoch": 3},
    ),
    Case("trials_wrong_type", ("search.trials", "whole number"), edits={"search.trials": "ten"}),
    Case("max_epochs_zero", ("search.max_epochs", "at least 1"), edits={"search.max_epochs": 0}),
    Case("pruner_unknown", ("search.pruner", "'medain'"), edits={"search.pruner": "medain"}),
    Case("cli_trials_zero", ("--trials", "at least 1"), args=("--trials", "0")),
    Case(
        "cli_max_epochs_text",
        ("--max-epochs", "whole number"),
        args=("--max-epochs", "many"),
    ),
    Case(
        "cli_backend_unknown", ("--backend", "invalid choice"), args=("--backend", "tpee"), tf=False
    ),
    Case(
        "resume_trials_zero",
        ("--trials", "at least 1"),
        argv=("resume", "{dir}", "--trials", "0"),
    ),
    Case(
        "train_missing_spec",
        ("{dir}/nope.yaml", "no such file"),
        argv=("train", "{dir}/nope.yaml"),
    ),
    Case("cli_workers_zero", ("--workers", "at least 1"), args=("--workers", "0")),
    Case(
        "workers_with_hyperband",
        ("--workers", "tpe or random"),
        edits={"search.backend": "hyperband"},
        args=("--workers", "2"),
    ),
    # ---- the CSV ----------------------------------------------------------------------------
    Case(
        "csv_missing",
        ("data.csv", "file not found", "{dir}/nope.csv"),
        edits={"data.csv": "nope.csv"},
    ),
    Case("csv_empty", ("data.csv", "file is empty", "{csv}"), csv=""),
    Case("csv_header_only", ("data.csv", "no data rows", "{csv}"), csv="Date,Passengers\n"),
    Case("csv_is_a_directory", ("data.csv", "not a file"), edits={"data.csv": "."}),
    Case("csv_not_text", ("data.csv", "not UTF-8", "{csv}"), csv=b"\xff\xfe\x00\x81\x82\n\x80,1\n"),
    Case(
        "csv_unreadable",
        ("data.csv", "cannot read", "{csv}"),
        csv=airline_with(),
        modes={"data.csv": 0},
        marks=(
            pytest.mark.skipif(
                hasattr(os, "geteuid") and os.geteuid() == 0, reason="root reads any file"
            ),
        ),
    ),
    Case(
        "csv_nul_byte",
        ("data.csv", "NUL byte", "line 4", "{csv}"),
        csv=airline_with().replace("\n1949-03", "\n1949\x00-03"),
    ),
    Case("csv_binary_garbage", ("data.csv", "NUL byte", "{csv}"), csv=bytes(range(256)) * 64),
    Case(
        "csv_duplicate_column",
        ("data.csv", "'Passengers' appears more than once"),
        csv="Date,Passengers,Passengers\n" + "".join(f"t{i},{i % 7},{i}\n" for i in range(60)),
    ),
    Case(
        "csv_gigantic_line",
        ("data.csv", "line 3", "longer than 1 MiB"),
        csv=series([1.0]) + "t1," + "1" * 3_000_000 + "\n",
    ),
    Case(
        "csv_too_many_columns",
        ("data.csv", "20,002 columns", "10,000"),
        csv="Date,Passengers," + ",".join(f"c{i}" for i in range(20_000)) + "\n",
    ),
    Case("csv_wrong_type", ("data.csv", "non-empty string"), edits={"data.csv": ["a.csv"]}),
    Case(
        "target_column_missing",
        ("data.target", "'passengers' not found", "did you mean 'Passengers'"),
        edits={"data.target": "passengers"},
    ),
    Case(
        "csv_semicolon_separated",
        ("data.target", "';' as separator"),
        csv=airline_with().replace(",", ";"),
        forbidden=("did you mean",),  # the whole header is one "column": nothing to suggest
    ),
    Case(
        "feature_column_missing",
        ("data.features", "'Month' not found"),
        edits={"data.features": ["Month"]},
    ),
    Case(
        "non_numeric_value",
        ("data.csv", "'Passengers'", "'abc'", "row 5"),
        csv=airline_with(r5="abc"),
    ),
    Case(
        "nan_value",
        ("data.csv", "'Passengers'", "missing value", "row 7", "data.missing"),
        csv=airline_with(r7=""),
    ),
    Case(
        "inf_value", ("data.csv", "'Passengers'", "infinite", "row 9"), csv=airline_with(r9="inf")
    ),
    Case(
        "ffill_without_first_value",
        ("data.csv", "'Passengers'", "row 1", "forward-fill"),
        csv=airline_with(r1=""),
        edits={"data.missing": "ffill"},
    ),
    Case("constant_target", ("data.target", "constant"), csv=series([100.0] * 60)),
    Case(
        "classify_without_input_columns",
        ("data.features", "no numeric column"),
        edits={"data.task": "classify", "objective": "val_f1", "space.transform": DELETE},
    ),
    Case(
        "look_back_too_large",
        ("space.look_back", "largest look_back that fits"),
        edits={"space.look_back": {"int": [1, 120]}},
    ),
    Case(
        "series_too_short",
        ("data.split", "even with look_back 1"),
        csv=series([float(v) for v in range(1, 6)]),
        edits={"space.transform": DELETE, "space.look_back": 1},
    ),
    Case(
        "log_transform_with_zero",
        ("space.transform", "'log'", "positive", "row 3"),
        csv=airline_with(r3="0"),
        edits={"space.transform": {"choice": ["none", "log"]}},
    ),
    Case(
        "seasonal_transform_without_period",
        ("space.transform", "data.period"),
        edits={"data.period": DELETE, "space.transform": SEASONAL},
    ),
    # ---- user objectives --------------------------------------------------------------------
    Case(
        "user_objective_module_missing",
        ("objective", "cannot import module 'seqtune_no_such_module'"),
        edits={"objective": {"name": "seqtune_no_such_module:score", "direction": "minimize"}},
    ),
    Case(
        "user_objective_syntax_error",
        ("objective", "cannot import module 'userobj'", "SyntaxError"),
        edits={"objective": USER_OBJ},
        files={"userobj.py": "def score(:\n    return 1.0\n"},
    ),
    Case(
        "user_objective_import_fails",
        ("objective", "cannot import module 'userobj'", "RuntimeError"),
        edits={"objective": USER_OBJ},
        files={"userobj.py": "raise RuntimeError('no GPU here\\ncheck your drivers')\n"},
    ),
    Case(
        "user_objective_function_missing",
        ("objective", "no function 'score'"),
        edits={"objective": USER_OBJ},
        files={"userobj.py": "def scor(y, p):\n    return 1.0\n"},
    ),
    # ---- storage and results folder ----------------------------------------------------------
    Case(
        "storage_unreachable_postgres",
        ("--storage", "database server at 127.0.0.1:1 is unreachable"),
        args=("--storage", "postgresql://user:s3cret@127.0.0.1:1/db"),
        forbidden=("s3cret",),
        tf=True,
    ),
    Case(
        "storage_sqlite_missing_folder",
        ("--storage", "cannot open storage"),
        args=("--storage", "sqlite:////nonexistent/dir/x.db"),
        tf=True,
    ),
    Case(
        "storage_not_a_url",
        ("--storage", "not a database URL"),
        args=("--storage", "nowhere"),
        tf=True,
    ),
    Case(
        "storage_with_hyperband",
        ("--storage", "hyperband"),
        edits={"search.backend": "hyperband"},
        args=("--storage", "sqlite:///{dir}/x.db"),
    ),
    Case(
        "results_is_a_file",
        ("{dir}/taken", "folder"),
        argv=("launch", "{spec}", "--results", "{dir}/taken"),
        files={"taken": "not a folder\n"},
        tf=True,
    ),
    # ---- study folders: resume, status, export, train ---------------------------------------
    Case(
        "resume_missing_folder",
        ("{dir}/gone", "no such study folder"),
        argv=("resume", "{dir}/gone"),
        tf=True,
    ),
    Case(
        "resume_not_a_study",
        ("{dir}/plain", "not a study folder"),
        argv=("resume", "{dir}/plain"),
        files={"plain/notes.txt": "hello\n"},
        tf=True,
    ),
    Case(
        "resume_unreadable_metadata",
        ("study.json", "unreadable"),
        argv=("resume", "{dir}/broken"),
        files={"broken/spec.yaml": yaml.safe_dump(tiny_spec()), "broken/study.json": "{oops"},
        tf=True,
    ),
    Case("status_not_a_study", ("{dir}", "not a study folder"), argv=("status", "{dir}"), tf=True),
    Case("export_not_a_study", ("{dir}", "not a study folder"), argv=("export", "{dir}"), tf=True),
    Case(
        "train_searched_parameter",
        ("space.transform", "is searched"),
        argv=("train", "{spec}"),
        tf=True,
    ),
    Case(
        "export_without_complete_trial",
        ("{study}", "no complete trial"),
        argv=("export", "{study}"),
        study=True,
        tf=True,
    ),
    Case(
        "resume_with_changed_objective",
        ("objective", "was", "val_mae"),
        argv=("resume", "{study}"),
        study=True,
        tf=True,
    ),
    Case(
        "launch_over_existing_study",
        ("{study}", "already holds a study"),
        argv=("launch", "{study_spec}", "--results", "{study_results}"),
        study=True,
        tf=True,
    ),
    # ---- horizons, the time index, calendar inputs, predict (issue 14) ----------------------
    Case("horizon_zero", ("data.horizon", "at least 1"), edits={"data.horizon": 0}),
    Case(
        "horizon_longer_than_validation",
        ("data.horizon", "longer than the validation part", "19 rows"),
        edits={"data.horizon": 20},
    ),
    Case(
        "horizon_with_classify",
        ("data.horizon", "only to task: forecast"),
        edits={"data.task": "classify", "data.horizon": 3, "objective": "val_f1"},
    ),
    Case(
        "time_column_missing",
        ("data.time", "'Month' not found", "Date"),
        edits={"data.time": "Month"},
    ),
    Case(
        "time_column_does_not_parse",
        ("data.time", "'Date'", "'someday'", "row 4"),
        csv=airline_with().replace("1949-04,", "someday,"),
        edits={"data.time": "Date"},
    ),
    Case(
        "time_unsorted",
        ("data.time", "not sorted", "row 3"),
        csv=airline_with().replace("1949-03,", "1948-03,"),
        edits={"data.time": "Date"},
    ),
    Case(
        "time_duplicated",
        ("data.time", "duplicate", "row 3"),
        csv=airline_with().replace("1949-03,", "1949-02,"),
        edits={"data.time": "Date"},
    ),
    Case(
        "time_gap",
        ("data.time", "gap", "row 3"),
        csv="\n".join(line for line in airline_rows() if not line.startswith("1949-03")) + "\n",
        edits={"data.time": "Date"},
    ),
    Case(
        "time_frequency_without_period",
        ("space.transform", "frequency", "set data.period"),
        csv="Date,Passengers\n" + "".join(f"{1900 + i}-01-01,{100 + i}\n" for i in range(60)),
        edits={"data.time": "Date", "data.period": DELETE, "space.transform": SEASONAL},
    ),
    Case(
        "time_is_an_input",
        ("data.features", "never a model input"),
        edits={"data.time": "Date", "data.features": ["Date", "Passengers"]},
    ),
    Case(
        "calendar_without_time",
        ("data.calendar", "set data.time"),
        edits={"data.calendar": ["month"]},
    ),
    Case(
        "calendar_unknown",
        ("data.calendar", "'weekday'", "day_of_week"),
        edits={"data.time": "Date", "data.calendar": ["weekday"]},
    ),
    Case(
        "calendar_searched_without_time",
        ("space.calendar", "set data.time"),
        edits={"space.calendar": {"choice": ["none", "month"]}},
    ),
    Case(
        "calendar_searched_unknown_item",
        ("space.calendar", "'month+weekday'", "'weekday' is not a calendar item"),
        edits={"data.time": "Date", "space.calendar": {"choice": ["none", "month+weekday"]}},
    ),
    Case(
        "calendar_searched_beyond_the_frequency",
        ("space.calendar", "'day_of_week'", "coarser"),
        edits={"data.time": "Date", "space.calendar": {"choice": ["month", "day_of_week"]}},
    ),
    Case(
        "calendar_searched_and_fixed",
        ("space.calendar", "data.calendar [month]", "not both"),
        edits={
            "data.time": "Date",
            "data.calendar": ["month"],
            "space.calendar": {"choice": ["none", "month"]},
        },
    ),
    Case(
        "split_rows_leave_no_training",
        ("data.split", "no rows for training"),
        edits={"data.split": {"val": 100, "test": 44}},
    ),
    Case(
        "predict_searched_spec",
        ("space.transform", "is searched"),
        argv=("predict", "{spec}"),
    ),
    Case(
        "predict_without_model",
        ("{spec}", "no model spec.keras"),
        argv=("predict", "{spec}"),
        spec_text=yaml.safe_dump({**tiny_spec(), "space": {"look_back": 2}}),
    ),
    Case(
        "predict_csv_column_differs",
        ("{dir}/newer.csv", "column 'Passengers'", "text here but numeric"),
        argv=("predict", "{spec}", "--csv", "{dir}/newer.csv", "-o", "{dir}/out.csv"),
        spec_text=yaml.safe_dump({**tiny_spec(), "space": {"look_back": 2}}),
        files={
            "spec.keras": "not read: the CSV is refused first",
            "newer.csv": "Date,Passengers\n1961-01,many\n1961-02,more\n",
        },
    ),
]


# ---- running -------------------------------------------------------------------------------


@dataclass
class Outcome:
    proc: subprocess.CompletedProcess[str]
    subs: dict[str, str]
    results: Path
    created: set[str]  # files that appeared in the case folder or the study it points at


def fill(text: str, subs: dict[str, str]) -> str:
    for key, value in subs.items():
        text = text.replace("{" + key + "}", value)
    return text


def edited(edits: dict[str, Any]) -> dict[str, Any]:
    spec = tiny_spec()
    for dotted, value in edits.items():
        *parents, last = dotted.split(".")
        node = spec
        for key in parents:
            node = node[key]
        if value is DELETE:
            node.pop(last, None)
        else:
            node[last] = value
    return spec


def files_under(root: Path) -> set[str]:
    if not root.exists():
        return set()
    return {
        str(p.relative_to(root))
        for p in root.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and not p.name.endswith("-journal")
    }


def prepare(case: Case, folder: Path) -> dict[str, str]:
    folder.mkdir(parents=True)
    subs = {
        "dir": str(folder),
        "spec": str(folder / "spec.yaml"),
        "results": str(folder / "results"),
        "csv": str(folder / "data.csv"),
    }
    for name, content in case.files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    if case.csv is not None:
        path = folder / "data.csv"
        if isinstance(case.csv, bytes):
            path.write_bytes(case.csv)
        else:
            path.write_text(case.csv)
    for name, mode in case.modes.items():
        (folder / name).chmod(mode)
    for name in case.fifos:
        os.mkfifo(folder / name)
    uses_spec = any("{spec}" in a for a in case.argv)
    if uses_spec:
        if isinstance(case.spec_text, bytes):
            (folder / "spec.yaml").write_bytes(case.spec_text)
        elif case.spec_text is not None:
            (folder / "spec.yaml").write_text(case.spec_text)
        else:
            edits = dict(case.edits)
            if case.csv is not None:
                edits["data.csv"] = "data.csv"
            write_spec(folder / "spec.yaml", edited(edits))
    return subs


def launch_study(root: Path) -> dict[str, str]:
    """A real study with one trial that failed (a user objective that is always NaN), whose
    spec file was then edited (objective val_mae)."""
    root.mkdir(parents=True)
    (root / "nanobj.py").write_text("def score(y_true, y_pred):\n    return float('nan')\n")
    spec = tiny_spec(
        objective={"name": "nanobj:score", "direction": "minimize"},
        search={"trials": 1, "max_epochs": 1, "patience": None},
    )
    spec_path = write_spec(root / "tiny.yaml", spec)
    results = root / "results"
    proc = run_cli("launch", str(spec_path), "--results", str(results))
    assert proc.returncode == 0, proc.stderr
    assert "no complete trial" in proc.stdout, proc.stdout
    write_spec(spec_path, {**spec, "objective": "val_mae"})
    return {
        "study": str(results / "tiny"),
        "study_spec": str(spec_path),
        "study_results": str(results),
    }


#: The cases on the shared study run one at a time: a refused command may hold the study's
#: lock for a while (``launch`` loads TensorFlow before it finds the study), and another case
#: would then be refused with "in use by pid ..." instead of its own error.
SHARED_STUDY = threading.Lock()


def run_case(case: Case, folder: Path, study: Future[dict[str, str]] | None) -> Outcome:
    subs = prepare(case, folder)
    watched = [folder]
    if case.study:
        assert study is not None
        subs.update(study.result())
        watched.append(Path(subs["study_results"]))
    with SHARED_STUDY if case.study else contextlib.nullcontext():
        before = {f"{w}/{name}" for w in watched for name in files_under(w)}
        argv = [fill(a, subs) for a in (*case.argv, *case.args)]
        if case.own_process:
            proc = run_cli(*argv, cwd=folder, timeout=300)
        else:
            proc = cli_here(*argv, cwd=folder)
        after = {f"{w}/{name}" for w in watched for name in files_under(w)}
    return Outcome(proc, subs, folder / "results", after - before)


def selected_cases(request: pytest.FixtureRequest) -> list[Case]:
    ids = {
        item.callspec.params["case"].id
        for item in request.session.items
        if getattr(item, "module", None) is request.module
        and hasattr(item, "callspec")
        and "case" in item.callspec.params
    }
    return [c for c in CASES if c.id in ids and not skipped(c)]


def skipped(case: Case) -> bool:
    """Whether a skipif mark of the case holds (its command must not run at all)."""
    return any(m.mark.name == "skipif" and m.mark.args and m.mark.args[0] for m in case.marks)


@pytest.fixture(scope="module")
def outcomes(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Future[Outcome]]]:
    cases = selected_cases(request)
    root = tmp_path_factory.mktemp("bad_input")
    workers = max(2, min(4, os.cpu_count() or 2))
    with ThreadPoolExecutor(workers) as pool:
        study = None
        if any(c.study for c in cases):
            study = pool.submit(launch_study, root / "_study")
        futures = {
            c.id: pool.submit(run_case, c, root / c.id, study)
            for c in sorted(cases, key=lambda c: c.study)  # the study's users queue last
            if c.own_process
        }
        for c in cases:  # meanwhile, one at a time in this thread (stdout is redirected)
            if not c.own_process:
                done: Future[Outcome] = Future()
                try:
                    done.set_result(run_case(c, root / c.id, None))
                except Exception as exc:  # the case's own test fails with it
                    done.set_exception(exc)
                futures[c.id] = done
        yield futures


def param(case: Case) -> Any:
    marks = list(case.marks)
    if case.tf or case.study:
        marks.append(pytest.mark.slow)
    return pytest.param(case, id=case.id, marks=marks)


@pytest.mark.parametrize("case", [param(c) for c in CASES])
def test_bad_input(case: Case, outcomes: dict[str, Future[Outcome]]) -> None:
    out = outcomes[case.id].result()
    proc = out.proc
    shown = f"exit {proc.returncode}\nstdout: {proc.stdout!r}\nstderr:\n{proc.stderr}"
    assert "Traceback" not in proc.stderr, shown
    assert proc.returncode == 2, shown
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    noise = [line for line in lines if TF_NOISE.match(line)]
    lines = [line for line in lines if not TF_NOISE.match(line)]
    assert len(lines) == 1, shown
    line = lines[0]
    assert line.startswith("seqtune "), shown
    for needle in case.needles:
        assert fill(needle, out.subs) in line, f"{fill(needle, out.subs)!r} not in {line!r}"
    assert proc.stdout.strip() == "", shown
    for word in case.forbidden:
        assert word not in proc.stderr + proc.stdout, shown
    assert not out.created, f"created {sorted(out.created)}"
    assert not out.results.exists() or not any(out.results.iterdir()), (
        f"left {sorted(p.name for p in out.results.iterdir())} in {out.results}"
    )
    if noise:
        raise TensorFlowNoise(f"{len(noise)} TensorFlow log line(s) on stderr:\n{shown}")


def test_catalogue_is_large_and_unique() -> None:
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids))
    assert len(ids) >= 40
