"""Every shipped example is a valid spec whose data passes every check ``launch`` makes
(``seqtune check``: exit 0), so a user who copies one starts from something that runs."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from conftest import ROOT

from seqtune.cli import main

EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))


@pytest.fixture(scope="module")
def deauth_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The drone stream the deauth examples read (not public: generated, as they say)."""
    path = tmp_path_factory.mktemp("data") / "deauth.csv"
    assert main(["datasets", "drone-deauth", "-o", str(path)]) == 0
    return path


@pytest.mark.parametrize("spec", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_every_example_passes_check(
    spec: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    raw = yaml.safe_load(spec.read_text())
    if raw["data"]["csv"].endswith("deauth.csv"):  # generated first, as the example says
        raw["data"]["csv"] = str(request.getfixturevalue("deauth_csv"))
        spec = tmp_path / spec.name
        spec.write_text(yaml.safe_dump(raw, sort_keys=False))
    code = main(["check", str(spec)])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "ok" in out


def test_the_quick_start_selects_on_folds_with_repeats_and_an_ensemble() -> None:
    from seqtune.spec import Spec

    spec = Spec.from_file(ROOT / "examples" / "airline.yaml")
    assert spec.data.folds == 4 and spec.search.repeats == 2 and spec.search.members == 3
    assert "examples/airline.yaml" in (ROOT / "scripts" / "airline.sh").read_text()
