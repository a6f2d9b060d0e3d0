"""Training-loop arithmetic, reproducing seed 003 (CIFAR-10: 50000 images, batch 256, 10 epochs)."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from netsize import NetsizeError
from netsize.schedule import format_duration, schedule


def test_seed_003_cifar10_numbers():
    s = schedule(50000, 256, epochs=10)
    assert s.iterations_per_epoch == 196  # 50000/256 = 195 full batches + 1 partial
    assert s.last_batch_size == 50000 - 195 * 256 == 80
    assert s.total_updates == 1960
    assert s.samples_seen == 500000


def test_seed_003_small_example_2000_samples_batch_500():
    assert schedule(2000, 500).iterations_per_epoch == 4
    assert schedule(20000, 200).iterations_per_epoch == 100


def test_drop_last_floors():
    s = schedule(50000, 256, epochs=10, drop_last=True)
    assert (s.iterations_per_epoch, s.total_updates, s.samples_seen) == (195, 1950, 195 * 256 * 10)


@given(st.integers(1, 10**6), st.integers(1, 4096), st.integers(1, 50), st.booleans())
def test_iterations_cover_the_data(samples, batch, epochs, drop_last):
    if drop_last and batch > samples:
        with pytest.raises(NetsizeError):
            schedule(samples, batch, epochs, drop_last)
        return
    s = schedule(samples, batch, epochs, drop_last)
    expected = samples // batch if drop_last else math.ceil(samples / batch)
    assert s.iterations_per_epoch == expected
    assert s.total_updates == expected * epochs
    assert (s.iterations_per_epoch - 1) * batch + s.last_batch_size == s.samples_per_epoch
    assert s.samples_seen == s.samples_per_epoch * epochs <= samples * epochs


def test_compute_and_time():
    s = schedule(1000, 100, epochs=2, forward_flops_per_sample=10**9, gpu_flops=1e12, utilisation=0.5)
    assert s.training_flops == 3 * 10**9 * 2000
    assert s.seconds == pytest.approx(3 * 10**9 * 2000 / 0.5e12)
    t = schedule(1000, 100, epochs=2, params=10**6, tokens_per_sample=128)
    assert t.training_flops == 6 * 10**6 * 2000 * 128
    assert schedule(1000, 100, epochs=2, throughput=50.0).seconds == 40.0
    with pytest.raises(NetsizeError, match="model"):
        schedule(1000, 100, gpu_flops=1e12)


def test_bad_input():
    for args in ((0, 1), (10, 0), (10, 1, 0)):
        with pytest.raises(NetsizeError):
            schedule(*args)


def test_format_duration():
    assert format_duration(90061) == "1d 1h 1m 1s"


def test_cli_schedule(capsys):
    from netsize.cli import main

    assert main(["schedule", "--samples", "50000", "--batch-size", "256", "--epochs", "10"]) == 0
    out = capsys.readouterr().out
    assert "196" in out and "1,960" in out and "500,000" in out
    assert main(["schedule", "--samples", "50000", "--batch-size", "256", "--epochs", "10", "--drop-last",
                 "--format", "json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert (d["iterations_per_epoch"], d["total_updates"]) == (195, 1950)
    assert main(["schedule", "--samples", "50000", "-b", "256", "--epochs", "10", "--model", "vgg16",
                 "--gpu-flops", "989e12", "--utilisation", "0.4", "--format", "json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["training_flops"] == 3 * d["forward_flops_per_sample"] * 500000
    assert d["time_seconds"] == pytest.approx(d["training_flops"] / (989e12 * 0.4))
