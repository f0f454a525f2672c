"""Reference data sets shipped with seqtune (generated, seeded; no network, no TensorFlow)."""

from seqtune.datasets.drone import (
    DRONE_DEAUTH_COLUMNS,
    FEATURE_COLUMNS,
    FRAME_COLUMNS,
    LABEL_COLUMN,
    TELEMETRY_COLUMNS,
    generate_drone_deauth,
    write_drone_deauth,
)

__all__ = [
    "DRONE_DEAUTH_COLUMNS",
    "FEATURE_COLUMNS",
    "FRAME_COLUMNS",
    "LABEL_COLUMN",
    "TELEMETRY_COLUMNS",
    "generate_drone_deauth",
    "write_drone_deauth",
]
