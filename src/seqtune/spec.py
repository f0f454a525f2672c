"""The study spec: one YAML file with data, model, space, objective and search settings.

Parsing validates every section and raises :class:`~seqtune.errors.UserError` naming the
field; nothing is trained, written or imported (beyond the CSV's existence) here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from seqtune.data import DataSpec, Table
from seqtune.errors import UserError, check_keys
from seqtune.models.params import KINDS, LAYOUTS, check_param_names, check_param_values
from seqtune.objectives import Objective, parse_objective
from seqtune.spaces import Domain, SearchSpace

TOP_KEYS = ("study", "seed", "data", "model", "space", "objective", "search", "result")
SEARCH_KEYS = (
    "backend",
    "trials",
    "max_epochs",
    "patience",
    "pruner",
    "factor",
    "hyperband_iterations",
    "isolation",
)
BACKENDS = ("tpe", "random", "hyperband")
ISOLATIONS = ("none", "process")
PRUNERS = ("median", "percentile", "successive_halving", "hyperband", "none")
STUDY_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


@dataclass(frozen=True)
class SearchSettings:
    """How the search runs. ``trials`` is the study's total budget (all finished trials)."""

    backend: str = "tpe"
    trials: int | None = None  # None: 20 for tpe/random, the whole schedule for hyperband
    max_epochs: int = 100
    patience: int | None = 10
    pruner: str = "median"
    factor: int = 3
    hyperband_iterations: int = 1
    isolation: str = "none"  # "process": every trial in a fresh process

    @classmethod
    def from_dict(cls, raw: Any, field: str = "search") -> SearchSettings:
        if raw is None:
            raw = {}
        if not isinstance(raw, dict):
            raise UserError(f"expected a mapping, got {type(raw).__name__}", field)
        check_keys(raw, SEARCH_KEYS, field)
        out = cls()
        values: dict[str, Any] = {}
        for key in SEARCH_KEYS:
            if key not in raw:
                continue
            value = raw[key]
            where = f"{field}.{key}"
            if key in ("backend", "pruner", "isolation"):
                allowed = {"backend": BACKENDS, "pruner": PRUNERS, "isolation": ISOLATIONS}[key]
                if value is None and key == "pruner":
                    value = "none"
                if value not in allowed:
                    raise UserError(f"'{value}' is not one of {', '.join(allowed)}", where)
            elif key in ("patience", "trials") and value is None:
                pass
            else:
                if not isinstance(value, int) or isinstance(value, bool):
                    raise UserError(f"expected a whole number, got {value!r}", where)
                low = 2 if key == "factor" else (0 if key == "patience" else 1)
                if value < low:
                    raise UserError(f"must be at least {low}, got {value}", where)
            values[key] = value
        return replace(out, **values)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "backend": self.backend,
            "trials": self.trials,
            "max_epochs": self.max_epochs,
            "patience": self.patience,
        }
        if self.backend == "hyperband":
            out["factor"] = self.factor
            out["hyperband_iterations"] = self.hyperband_iterations
        else:
            out["pruner"] = self.pruner
        if self.isolation != "none":
            out["isolation"] = self.isolation
        return out


@dataclass(frozen=True)
class Spec:
    """A whole, validated study spec."""

    study: str
    seed: int
    data: DataSpec
    kind: str
    layout: str
    space: SearchSpace
    objective: Objective
    search: SearchSettings
    source: Path | None = None
    result: dict[str, Any] | None = field(default=None, compare=False)

    @property
    def base_dir(self) -> Path:
        return self.source.parent if self.source is not None else Path.cwd()

    @classmethod
    def from_file(cls, path: str | Path) -> Spec:
        path = Path(path)
        if not path.exists():
            raise UserError("no such file", str(path))
        if path.is_dir():
            raise UserError("is a folder, expected a spec file (.yaml)", str(path))
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise UserError(f"cannot read: {exc}", str(path)) from None
        try:
            raw = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
            problem = getattr(exc, "problem", None) or "invalid YAML"
            raise UserError(f"not valid YAML{where}: {problem}", str(path)) from None
        return cls.from_dict(raw, path.resolve().parent, source=path.resolve())

    @classmethod
    def from_dict(cls, raw: Any, base_dir: Path, source: Path | None = None) -> Spec:
        if not isinstance(raw, dict):
            raise UserError(
                "the spec must be a YAML mapping (study, data, model, space, ...)",
                str(source) if source else "spec",
            )
        check_keys(raw, TOP_KEYS, "")
        study = raw.get("study", source.stem if source else None)
        if not isinstance(study, str) or not STUDY_NAME.match(study):
            raise UserError(
                f"{study!r} is not a valid study name (letters, digits, '.', '_', '-'; "
                "no path separators)",
                "study",
            )
        seed = raw.get("seed", 0)
        if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed < 2**31:
            raise UserError(f"expected a whole number in [0, 2^31), got {seed!r}", "seed")
        if "data" not in raw:
            raise UserError("missing section", "data")
        data = DataSpec.from_dict(raw["data"], base_dir)
        kind, layout = _parse_model(raw.get("model"))
        space = SearchSpace.from_dict(raw.get("space") or {})
        check_param_names(kind, space.names)
        check_param_values(space)
        if data.task == "classify" and "transform" in space:
            raise UserError("target transforms apply to forecasting only", "space.transform")
        if "objective" not in raw:
            raise UserError(
                "missing (e.g. val_rmse for forecasting, val_f1 for classifying)", "objective"
            )
        objective = parse_objective(raw["objective"], data.task, base_dir)
        search = SearchSettings.from_dict(raw.get("search"))
        result = raw.get("result")
        if result is not None and not isinstance(result, dict):
            raise UserError("expected a mapping (written by seqtune export)", "result")
        return cls(study, seed, data, kind, layout, space, objective, search, source, result)

    def to_dict(self, relative_to: Path | None = None) -> dict[str, Any]:
        """The spec as plain data, with the CSV path relative to ``relative_to`` when given."""
        data = self.data.to_dict()
        if relative_to is not None:
            data["csv"] = _relative(self.data.csv, relative_to)
        out: dict[str, Any] = {
            "study": self.study,
            "seed": self.seed,
            "data": data,
            "model": {"kind": self.kind, "layout": self.layout},
            "space": self.space.to_dict(),
            "objective": self.objective.to_spec(relative_to),
            "search": self.search.to_dict(),
        }
        if self.result is not None:
            out["result"] = self.result
        return out

    def fingerprint(self) -> dict[str, Any]:
        """What a study may not change between launch and resume, as comparable data."""
        data = self.data.to_dict()
        data["csv"] = str(self.data.csv)
        search = self.search.to_dict()
        search.pop("trials")
        search.pop("isolation", None)  # how trials run, not what they compute
        return {
            "seed": self.seed,
            "data": data,
            "model": {"kind": self.kind, "layout": self.layout},
            "space": self.space.to_dict(),
            "objective": self.objective.to_spec(),
            "search": search,
        }


def _parse_model(raw: Any) -> tuple[str, str]:
    if raw is None:
        raise UserError("missing section (e.g. {kind: lstm, layout: timesteps})", "model")
    if isinstance(raw, str):
        raw = {"kind": raw}
    if not isinstance(raw, dict):
        raise UserError(f"expected a mapping, got {type(raw).__name__}", "model")
    check_keys(raw, ("kind", "layout"), "model")
    kind = raw.get("kind")
    if kind not in KINDS:
        raise UserError(f"{kind!r} is not one of {', '.join(KINDS)}", "model.kind")
    layout = raw.get("layout", "timesteps")
    if layout not in LAYOUTS:
        raise UserError(f"{layout!r} is not one of {', '.join(LAYOUTS)}", "model.layout")
    return kind, layout


def _relative(path: Path, start: Path) -> str:
    import os

    try:
        return os.path.relpath(path, start)
    except ValueError:  # another drive on Windows
        return str(path)


def diff_fingerprints(old: dict[str, Any], new: dict[str, Any], prefix: str = "") -> list[str]:
    """Human-readable differences between two fingerprints: ``space.units: was X, now Y``."""
    out: list[str] = []
    for key in sorted(set(old) | set(new), key=str):
        where = f"{prefix}{key}"
        a, b = old.get(key, "<absent>"), new.get(key, "<absent>")
        if isinstance(a, dict) and isinstance(b, dict):
            out.extend(diff_fingerprints(a, b, where + "."))
        elif a != b:
            out.append(f"{where}: was {_short(a)}, now {_short(b)}")
    return out


def _short(value: Any) -> str:
    text = yaml.safe_dump(value, default_flow_style=True, width=1000).strip()
    return text.removesuffix("...").strip()


def validate_with_data(spec: Spec) -> Table:
    """Load the data and check the spec against it, and import a user objective and call
    it once on a small sample of the arrays it will get (refused if it raises, exits, runs
    past its timeout or returns anything but a finite number): every input mistake
    surfaces here, before anything is written and without TensorFlow."""
    from seqtune.data import load_table
    from seqtune.objectives import load_user_function
    from seqtune.objectives.guard import probe

    table = load_table(spec.data)
    check_spec_against_data(spec, table)
    if spec.objective.function is not None:
        fn = load_user_function(spec.objective.function, spec.objective.path)
        n_classes = len(table.classes) if table.classes is not None else 2
        probe(fn, spec.objective.function, table.task, n_classes, spec.objective.timeout)
    return table


def check_spec_against_data(spec: Spec, table: Table) -> None:
    """Refuse, before anything runs, a space the data cannot serve."""
    space = spec.space
    look_backs = space.values_of("look_back") if "look_back" in space else [1]
    max_lb = int(space.max_value("look_back")) if "look_back" in space else 1
    if look_backs is not None and any(int(v) < 1 for v in look_backs):
        raise UserError("look_back must be at least 1", "space.look_back")
    transforms = (
        [str(t) for t in (space.values_of("transform") or ["none"])]
        if "transform" in space
        else ["none"]
    )
    for t in transforms:
        table.check_transform(t)
    table.check_capacity(max_lb, transforms)


@dataclass
class Overrides:
    backend: str | None = None
    trials: int | None = None
    max_epochs: int | None = None
    study: str | None = None

    def apply(self, spec: Spec) -> Spec:
        search = spec.search
        if self.backend is not None:
            search = replace(search, backend=self.backend)
        if self.trials is not None:
            search = replace(search, trials=self.trials)
        if self.max_epochs is not None:
            search = replace(search, max_epochs=self.max_epochs)
        out = replace(spec, search=search)
        if self.study is not None:
            out = replace(out, study=self.study)
        return Spec.from_dict(out.to_dict(relative_to=spec.base_dir), spec.base_dir, spec.source)


def fixed_values(spec: Spec) -> dict[str, Any]:
    """The values of a spec whose every parameter is fixed; UserError names a searched one."""

    def draw(domain: Domain) -> Any:
        raise UserError(
            "is searched; `seqtune train` needs every parameter fixed "
            "(export a study with `seqtune export`, or write a plain value)",
            f"space.{domain.name}",
        )

    return spec.space.sample(draw)
