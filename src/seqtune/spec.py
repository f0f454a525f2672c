"""The study spec: one YAML file with data, model, space, objective and search settings.

Parsing validates every section and raises :class:`~seqtune.errors.UserError` naming the
field; nothing is trained, written or imported (beyond the CSV's existence) here.
"""

from __future__ import annotations

import re
import stat
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from seqtune.data import DataSpec
from seqtune.data.spec import parse_calendar
from seqtune.errors import FAILED, Gather, UserError, check_keys
from seqtune.kinds import kind_space, kinds_of, model_dict, parse_kind, space_dict
from seqtune.models.params import LAYOUTS, check_param_names, check_param_values
from seqtune.objectives import Objective, parse_objective
from seqtune.spaces import Domain, SearchSpace
from seqtune.spaces.domains import Int

if TYPE_CHECKING:
    from seqtune.data import Table

TOP_KEYS = ("study", "seed", "data", "model", "space", "objective", "search", "result")
MODEL_KEYS = ("kind", "layout")
SEARCH_KEYS = (
    "backend",
    "trials",
    "max_epochs",
    "patience",
    "pruner",
    "factor",
    "hyperband_iterations",
    "isolation",
    "repeats",
    "ensemble",
    "aggregate",
    "combine",
)
#: ``search.combine``: true (the default rule), false, a rule, or ``auto`` (the rule the
#: left-out folds choose); seqtune.exported.combination
COMBINE_RULES = ("auto", "network", "average", "inverse", "stacking", "pooled")
BACKENDS = ("tpe", "random", "hyperband")
ISOLATIONS = ("none", "process")
AGGREGATES = ("mean", "median")
PRUNERS = ("median", "percentile", "successive_halving", "hyperband", "none")
# fullmatch only: with match, "$" also matches before a trailing newline ("abc\n")
STUDY_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


# ---- reading the spec file -------------------------------------------------------------------
# A spec is a few hundred bytes of YAML. These limits refuse hostile files (an alias bomb, a
# huge or binary file, a stream of documents, thousands of nested lists) before any value is
# built, so that no error message ever has to show a huge expanded structure.
MAX_SPEC_BYTES = 1 << 20  # 1 MiB
MAX_SPEC_NODES = 100_000  # values (scalars, lists, mappings) once aliases are expanded
MAX_SPEC_DEPTH = 50  # nesting levels, aliases expanded
MERGE_TAG = "tag:yaml.org,2002:merge"


def read_spec_text(path: Path) -> str:
    """The spec file's text: a regular file of at most MAX_SPEC_BYTES of UTF-8, no NUL."""
    where = str(path)
    try:
        info = path.stat()
    except FileNotFoundError:
        raise UserError("no such file", where) from None
    except OSError as exc:
        raise UserError(f"cannot read: {exc.strerror or type(exc).__name__}", where) from None
    if stat.S_ISDIR(info.st_mode):
        raise UserError("is a folder, expected a spec file (.yaml)", where)
    if not stat.S_ISREG(info.st_mode):  # a FIFO would block the read until someone writes
        raise UserError("is not a regular file (a FIFO, device or socket?)", where)
    too_big = f"larger than the {MAX_SPEC_BYTES >> 20} MiB limit for a spec file"
    if info.st_size > MAX_SPEC_BYTES:
        raise UserError(f"is {info.st_size:,} bytes, {too_big}", where)
    try:
        with path.open("rb") as stream:
            data = stream.read(MAX_SPEC_BYTES + 1)
    except OSError as exc:
        raise UserError(f"cannot read: {exc.strerror or type(exc).__name__}", where) from None
    if len(data) > MAX_SPEC_BYTES:  # grew since stat, or a file that reports no size
        raise UserError(f"is {too_big}", where)
    nul = data.find(b"\0")
    if nul >= 0:
        line = data.count(b"\n", 0, nul) + 1
        raise UserError(f"has a NUL byte at line {line}: a binary file, not a YAML spec", where)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        byte = data[exc.start : exc.start + 1].hex()
        raise UserError(
            f"cannot read: not UTF-8 text (byte 0x{byte} at line {line})", where
        ) from None


def load_spec_yaml(text: str, where: str) -> Any:
    """The one YAML document in ``text`` as plain data, within the node and depth limits and
    with no duplicate key; any problem is a one-line UserError naming ``where``."""
    loader = _SpecLoader(text, where)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_duplicate_keys(loader, node, Path(where).name)
        return loader.construct_document(node)
    except yaml.YAMLError as exc:
        raise UserError(_yaml_problem(exc, text), where) from None
    except RecursionError:  # the depth limit should come first; never a traceback
        raise UserError(f"nested more than {MAX_SPEC_DEPTH} levels deep", where) from None
    finally:
        loader.dispose()


def _yaml_problem(exc: yaml.YAMLError, text: str) -> str:
    if isinstance(exc, yaml.reader.ReaderError):
        if _SafeBase.byte_positions:
            line = text.encode()[: exc.position].count(b"\n") + 1
        else:
            line = text.count("\n", 0, exc.position) + 1
        char = chr(exc.character) if isinstance(exc.character, int) else exc.character
        return f"not valid YAML: character {char!r} at line {line} is not allowed"
    mark = getattr(exc, "problem_mark", None)
    if getattr(exc, "context", None) == "expected a single document in the stream" and mark:
        return (
            f"holds several YAML documents (another starts at line {mark.line + 1}); "
            "a spec is a single document"
        )
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
    problem = getattr(exc, "problem", None) or "invalid YAML"
    return f"not valid YAML{where}: {problem}"


if yaml.__with_libyaml__:
    from yaml.composer import Composer
    from yaml.constructor import SafeConstructor
    from yaml.cyaml import CParser
    from yaml.resolver import Resolver

    class _SafeBase(Composer, CParser, SafeConstructor, Resolver):  # type: ignore[misc]
        """The safe loader on libyaml's parser (10x faster) with PyYAML's own composer, so
        that composing can be counted; libyaml's marks count bytes, not characters."""

        byte_positions = True

        def __init__(self, text: str) -> None:
            CParser.__init__(self, text)
            Composer.__init__(self)
            SafeConstructor.__init__(self)
            Resolver.__init__(self)

else:  # pragma: no cover - PyYAML built without libyaml

    class _SafeBase(yaml.SafeLoader):  # type: ignore[no-redef]
        byte_positions = False


class _SpecLoader(_SafeBase):
    """The safe loader, counting while it composes the nodes and the nesting depth the
    document would have once its aliases are expanded: an alias bomb (9 aliases of 9 aliases
    of ... grows as 9**n) is refused after a few hundred nodes, before anything is built."""

    def __init__(self, text: str, where: str) -> None:
        super().__init__(text)
        self.where = where
        self._count = 0  # nodes so far, each alias counted as the nodes it stands for
        self._depth = 0  # nodes open around the one being composed
        self._size: dict[yaml.Node, int] = {}  # expanded node count of each composed node
        self._height: dict[yaml.Node, int] = {}  # expanded nesting depth of each

    def _refuse(self, what: str, mark: Any) -> UserError:
        return UserError(f"{what} (at line {mark.line + 1})", self.where)

    def _add(self, nodes: int, mark: Any) -> None:
        self._count += nodes
        if self._count > MAX_SPEC_NODES:
            raise self._refuse(
                f"holds more than {MAX_SPEC_NODES:,} values once YAML aliases are expanded",
                mark,
            )

    def _deep(self, mark: Any) -> UserError:
        return self._refuse(f"nested more than {MAX_SPEC_DEPTH} levels deep", mark)

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            node = super().compose_node(parent, index)
            if node not in self._size:
                raise self._refuse(
                    f"alias *{event.anchor} is inside the node it names (a recursive structure)",
                    event.start_mark,
                )
            if self._depth + self._height[node] > MAX_SPEC_DEPTH:
                raise self._deep(event.start_mark)
            self._add(self._size[node], event.start_mark)
            return node
        if self._depth >= MAX_SPEC_DEPTH:
            raise self._deep(event.start_mark)
        self._add(1, event.start_mark)
        self._depth += 1
        try:
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
        children: list[yaml.Node] = []
        if isinstance(node, yaml.SequenceNode):
            children = node.value
        elif isinstance(node, yaml.MappingNode):
            children = [child for pair in node.value for child in pair]
        self._size[node] = 1 + sum(self._size[child] for child in children)
        self._height[node] = 1 + max((self._height[child] for child in children), default=0)
        return node


def _check_duplicate_keys(loader: _SpecLoader, root: yaml.Node, file: str) -> None:
    """Refuse a key given twice in one mapping (YAML loaders silently keep the last one),
    naming its dotted path and both lines. A key overriding a merged one (``<<``) is fine."""
    seen_nodes: set[int] = set()
    stack: list[tuple[yaml.Node, str]] = [(root, "")]
    while stack:
        node, path = stack.pop()
        if id(node) in seen_nodes:
            continue
        seen_nodes.add(id(node))
        if isinstance(node, yaml.SequenceNode):
            stack.extend((child, f"{path}[{i}]") for i, child in enumerate(node.value))
            continue
        if not isinstance(node, yaml.MappingNode):
            continue
        first: dict[Any, yaml.Node] = {}
        for key_node, value_node in node.value:
            if isinstance(key_node, yaml.ScalarNode):
                name = _shown(key_node.value)
                if key_node.tag != MERGE_TAG:
                    key = loader.construct_object(key_node)
                    try:
                        earlier = first.setdefault(key, key_node)
                    except TypeError:  # unhashable: the constructor refuses it in its words
                        earlier = key_node
                    if earlier is not key_node:
                        where = f"{path}.{name}" if path else name
                        raise UserError(
                            f"duplicate key '{name}' at lines {earlier.start_mark.line + 1} and "
                            f"{key_node.start_mark.line + 1} of {file} "
                            "(YAML would silently keep the last one)",
                            where,
                        )
            else:
                name = "?"
            stack.append((key_node, f"{path}.{name}" if path else name))
            stack.append((value_node, f"{path}.{name}" if path else name))


def _shown(text: str, limit: int = 60) -> str:
    """``text`` cut to ``limit`` characters for a message."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


_OPTUNA_IGNORES = (
    "used only by backend hyperband (keras-tuner's schedule); remove it, or set backend: hyperband"
)
#: backend -> {search setting it never reads: why, as the refusal says}
IGNORED_BY: dict[str, dict[str, str]] = {
    "hyperband": {
        "pruner": "backend hyperband ignores it: keras-tuner's Hyperband stops trials only "
        "between its rounds; remove it, or use backend tpe with this pruner",
    },
    "tpe": {"factor": _OPTUNA_IGNORES, "hyperband_iterations": _OPTUNA_IGNORES},
    "random": {"factor": _OPTUNA_IGNORES, "hyperband_iterations": _OPTUNA_IGNORES},
}


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
    #: seeds per fold (or per holdout): a trial trains ``repeats`` models of its
    #: configuration on every fold, and scores their mean prediction
    repeats: int = 1
    #: models refitted at export and ``train`` (seeds as the repeats'), saved as one model
    #: whose output is their mean; None: as many as ``repeats``
    ensemble: int | None = None
    #: how a trial's value combines its folds' values: mean | median
    aggregate: str = "mean"
    #: whether export combines the network with statistical models (None: not given, the
    #: default of the study's version; a rule name forces that rule), see
    #: seqtune.exported.combination
    combine: bool | str | None = None
    #: the keys the spec gave (a setting the backend would ignore is refused)
    given: tuple[str, ...] = field(default=(), compare=False)

    @classmethod
    def from_dict(cls, raw: Any, field: str = "search") -> SearchSettings:
        if raw is None:
            raw = {}
        if not isinstance(raw, dict):
            raise UserError(f"expected a mapping, got {type(raw).__name__}", field)
        gather = Gather()  # every bad setting named, not only the first
        for key in raw:
            gather(check_keys, {key: None}, SEARCH_KEYS, field)
        out = cls()
        values: dict[str, Any] = {}
        for key in SEARCH_KEYS:
            if key in raw:
                values[key] = gather(_search_value, key, raw[key], f"{field}.{key}")
        gather.done()
        settings = replace(out, **values, given=tuple(k for k in SEARCH_KEYS if k in raw))
        settings.check_backend(field)
        return settings

    @property
    def members(self) -> int:
        """Models refitted at export: ``ensemble``, or ``repeats`` when not given."""
        return self.ensemble if self.ensemble is not None else self.repeats

    def check_backend(self, field: str = "search") -> None:
        """Refuse a setting the chosen backend never reads: a study that silently ignores
        it is not the study its spec describes."""
        ignored = IGNORED_BY[self.backend]
        for key in self.given:
            if key in ignored:
                raise UserError(ignored[key], f"{field}.{key}")

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
        for key in self.given:  # kept so that a backend override can refuse it
            if key in IGNORED_BY[self.backend]:
                out[key] = getattr(self, key)
        if self.isolation != "none":
            out["isolation"] = self.isolation
        # written only when set: a study launched before they existed keeps its fingerprint
        if self.repeats != 1:
            out["repeats"] = self.repeats
        if self.ensemble is not None:
            out["ensemble"] = self.ensemble
        if self.aggregate != "mean":
            out["aggregate"] = self.aggregate
        if self.combine is not None:
            out["combine"] = self.combine
        return out


def _search_value(key: str, value: Any, where: str) -> Any:
    """One ``search:`` setting, checked (``pruner: null`` is ``none``)."""
    if key in ("backend", "pruner", "isolation", "aggregate"):
        allowed = {
            "backend": BACKENDS,
            "pruner": PRUNERS,
            "isolation": ISOLATIONS,
            "aggregate": AGGREGATES,
        }[key]
        if value is None and key == "pruner":
            value = "none"
        if value not in allowed:
            raise UserError(f"'{value}' is not one of {', '.join(allowed)}", where)
    elif key == "combine":
        if not isinstance(value, bool) and value not in COMBINE_RULES:
            raise UserError(
                f"expected true, false or one of {', '.join(COMBINE_RULES)}, got {value!r}",
                where,
            )
    elif key in ("patience", "trials", "ensemble") and value is None:
        pass
    else:
        if not isinstance(value, int) or isinstance(value, bool):
            raise UserError(f"expected a whole number, got {value!r}", where)
        low = 2 if key == "factor" else (0 if key == "patience" else 1)
        if value < low:
            raise UserError(f"must be at least {low}, got {value}", where)
    return value


@dataclass(frozen=True)
class Spec:
    """A whole, validated study spec."""

    study: str
    seed: int
    data: DataSpec
    kind: str  # "choice" when searched: the kinds are the space's `kind` (seqtune.kinds)
    layout: str
    space: SearchSpace
    objective: Objective
    search: SearchSettings
    source: Path | None = None
    result: dict[str, Any] | None = field(default=None, compare=False)

    @property
    def kinds(self) -> tuple[str, ...]:
        """Every model kind a trial can build (``seqtune.kinds.kind_of``: a trial's)."""
        return kinds_of(self)

    @property
    def base_dir(self) -> Path:
        return self.source.parent if self.source is not None else Path.cwd()

    @classmethod
    def from_file(cls, path: str | Path) -> Spec:
        path = Path(path)
        raw = load_spec_yaml(read_spec_text(path), str(path))
        return cls.from_dict(raw, path.resolve().parent, source=path.resolve())

    @classmethod
    def from_dict(cls, raw: Any, base_dir: Path, source: Path | None = None) -> Spec:
        if not isinstance(raw, dict):
            raise UserError(
                "the spec must be a YAML mapping (study, data, model, space, ...)",
                str(source) if source else "spec",
            )
        # every independent section is checked, each mistake kept (``seqtune check`` lists
        # them all); a check that needs a section that failed is skipped. The first
        # problem is the one a single refusal names (Gather.done)
        gather = Gather()
        for key in raw:  # every unknown key, not only the first
            gather(check_keys, {key: None}, TOP_KEYS, "")
        study = gather(_parse_study, raw.get("study", source.stem if source else None))
        seed = gather(_parse_seed, raw.get("seed", 0))
        if "data" not in raw:
            gather(_missing, "data", "missing section")
        data = gather(DataSpec.from_dict, raw["data"], base_dir) if "data" in raw else FAILED
        model = gather(_parse_model, raw.get("model"))
        given_kind, layout = (FAILED, FAILED) if model is FAILED else model
        space = gather(_parse_space, raw.get("space") or {})
        kind: Any = FAILED
        if given_kind is not FAILED and space is not FAILED:
            both = gather(kind_space, given_kind, space)  # refuses a `kind` in the space
            kind, space = (FAILED, FAILED) if both is FAILED else both
        if given_kind is not FAILED:  # every parameter no kind of the spec would read
            kinds = (given_kind,) if isinstance(given_kind, str) else given_kind.choices
            names = space.names if space is not FAILED else _names_of(raw.get("space"))
            for name in names:
                if name != "kind":
                    gather(check_param_names, kinds, [name])
        if space is not FAILED:
            gather(check_param_values, space)
        if space is not FAILED and data is not FAILED:
            gather(_check_space_for_data, space, data)
        if "objective" not in raw:
            gather(
                _missing,
                "objective",
                "missing (e.g. val_rmse for forecasting, val_f1 for classifying)",
            )
        objective = FAILED
        if "objective" in raw and data is not FAILED:
            objective = gather(parse_objective, raw["objective"], data.task, base_dir)
        search = gather(SearchSettings.from_dict, raw.get("search"))
        if search is not FAILED and data is not FAILED:
            gather(_check_backend_for_data, search, data)
        result = raw.get("result")
        if result is not None and not isinstance(result, dict):
            gather(_missing, "result", "expected a mapping (written by seqtune export)")
        gather.done()
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
            "model": model_dict(self),
            "space": space_dict(self),
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
        search.pop("combine", None)  # what export makes of the trials, not the trials
        return {
            "seed": self.seed,
            "data": data,
            "model": model_dict(self),
            "space": space_dict(self),
            "objective": self.objective.to_spec(),
            "search": search,
        }


def _missing(field: str, message: str) -> None:
    raise UserError(message, field)


def _parse_study(study: Any) -> str:
    if not isinstance(study, str) or not STUDY_NAME.fullmatch(study):
        raise UserError(
            f"{study!r} is not a valid study name (letters, digits, '.', '_', '-'; "
            "no path separators)",
            "study",
        )
    return study


def _parse_seed(seed: Any) -> int:
    if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed < 2**31:
        raise UserError(f"expected a whole number in [0, 2^31), got {seed!r}", "seed")
    return seed


def _parse_space(raw: Any) -> SearchSpace:
    """The ``space:`` mapping; each parameter's domain read on its own first, so that
    every bad one is named (their relations, ``per``, are checked once all are read)."""
    if isinstance(raw, dict):
        from seqtune.spaces.parse import domain_from_spec

        gather = Gather()
        for name, domain in raw.items():
            gather(domain_from_spec, name, domain, "space")
        gather.done()
    return SearchSpace.from_dict(raw)


def _names_of(raw: Any) -> list[str]:
    """The parameter names of a ``space:`` mapping that could not be read whole."""
    return [str(name) for name in raw] if isinstance(raw, dict) else []


def _check_space_for_data(space: SearchSpace, data: DataSpec) -> None:
    if data.task == "classify" and "transform" in space:
        raise UserError("target transforms apply to forecasting only", "space.transform")
    _check_calendar_space(space, data)


def _check_backend_for_data(search: SearchSettings, data: DataSpec) -> None:
    if search.backend == "hyperband" and (data.folds != 1 or data.gap != 0):
        raise UserError(
            "rolling-origin folds run on backend tpe or random: Hyperband continues a "
            "trial from one model's weights, and a fold trial has one model per fold",
            "data.split.folds",
        )
    if search.backend == "hyperband" and (search.repeats != 1 or search.members != 1):
        where = "search.repeats" if search.repeats != 1 else "search.ensemble"
        raise UserError(
            "repeats and ensembles run on backend tpe or random: Hyperband continues a "
            "trial from one model's weights",
            where,
        )


def _check_calendar_space(space: SearchSpace, data: DataSpec) -> None:
    """A ``calendar`` in the space (searched, or fixed there) needs what ``data.calendar``
    needs, and is the calendar's one setting; the form of each value is the catalogue's
    check. What the time index's frequency can give is checked with the data."""
    if "calendar" not in space:
        return
    field = "space.calendar"
    if data.task != "forecast":
        raise UserError("calendar inputs apply to forecasting only", field)
    if data.time is None:
        raise UserError("calendar inputs are derived from the time index: set data.time", field)
    if data.calendar:
        raise UserError(
            f"data.calendar [{', '.join(data.calendar)}] already fixes the calendar inputs "
            "of every trial: search them here or fix them there, not both",
            field,
        )


def _parse_model(raw: Any) -> tuple[Any, str]:
    if raw is None:
        raise UserError("missing section (e.g. {kind: lstm, layout: timesteps})", "model")
    if isinstance(raw, str):
        raw = {"kind": raw}
    if not isinstance(raw, dict):
        raise UserError(f"expected a mapping, got {type(raw).__name__}", "model")
    check_keys(raw, MODEL_KEYS, "model")
    kind = parse_kind(raw.get("kind"))
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

    table = load_table(spec.data)
    check_spec_against_data(spec, table)
    check_user_objective(spec, table)
    return table


def check_user_objective(spec: Spec, table: Table) -> None:
    """Import a user objective and call it once on a small sample of the arrays it will get
    (UserError if it raises, exits, runs past its timeout or returns a non-number)."""
    if spec.objective.function is None:
        return
    from seqtune.objectives import load_user_function
    from seqtune.objectives.guard import probe

    fn = load_user_function(spec.objective.function, spec.objective.path)
    n_classes = len(table.classes) if table.classes is not None else 2
    probe(fn, spec.objective.function, table.task, n_classes, spec.objective.timeout)


def searched_look_backs(spec: Spec) -> Sequence[int]:
    """Every look_back the space can draw, ascending (``[1]``, the default, when the space
    does not name it); a range for an int domain, so a huge one costs nothing."""
    if "look_back" not in spec.space:
        return [1]
    domain = spec.space["look_back"]
    if isinstance(domain, Int):
        return range(domain.low, domain.high + 1, domain.step)
    return sorted({int(v) for v in spec.space.values_of("look_back") or []})


def searched_transforms(spec: Spec) -> list[str]:
    """Every target transform the space can draw (``["none"]`` when it names none)."""
    if "transform" not in spec.space:
        return ["none"]
    return [str(t) for t in spec.space.values_of("transform") or ["none"]]


def check_spec_against_data(spec: Spec, table: Table) -> None:
    """Refuse, before anything runs, a space the data cannot serve."""
    space = spec.space
    # look_back >= 1 is the parameter catalogue's bound, refused when the spec is parsed
    max_lb = max(searched_look_backs(spec), default=1)
    transforms = searched_transforms(spec)
    gather = Gather()  # every transform the target cannot take, each calendar: all named
    for t in transforms:
        gather(table.check_transform, t)
    if not gather.found:  # the windows are counted after the rows the transforms lose
        gather(table.check_capacity, max_lb, transforms)
    calendars = space.values_of("calendar") if "calendar" in space else None
    for value in calendars or []:
        items = parse_calendar(value)
        if items:  # what the index's frequency cannot give, in one line
            gather(table.calendar_values, items, "space.calendar")
    gather.done()


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
            "model.kind" if domain.name == "kind" else f"space.{domain.name}",
        )

    return spec.space.sample(draw)
