"""seqtune.data stays a lower layer: no Keras/TensorFlow, no search/models/objectives/spaces."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"


def test_data_imports_nothing_heavy() -> None:
    code = (
        "import sys; import seqtune.data; "
        "bad = [m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras', 'optuna') "
        "or m.startswith(('seqtune.search', 'seqtune.models', 'seqtune.objectives', "
        "'seqtune.spaces'))]; "
        "print(','.join(bad))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": str(SRC)},
    )
    assert out.stdout.strip() == ""
