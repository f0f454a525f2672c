"""Issue 28, input at the speed of the disk: Parquet by extension (``data.csv:
x.parquet``), with the same checks and the same checksum rule as a CSV."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from seqtune.data import DataSpec, Table, load_table
from seqtune.errors import UserError
from seqtune.store.digest import check_digest, file_digest

pytest.importorskip("pyarrow")

AIRLINE = Path(__file__).resolve().parents[2] / "data" / "airline.csv"


def load(path: Path, **data: Any) -> Table:
    raw = {"csv": path.name, "target": "Passengers", "split": {"val": 24, "test": 24}, **data}
    return load_table(DataSpec.from_dict(raw, path.parent))


def stream(n: int = 300) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "a": rng.normal(size=n),
            "b": rng.integers(-5, 5, n),
            "c": np.where(rng.random(n) < 0.05, np.nan, rng.normal(size=n)),
            "class": rng.integers(0, 2, n),
        }
    )


def test_parquet_reads_as_the_same_table_as_its_csv(tmp_path: Path) -> None:
    frame = pd.read_csv(AIRLINE)
    frame.to_parquet(tmp_path / "airline.parquet", index=False)
    (tmp_path / "airline.csv").write_bytes(AIRLINE.read_bytes())
    parquet = load(tmp_path / "airline.parquet", time="Date", period=12)
    csv = load(tmp_path / "airline.csv", time="Date", period=12)
    a, b = parquet.windows(3, "log_diff"), csv.windows(3, "log_diff")
    for part in ("train", "val", "test"):
        np.testing.assert_array_equal(a.part(part)[0], b.part(part)[0])
        np.testing.assert_array_equal(a.part(part)[1], b.part(part)[1])
    assert parquet.labels_of([0, 143]) == csv.labels_of([0, 143])


def test_a_classify_parquet_with_missing_values_equals_its_csv(tmp_path: Path) -> None:
    frame = stream()
    frame.to_parquet(tmp_path / "s.parquet", index=False)
    frame.to_csv(tmp_path / "s.csv", index=False)
    tables = []
    for name in ("s.parquet", "s.csv"):
        raw = {"csv": name, "target": "class", "task": "classify", "missing": "drop"}
        tables.append(load_table(DataSpec.from_dict(raw, tmp_path)))
    np.testing.assert_array_equal(tables[0].windows(4).x_train, tables[1].windows(4).x_train)


def refused(path: Path, phrase: str) -> UserError:
    with pytest.raises(UserError) as info:
        load(path)
    assert info.value.field == "data.csv"
    assert phrase in info.value.message, info.value.message
    assert "\n" not in str(info.value)
    return info.value


def test_bad_parquet_files_are_refused_in_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "broken.parquet"
    bad.write_bytes(b"PAR1 this is not a parquet file")
    refused(bad, "as Parquet")
    empty = tmp_path / "empty.parquet"
    pd.DataFrame({"Passengers": pd.Series([], dtype=float)}).to_parquet(empty)
    refused(empty, "no data rows")
    text = tmp_path / "text.PARQUET"  # by extension, any case
    text.write_text("Passengers\n1\n2\n")
    refused(text, "as Parquet")
    import pyarrow as pa
    import pyarrow.parquet as pq

    twice = tmp_path / "twice.parquet"
    columns = [pa.array([1.0, 2.0]), pa.array([3.0, 4.0])]
    pq.write_table(pa.Table.from_arrays(columns, names=["Passengers", "Passengers"]), twice)
    refused(twice, "appears more than once")
    refused(tmp_path / "missing.parquet", "file not found")


def test_the_checksum_rule_is_the_files_bytes(tmp_path: Path) -> None:
    path = tmp_path / "s.parquet"
    stream().to_parquet(path, index=False)
    digest = file_digest(path)
    check_digest(path, digest)
    stream(301).to_parquet(path, index=False)
    with pytest.raises(UserError, match="changed since the study was launched"):
        check_digest(path, digest)


@pytest.mark.slow
def test_check_and_train_accept_a_parquet_spec(tmp_path: Path) -> None:
    from conftest import run_cli

    pd.read_csv(AIRLINE).to_parquet(tmp_path / "airline.parquet", index=False)
    spec = tmp_path / "s.yaml"
    spec.write_text(
        "study: pq\nseed: 1\n"
        "data: {csv: airline.parquet, target: Passengers, split: {val: 24, test: 24}}\n"
        "model: {kind: mlp}\n"
        "space: {look_back: 3, num_hidden_layers: 1, dense_units: 8, batch_size: 32}\n"
        "objective: val_rmse\n"
        "search: {backend: tpe, trials: 1, max_epochs: 2, patience: null, pruner: none}\n"
    )
    checked = run_cli("check", str(spec), "--json")
    assert checked.returncode == 0, checked.stderr
    assert json.loads(checked.stdout)["ok"] is True
    trained = run_cli("train", str(spec), "--json")
    assert trained.returncode == 0, trained.stderr
    assert json.loads(trained.stdout)["test"]["rmse"] > 0
