"""seqtune report / plot from the command line: one line and exit 2 when it cannot be done;
the forecast figure after an export is the exported model's own test evaluation."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from conftest import run_cli, tiny_spec
from report_studies import build_study

from seqtune.cli import main
from seqtune.report.evaluation import ForecastEval, evaluate_export
from seqtune.report.source import read_study


def one_line_error(capsys: pytest.CaptureFixture[str], code: int, verb: str) -> str:
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and err.startswith(f"seqtune {verb}: "), err
    return err


def test_a_bad_path_is_one_line_and_exit_2_before_tensorflow_loads(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    done = run_cli("report", str(missing))
    assert done.returncode == 2
    assert done.stderr == f"seqtune report: {missing}: no such study folder\n"
    done = run_cli("plot", str(tmp_path), "--what", "history", "-o", str(tmp_path / "h.png"))
    assert done.returncode == 2 and done.stderr.startswith(f"seqtune plot: {tmp_path}: not a ")


@pytest.fixture(scope="module")
def hyperband(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_study(tmp_path_factory.mktemp("hb"), backend="hyperband", trials=4).path


@pytest.fixture(scope="module")
def tpe(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_study(tmp_path_factory.mktemp("tpe"), trials=5).path


@pytest.mark.parametrize("what", ["history", "importance", "curves"])
def test_plot_writes_one_png(tpe: Path, tmp_path: Path, what: str) -> None:
    out = tmp_path / f"{what}.png"
    assert main(["plot", str(tpe), "--what", what, "-o", str(out)]) == 0
    assert out.read_bytes().startswith(b"\x89PNG") and out.stat().st_size > 5000


def test_plot_forecast_before_export_is_refused(
    tpe: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["plot", str(tpe), "--what", "forecast", "-o", str(tmp_path / "f.png")])
    assert "cannot draw forecast: No export yet" in one_line_error(capsys, code, "plot")
    assert not (tmp_path / "f.png").exists()


@pytest.mark.parametrize("what", ["importance", "curves"])
def test_plot_on_hyperband_is_refused(
    hyperband: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], what: str
) -> None:
    code = main(["plot", str(hyperband), "--what", what, "-o", str(tmp_path / "x.png")])
    one_line_error(capsys, code, "plot")


def test_plot_needs_a_png_name(tpe: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["plot", str(tpe), "--what", "history", "-o", "x.jpg"])
    assert "must end in .png" in one_line_error(capsys, code, "plot")


def test_forecast_is_the_exported_models_test_evaluation(tmp_path: Path) -> None:
    """A real one-trial study, exported in-process: the forecast's model RMSE/MAE are
    best.yaml's test metrics, and the baselines are the shifted true series."""
    from seqtune.exported.export import export
    from seqtune.spec import Spec
    from seqtune.study.lifecycle import Study

    raw = tiny_spec(search={"backend": "tpe", "trials": 1, "max_epochs": 2, "patience": 2})
    spec = Spec.from_dict(raw, tmp_path, tmp_path / "spec.yaml")
    study, runner = Study.launch(spec, tmp_path / "results")
    study.run(runner)
    export(study)
    study.close()
    ev = evaluate_export(read_study(study.path))
    assert isinstance(ev, ForecastEval)
    result = yaml.safe_load((study.path / "best.yaml").read_text())["result"]
    assert ev.metrics["model"]["rmse"] == pytest.approx(result["test"]["rmse"], rel=1e-6)
    assert ev.metrics["model"]["mae"] == pytest.approx(result["test"]["mae"], rel=1e-6)
    assert len(ev.actual) == 48  # airline's test months
    assert list(ev.predictions["persistence"][1:]) == list(ev.actual[:-1])
    assert list(ev.predictions["seasonal naive"][12:]) == list(ev.actual[:-12])
    assert ev.metrics["seasonal naive"]["rmse"] < ev.metrics["persistence"]["rmse"]
    out = tmp_path / "f.png"
    assert main(["plot", str(study.path), "--what", "forecast", "-o", str(out)]) == 0
    page = study.path / "report.html"
    assert main(["report", str(study.path)]) == 0
    text = page.read_text()
    # history, slices, curves, forecast; importances need 2 complete trials
    assert text.count("<img") == 4 and 'alt="exported model on the test part"' in text
    assert "<th>RMSE</th>" in text and "seasonal naive" in text
