"""Each figure on a real (formula-trained) study: a non-empty image, or the sentence why not."""

from __future__ import annotations

import io
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image
from report_studies import build_study, mixed_study

from seqtune.objectives import metrics
from seqtune.report import figures
from seqtune.report.evaluation import ForecastEval, _classify, _forecast
from seqtune.report.missing import Unavailable
from seqtune.report.source import StudyData, read_study


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory) -> StudyData:
    return read_study(mixed_study(tmp_path_factory.mktemp("mixed")).path)


def assert_image(fig: figures.Figure) -> None:
    data = figures.png(fig)
    image = np.asarray(Image.open(io.BytesIO(data)).convert("L"))
    assert image.shape[0] > 200 and image.shape[1] > 500
    assert image.std() > 5  # something is drawn on the white


def test_the_mixed_study_has_every_state(mixed: StudyData) -> None:
    states = {r.state for r in mixed.records}
    assert {"complete", "pruned", "failed"} <= states


@pytest.mark.parametrize("name", ["history", "importance", "slices", "curves"])
def test_each_figure_draws_a_non_empty_image(mixed: StudyData, name: str) -> None:
    assert_image(getattr(figures, name)(mixed))


def test_history_marks_pruned_and_failed_trials_and_the_best_so_far(mixed: StudyData) -> None:
    labels = [t.get_text() for t in figures.history(mixed).axes[0].get_legend().get_texts()]
    assert "best so far" in labels
    assert any(label.startswith("pruned") for label in labels)
    assert "failed (no value)" in labels


def test_curves_are_the_best_five_trials_per_epoch(mixed: StudyData) -> None:
    ax = figures.curves(mixed).axes[0]
    lines = [line for line in ax.get_lines() if line.get_label().startswith("trial")]
    best = sorted(mixed.complete, key=lambda r: r.value)[:5]
    assert [line.get_label().split(":")[0] for line in lines] == [f"trial {r.number}" for r in best]
    assert all(len(line.get_xdata()) == 4 for line in lines)  # one point per epoch


def test_importance_covers_the_searched_parameters(mixed: StudyData) -> None:
    from seqtune.report.importance import importances

    values = importances(mixed)
    assert abs(sum(values.values()) - 1) < 1e-6
    assert {"look_back", "dropout", "learning_rate"} <= set(values)


def test_fewer_than_two_complete_trials_leave_importances_out(tmp_path: Path) -> None:
    study = build_study(tmp_path, trials=3, fail=lambda v: True)
    data = read_study(study.path)
    for name in ("importance", "slices", "curves"):
        with pytest.raises(Unavailable):
            getattr(figures, name)(data)
    assert_image(figures.history(data))  # the failed trials, marked


def test_hyperband_has_no_curves_nor_importances(tmp_path: Path) -> None:
    data = read_study(build_study(tmp_path, backend="hyperband", trials=6).path)
    with pytest.raises(Unavailable, match="keras-tuner keeps one value"):
        figures.curves(data)
    with pytest.raises(Unavailable, match="Hyperband"):
        figures.importance(data)
    assert_image(figures.history(data))
    assert_image(figures.slices(data))


def test_classification_figure_and_its_precision_recall_curve() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 200)
    proba = np.clip(y * 0.6 + rng.uniform(0, 0.5, 200), 0, 1)
    ev = _classify(SimpleNamespace(classes=np.array(["normal", "attack"])), y, proba, 3, {})
    assert ev.confusion.sum() == 200
    assert ev.pr_curves[0][3] == pytest.approx(metrics.pr_auc(y, proba))
    assert_image(figures.forecast(ev))


def horizon_eval(horizon: int = 3) -> ForecastEval:
    """A test part of 6 windows over a seasonal series, forecast with a known error."""
    t = np.arange(40, dtype=np.float64)
    series = 100 + t + 10 * np.sin(2 * np.pi * t / 12)
    rows = np.arange(30, 30 + 6)  # first target row of each window
    target = rows[:, None] + np.arange(horizon)
    windows = SimpleNamespace(target_rows=lambda part: rows, target_values=series, horizon=horizon)
    y_true = series[target]
    y_pred = y_true + np.arange(1, horizon + 1)  # step h is off by h
    ev = _forecast(windows, y_true, y_pred, 4, {}, 12)
    ev.val_by_step = {"rmse": [1.0, 2.0, 3.0], "mae": [1.0, 2.0, 3.0]}
    return ev


def test_forecasts_over_a_horizon_keep_each_steps_errors_and_the_baselines_over_h() -> None:
    ev = horizon_eval()
    persistence = ev.predictions["persistence"]
    assert persistence.shape == (6, 3) and (persistence == persistence[:, :1]).all()
    np.testing.assert_allclose(ev.by_step["model"]["rmse"], [1.0, 2.0, 3.0])
    np.testing.assert_allclose(ev.by_step["model"]["mae"], [1.0, 2.0, 3.0])
    assert ev.metrics["model"]["mae"] == pytest.approx(2.0)  # pooled over the steps
    assert ev.metrics["model"]["rmse"] == pytest.approx(np.sqrt((1 + 4 + 9) / 3))
    # a year back, the same season: 12 lower by the trend
    np.testing.assert_allclose(ev.predictions["seasonal naive"], ev.actual - 12)
    assert_image(figures.forecast(ev))
    fig = figures.steps(ev)
    assert_image(fig)
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert labels[0] == "model (trial 4), test" and labels[-1].startswith("model, validation")
    with pytest.raises(Unavailable, match="one step ahead"):
        figures.steps(SimpleNamespace())  # type: ignore[arg-type]


def test_forecast_paths_are_drawn_from_a_few_origins() -> None:
    assert figures.path_origins(1) == [0]
    assert figures.path_origins(3) == [0, 1, 2]
    assert figures.path_origins(13) == [0, 4, 8, 12]


def test_a_value_axis_spanning_orders_of_magnitude_is_logarithmic() -> None:
    from matplotlib.figure import Figure

    from seqtune.report.figures import _log_if_wide

    wide, narrow, signed = (Figure().add_subplot() for _ in range(3))
    _log_if_wide(wide, [2.4, 2.5, 60.0, None])
    _log_if_wide(narrow, [2.4, 2.5, 3.0])
    _log_if_wide(signed, [-1.0, 60.0])
    assert (wide.get_yscale(), narrow.get_yscale(), signed.get_yscale()) == (
        "log",
        "linear",
        "linear",
    )


def test_slices_say_what_the_colours_mean_and_keep_log_ticks_apart(mixed: StudyData) -> None:
    fig = figures.slices(mixed)
    bars = [ax for ax in fig.axes if ax.get_ylabel().startswith("trial number")]
    assert len(bars) == 1  # the colour legend: trial order
    logs = [ax for ax in fig.axes if ax.get_xscale() == "log"]
    assert logs, "the mixed study searches learning_rate on a log scale"
    for ax in logs:
        lo, hi = ax.get_xlim()
        shown = [t for t in ax.get_xticks() if lo <= t <= hi]
        assert 1 <= len(shown) <= 5
        assert not any(t.get_text() for t in ax.get_xticklabels(minor=True))
