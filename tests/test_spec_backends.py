"""A search setting the chosen backend never reads is refused in one line naming it,
whether the spec says the backend or --backend overrides it."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import run_cli, tiny_spec, write_spec

from seqtune.errors import UserError
from seqtune.spec import Overrides, Spec


@pytest.mark.parametrize(
    ("search", "field", "says"),
    [
        ({"backend": "hyperband", "pruner": "median"}, "search.pruner", "hyperband ignores it"),
        ({"backend": "hyperband", "pruner": "none"}, "search.pruner", "hyperband ignores it"),
        ({"backend": "tpe", "factor": 3}, "search.factor", "only by backend hyperband"),
        (
            {"backend": "random", "hyperband_iterations": 2},
            "search.hyperband_iterations",
            "only by backend hyperband",
        ),
    ],
)
def test_a_setting_the_backend_ignores_is_refused(
    search: dict[str, object], field: str, says: str
) -> None:
    with pytest.raises(UserError) as caught:
        Spec.from_dict(tiny_spec(search=search), Path("."))
    assert caught.value.field == field and says in caught.value.message


def test_a_tpe_spec_with_a_pruner_run_with_backend_hyperband_is_refused() -> None:
    spec = Spec.from_dict(tiny_spec(search={"pruner": "median"}), Path("."))
    with pytest.raises(UserError) as caught:
        Overrides(backend="hyperband").apply(spec)
    assert caught.value.field == "search.pruner"


def test_settings_every_backend_reads_pass_and_round_trip() -> None:
    spec = Spec.from_dict(tiny_spec(search={"backend": "hyperband", "factor": 2}), Path("."))
    assert Spec.from_dict(spec.to_dict(), Path(".")).search == spec.search
    tpe = Overrides(backend="tpe").apply(Spec.from_dict(tiny_spec(), Path(".")))
    assert tpe.search.backend == "tpe" and tpe.search.pruner == "median"


def test_the_cli_refuses_it_before_anything_is_written(tmp_path: Path) -> None:
    spec = write_spec(tmp_path / "s.yaml", tiny_spec(search={"pruner": "median"}))
    out = run_cli("launch", str(spec), "--backend", "hyperband", "--results", str(tmp_path / "r"))
    assert out.returncode == 2
    assert out.stderr.count("\n") == 1 and "search.pruner" in out.stderr
    assert not (tmp_path / "r").exists()
