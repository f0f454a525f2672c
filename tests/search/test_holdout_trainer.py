"""Holdout trials through the kept engine (0.3.0) against the compiled fit they used
before: they agree to round-off, a study or export of an earlier version keeps training
the way it was made, and ``train`` follows what an export recorded."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import AIRLINE, ROOT, cli_here, tiny_spec, write_spec

from seqtune.search.versions import holdout_for


@pytest.mark.parametrize(
    ("version", "wide"),
    [
        (None, False),
        ("0.1.0", False),
        ("0.2.0", False),
        ("0.3.0", True),
        ("1.0", True),
        ("0.3.0rc1", True),
        ("0.2.9.dev3", False),
        ("0.10.0", True),
        ("x.y", False),
    ],
)
def test_which_studies_train_through_the_engine(version: str | None, wide: bool) -> None:
    assert holdout_for(version) == ("auto" if wide else "fit")


CONFIGS: list[dict[str, Any]] = [
    # LSTM with dropout on minibatches; MLP on one full batch
    {
        "transform": "seasonal_diff",
        "look_back": 4,
        "units": 8,
        "dropout": 0.2,
        "num_hidden_layers": 1,
        "dense_units": 4,
        "learning_rate": 0.01,
        "batch_size": 16,
    },
    {
        "transform": "log_diff",
        "look_back": 3,
        "units": 4,
        "dropout": 0.0,
        "num_hidden_layers": 0,
        "learning_rate": 0.003,
        "batch_size": 128,
    },
]


@pytest.mark.parametrize("lstm", ["fused", "unrolled"])
@pytest.mark.parametrize("values", CONFIGS)
def test_the_engine_and_the_fit_agree_to_round_off(values: dict[str, Any], lstm: str) -> None:
    from seqtune.spec import Spec
    from seqtune.study.lifecycle import prepare

    raw = tiny_spec(search={"max_epochs": 12, "patience": None})
    spec = Spec.from_dict(raw, ROOT, ROOT / "tiny.yaml")
    runner = prepare(spec, lstm=lstm)[1]
    # look_back 1-4: the unrolled engine pads both windows (4 and 3) to 8; fused, nothing
    assert runner.pad_steps == (lstm == "unrolled")
    got = {}
    for wide in (False, True):
        runner.holdout = "wide" if wide else "fit"
        got[wide] = runner.run(values, 5)
    assert got[True].best_epoch == got[False].best_epoch
    assert got[True].epochs_run == got[False].epochs_run == 12
    assert got[True].value == pytest.approx(got[False].value, rel=1e-4)
    for a, b in zip(got[True].model.get_weights(), got[False].model.get_weights(), strict=True):
        assert a == pytest.approx(b, rel=1e-3, abs=1e-4)


@pytest.mark.slow
def test_old_study_keeps_the_fit_new_study_the_engine_and_train_follows(
    tmp_path: Path,
) -> None:
    from seqtune.study.lifecycle import Study

    shutil.copy(AIRLINE, tmp_path / "data.csv")  # the old specs name ../../data.csv
    old = tmp_path / "studies" / "old-tpe"
    shutil.copytree(ROOT / "tests" / "fixtures" / "studies_c27898a" / "old-tpe", old)
    study = Study.open(old, None)
    try:
        assert study.prepare()[1].holdout == "fit"
    finally:
        study.close()
    done = cli_here("export", str(old), "--output", str(tmp_path / "old" / "best.yaml"))
    assert done.returncode == 0, done.stderr
    old_result = yaml.safe_load((tmp_path / "old" / "best.yaml").read_text())["result"]
    assert old_result["trainer"] == "fit"
    assert "pad_steps" not in old_result  # made before 0.3.1: its windows stay unpadded
    assert "lstm_kernel" not in old_result  # made before 0.3.2: its LSTM stays unrolled

    spec = write_spec(tmp_path / "tiny.yaml", tiny_spec())
    new = tmp_path / "new"
    assert cli_here("launch", str(spec), "--results", str(new)).returncode == 0
    best = tmp_path / "new-best" / "best.yaml"
    done = cli_here("export", str(new / "tiny"), "--output", str(best))
    assert done.returncode == 0, done.stderr
    fixed = yaml.safe_load(best.read_text())
    assert fixed["result"]["trainer"] == "wide"
    assert fixed["result"]["lstm_kernel"] == "fused"  # 0.3.2 on
    assert "pad_steps" not in fixed["result"]  # a fused LSTM takes any window: no padding
    trained = cli_here("train", str(best), "--json")
    assert trained.returncode == 0, trained.stderr
    assert '"abs_diff": 0.0' in trained.stdout  # the same way: the same numbers

    for key, value, named in (
        ("pad_steps", "yes", "'yes'"),
        ("pad_steps", True, "unrolled"),  # padding with the fused kernel: made by nothing
        ("lstm_kernel", "cudnn", "'cudnn'"),
    ):
        bad_key = {**fixed, "result": {**fixed["result"], key: value}}
        refused = cli_here("train", str(write_spec(best.parent / f"bad_{key}.yaml", bad_key)))
        assert refused.returncode == 2
        lines = refused.stderr.strip().splitlines()
        assert len(lines) == 1 and f"result.{key}" in lines[0] and named in lines[0]

    fixed["result"]["trainer"] = "sideways"
    bad = write_spec(best.parent / "bad.yaml", fixed)  # its data path is relative
    refused = cli_here("train", str(bad))
    assert refused.returncode == 2
    lines = refused.stderr.strip().splitlines()
    assert len(lines) == 1 and "result.trainer" in lines[0] and "sideways" in lines[0]


@pytest.mark.slow
def test_resuming_an_old_study_keeps_its_fit(tmp_path: Path) -> None:
    from seqtune.study.lifecycle import resume

    shutil.copy(AIRLINE, tmp_path / "data.csv")
    old = tmp_path / "studies" / "old-tpe"
    shutil.copytree(ROOT / "tests" / "fixtures" / "studies_c27898a" / "old-tpe", old)
    study, runner, _ = resume(old, None, None)
    try:
        assert runner.holdout == "fit"
    finally:
        study.close()


def test_auto_trains_short_trials_on_the_engine_and_long_ones_with_the_fit() -> None:
    from seqtune.search import runner as runner_module
    from seqtune.spec import Spec
    from seqtune.study.lifecycle import prepare

    raw = tiny_spec(search={"max_epochs": 40, "patience": None})
    runner = prepare(Spec.from_dict(raw, ROOT, ROOT / "tiny.yaml"), lstm="unrolled")[1]
    assert runner.holdout == "auto"
    short, long = dict(CONFIGS[0]), {**CONFIGS[0], "batch_size": 1}
    windows = runner.windows(short)
    rows = len(windows.part("train")[0])
    assert -(-rows // 16) * 40 <= runner_module.WIDE_MAX_BATCHES < rows * 40  # the premise
    assert runner.trainer_for(short, windows) == "wide"
    assert runner.trainer_for(long, windows) == "fit"
    # look_back 1-4 is one bucket of padded windows: short trials pad, long ones do not
    # (their padding steps would cost more than the trace they save)
    assert runner.pad_steps
    assert runner.pads(short, rows) and not runner.pads(long, rows)
    runner.pad_steps = False
    assert not runner.pads(short, rows)
    for forced in ("wide", "fit"):
        runner.holdout = forced
        assert runner.trainer_for(short, windows) == runner.trainer_for(long, windows) == forced
    with pytest.raises(ValueError, match="holdout must be one of auto, wide, fit"):
        prepare(Spec.from_dict(raw, ROOT, ROOT / "tiny.yaml"), holdout="sideways")
    with pytest.raises(ValueError, match="pad must be one of auto, on, off"):
        prepare(Spec.from_dict(raw, ROOT, ROOT / "tiny.yaml"), pad="sometimes")
    with pytest.raises(ValueError, match="lstm must be one of fused, unrolled, not 'cudnn'"):
        prepare(Spec.from_dict(raw, ROOT, ROOT / "tiny.yaml"), lstm="cudnn")
    with pytest.raises(ValueError, match="pad 'on' is for the unrolled LSTM"):
        prepare(Spec.from_dict(raw, ROOT, ROOT / "tiny.yaml"), pad="on")


@pytest.mark.slow
def test_a_long_trial_trains_with_the_fit_its_export_says_so_and_train_follows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from seqtune.search import runner as runner_module

    monkeypatch.setattr(runner_module, "WIDE_MAX_BATCHES", 4)  # every tiny trial is "long"
    spec = write_spec(tmp_path / "tiny.yaml", tiny_spec())
    assert cli_here("launch", str(spec), "--results", str(tmp_path / "r")).returncode == 0
    best = tmp_path / "best" / "best.yaml"
    done = cli_here("export", str(tmp_path / "r" / "tiny"), "--output", str(best))
    assert done.returncode == 0, done.stderr
    assert yaml.safe_load(best.read_text())["result"]["trainer"] == "fit"
    monkeypatch.setattr(runner_module, "WIDE_MAX_BATCHES", 10**9)  # train follows the export
    trained = cli_here("train", str(best), "--json")
    assert trained.returncode == 0, trained.stderr
    assert '"abs_diff": 0.0' in trained.stdout


@pytest.mark.parametrize(
    ("model", "look_back", "lengths", "buckets", "unpadded", "padded"),
    [
        ({"kind": "lstm", "layout": "timesteps"}, {"int": [1, 4]}, 4, 1, "wide", "wide"),
        ({"kind": "lstm", "layout": "timesteps"}, {"int": [1, 12]}, 12, 2, "fit", "wide"),
        (
            {"kind": "lstm", "layout": "timesteps"},
            {"choice": [3, 6, 9, 12, 15]},
            5,
            2,
            "fit",
            "wide",
        ),
        (
            {"kind": "lstm", "layout": "timesteps"},
            {"int": [2, 12], "step": 5},
            3,
            2,
            "wide",
            "wide",
        ),
        ({"kind": "lstm", "layout": "timesteps"}, {"int": [1, 32]}, 32, 4, "fit", "wide"),
        ({"kind": "lstm", "layout": "timesteps"}, {"int": [1, 40]}, 40, 12, "fit", "fit"),
        ({"kind": "lstm", "layout": "window"}, {"int": [1, 12]}, 1, 1, "wide", "wide"),
        ({"kind": "mlp", "layout": "window"}, {"int": [1, 12]}, 1, 1, "wide", "wide"),
    ],
)
def test_auto_trains_with_the_fit_when_lstm_window_lengths_are_many(
    model: dict[str, str],
    look_back: dict[str, Any],
    lengths: int,
    buckets: int,
    unpadded: str,
    padded: str,
) -> None:
    """Unrolled (studies made before 0.3.2), each LSTM window length is an engine structure
    of its own: searched over many, most trials would trace the engine anew (about twice
    the fit's trace). Padded (0.3.1 on), windows of one bucket of 8 steps share a
    structure; above the unrolled 32 steps each length is its own again. Fused (0.3.2 on),
    every window length shares one structure: short trials take the engine whatever the
    spec searches, with nothing padded."""
    from seqtune.search.runner import WIDE_MAX_WINDOWS, window_lengths
    from seqtune.spec import Spec
    from seqtune.study.lifecycle import prepare

    space = {k: v for k, v in tiny_spec()["space"].items() if k in ("transform", "batch_size")}
    space["look_back"] = look_back
    if model["kind"] == "lstm":
        space["units"] = 4
    raw = tiny_spec(model=model, search={"max_epochs": 3})
    raw["space"] = space  # tiny_spec merges a dict into its own space: replace it
    spec = Spec.from_dict(raw, ROOT, ROOT / "tiny.yaml")
    assert window_lengths(spec) == lengths
    assert window_lengths(spec, pad=True) == buckets
    assert WIDE_MAX_WINDOWS == 4
    values = {"transform": "none", "look_back": 3, "batch_size": 16}
    for pad, trainer in (("off", unpadded), ("auto", padded)):
        runner = prepare(spec, pad=pad, lstm="unrolled")[1]
        assert runner.pad_steps == (pad == "auto" and buckets < lengths)
        assert runner.trainer_for(values, runner.windows(values)) == trainer
    fused = prepare(spec)[1]
    assert fused.lstm == "fused" and not fused.pad_steps
    assert fused.trainer_for(values, fused.windows(values)) == "wide"


@pytest.mark.parametrize(
    ("version", "pad"),
    [(None, "off"), ("0.2.0", "off"), ("0.3.0", "off"), ("0.3.1", "auto"), ("0.4.0", "auto")],
)
def test_studies_made_before_0_3_1_keep_their_windows_unpadded(
    version: str | None, pad: str
) -> None:
    from seqtune.search.versions import pad_for

    assert pad_for(version) == pad


@pytest.mark.parametrize(
    ("version", "lstm", "padded"),
    [
        (None, "unrolled", False),
        ("0.3.0", "unrolled", False),
        ("0.3.1", "unrolled", True),
        ("0.3.2", "fused", False),
        ("0.4.0", "fused", False),
    ],
)
def test_studies_made_before_0_3_2_keep_their_lstm_unrolled(
    version: str | None, lstm: str, padded: bool
) -> None:
    """A study resumes with its version's LSTM kernel and padding: the kernels agree to
    round-off only, so its later trials are computed as its first."""
    from seqtune.search.versions import lstm_for
    from seqtune.spec import Spec
    from seqtune.study.lifecycle import _prepare_as_made

    assert lstm_for(version) == lstm
    spec = Spec.from_dict(tiny_spec(), ROOT, ROOT / "tiny.yaml")  # look_back 1-4
    runner = _prepare_as_made(spec, version)[1]
    assert runner.lstm == lstm and runner.pad_steps == padded
