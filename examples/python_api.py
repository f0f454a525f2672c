"""seqtune from a notebook: a spec as a dict -> a study -> its trials as a DataFrame ->
export -> forecast -> plot. Run it as a script (``python examples/python_api.py``) or cell
by cell; ``--trials`` and ``--max-epochs`` shrink it (the tests run it with a tiny budget).
"""

# %% the spec, as the YAML examples write it
import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

import seqtune  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
parser = argparse.ArgumentParser()
parser.add_argument("--trials", type=int, default=12)
parser.add_argument("--max-epochs", type=int, default=60)
parser.add_argument("--results", type=Path, default=ROOT / "results")
args = parser.parse_args()

spec = {
    "study": "airline-python",
    "seed": 123,
    "data": {
        "csv": str(ROOT / "data" / "airline.csv"),
        "target": "Passengers",
        "time": "Date",
        "split": {"val": 12, "test": 24, "folds": 2},
    },
    "model": {"kind": "mlp", "layout": "window"},
    "space": {
        "transform": {"choice": ["log_diff", "log_seasonal_diff"]},
        "look_back": {"int": [12, 18]},
        "num_hidden_layers": 1,
        "dense_units": {"int": [8, 24], "step": 8, "per": "num_hidden_layers"},
        "learning_rate": {"float": [0.001, 0.01], "log": True},
        "batch_size": 16,
    },
    "objective": "val_rmse",
    "search": {"backend": "tpe", "trials": args.trials, "max_epochs": args.max_epochs},
}
report = seqtune.check(spec)  # every check launch makes, before anything runs
assert not report["problems"], report["problems"]

# %% the study: run to its budget, then its trials as a DataFrame
study = seqtune.launch(spec, results=args.results)
trials = study.trials_dataframe()
print(trials[["number", "state", "value", "params_transform", "params_look_back"]])
print("best:", study.best_trial)

# %% export the best trial and load it as a forecaster
forecaster = seqtune.load(study.export())
print("test:", forecaster.test)

# %% forecast after the data's last row, and from recent rows given as a DataFrame, with
# 80 % and 95 % prediction intervals (split conformal on the folds' validation errors)
history = pd.read_csv(ROOT / "data" / "airline.csv")
ahead = forecaster.predict(level=[80, 95])  # after 1960-12
recent = history.iloc[-12 - forecaster.rows_needed : -12]  # the fewest rows it takes
again = forecaster.predict(recent)  # as if it were 1959-12
print(ahead)
print("interval coverage on the test part:", forecaster.intervals.get("coverage"))

# %% plot
fig, ax = plt.subplots(figsize=(8, 3))
ax.plot(pd.to_datetime(history["Date"]), history["Passengers"], label="history")
ax.plot(pd.to_datetime(again["time"]), again["prediction"], "o", label="from 1959-12")
when = pd.to_datetime(ahead["time"])
ax.fill_between(when, ahead["lower_95"], ahead["upper_95"], alpha=0.2, label="95 % interval")
ax.plot(when, ahead["prediction"], "o", label="from 1960-12")
ax.legend()
out = study.path / "python_api.png"
fig.savefig(out, dpi=80)
print(f"wrote {out}")
