"""A stop request is recorded by the handler and raised only at safe points."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

from seqtune.search.signals import (
    Interrupted,
    check_stop,
    signals_as_interrupt,
    stop_requested,
)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_is_raised_at_the_next_check_not_where_it_lands(signum: int) -> None:
    with signals_as_interrupt():
        os.kill(os.getpid(), signum)
        total = sum(range(1000))  # the code running when it arrives carries on
        assert total == 499500 and stop_requested()
        with pytest.raises(Interrupted) as caught:
            check_stop()
    assert caught.value.signum == signum
    assert isinstance(caught.value, KeyboardInterrupt)  # keras-tuner must not swallow it


def test_a_trial_raises_a_pending_stop_at_the_end_of_the_epoch_it_arrived_in(
    tmp_path: Path,
) -> None:
    from conftest import tiny_spec

    from seqtune.spec import Spec
    from seqtune.study.lifecycle import prepare

    spec = Spec.from_dict(tiny_spec(search={"max_epochs": 50}), ROOT, ROOT / "spec.yaml")
    _, runner = prepare(spec)
    epochs: list[int] = []

    def report(epoch: int, value: float) -> bool:
        epochs.append(epoch)
        if epoch == 1:
            os.kill(os.getpid(), signal.SIGTERM)  # lands while the epoch is handled
        return False

    with signals_as_interrupt(), pytest.raises(Interrupted):
        runner.run({}, seed=1, report=report)
    assert epochs == [0, 1]  # no epoch trained after the request


def test_handlers_and_pending_request_are_restored_after_the_block() -> None:
    before = signal.getsignal(signal.SIGTERM)
    with signals_as_interrupt():
        os.kill(os.getpid(), signal.SIGTERM)
    assert signal.getsignal(signal.SIGTERM) is before
    assert not stop_requested()
    check_stop()  # does not raise


def test_a_second_signal_stops_the_process_at_once() -> None:
    code = (
        "import os, signal, time\n"
        "from seqtune.search.signals import signals_as_interrupt\n"
        "with signals_as_interrupt():\n"
        "    os.kill(os.getpid(), signal.SIGTERM)\n"
        "    os.kill(os.getpid(), signal.SIGTERM)\n"
        "    time.sleep(30)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
    )
    assert out.returncode == 128 + signal.SIGTERM
    assert "seqtune resume" in out.stderr and "Traceback" not in out.stderr


def test_blocks_nest_and_keep_a_request_received_by_the_outer_one() -> None:
    with signals_as_interrupt():
        os.kill(os.getpid(), signal.SIGTERM)  # e.g. while TensorFlow loads in a launch
        with signals_as_interrupt():  # the trial loop's own block
            assert stop_requested()
            with pytest.raises(Interrupted):
                check_stop()
        assert stop_requested()  # the inner block did not clear it
    assert not stop_requested()
