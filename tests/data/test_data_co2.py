"""The second series: data/co2.csv is the file its provenance describes, and
examples/co2_folds.yaml runs on it (folds inside 1977-1996, test part 1997-2001)."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from seqtune.spec import Spec
from seqtune.study.lifecycle import prepare

ROOT = Path(__file__).resolve().parents[2]


def test_the_csv_is_the_one_its_provenance_describes() -> None:
    readme = (ROOT / "data" / "README.md").read_text()
    recorded = re.search(r"sha256 `([0-9a-f]{64})`", readme)
    assert recorded is not None
    assert hashlib.sha256((ROOT / "data" / "co2.csv").read_bytes()).hexdigest() == recorded[1]


def test_the_example_validates_on_the_rows_before_1997_and_tests_on_1997_to_2001() -> None:
    spec = Spec.from_file(ROOT / "examples" / "co2_folds.yaml")
    table, _ = prepare(spec)  # the spec checked against the data, as launch does
    assert table.n_rows == 300 and table.period == 12  # monthly index: period 12
    plan = table.fold_plan
    assert len(plan) == 4 and plan.pre_test == 240
    assert table.labels_of([0, plan.pre_test - 1, plan.pre_test, table.n_rows - 1]) == [
        "1977-01",
        "1996-12",
        "1997-01",
        "2001-12",
    ]
    assert plan[0].train_stop == 192  # the first origin trains on 16 years
