"""The traffic regime behind the drone stream's labels: the label before the boundary offset."""

from __future__ import annotations

import numpy as np
import pytest

from seqtune.datasets import drone
from seqtune.errors import UserError


def test_it_differs_from_the_label_only_within_the_offset_of_a_boundary() -> None:
    label = drone.generate_drone_deauth(n_rows=6000, seed=4)["class"].to_numpy()
    traffic = drone.drone_deauth_traffic(n_rows=6000, seed=4)
    assert traffic.dtype == np.bool_ and traffic.shape == label.shape
    changes = np.flatnonzero(np.diff(label) != 0) + 1
    off = np.flatnonzero(traffic != label)
    assert 0 < off.size < 0.05 * label.size
    nearest = np.abs(off[:, None] - changes[None, :]).min(axis=1)
    assert nearest.max() <= drone.BOUNDARY_JITTER
    # one traffic period per label period: the same number of switches
    assert np.count_nonzero(np.diff(traffic.astype(int))) == changes.size
    np.testing.assert_array_equal(traffic, drone.drone_deauth_traffic(n_rows=6000, seed=4))


def test_spoofed_frames_come_only_with_attack_traffic() -> None:
    frame = drone.generate_drone_deauth(n_rows=3000, seed=2)
    traffic = drone.drone_deauth_traffic(n_rows=3000, seed=2)
    spoofed = frame["wlan.fixed.reason_code"].to_numpy() == 7
    assert spoofed.any() and traffic[spoofed].all()


def test_bad_arguments_are_refused_like_the_generator() -> None:
    with pytest.raises(UserError) as err:
        drone.drone_deauth_traffic(n_rows=10)
    assert err.value.field == "n_rows"
