"""Every keras.applications model that Keras builds on the torch backend, against Keras itself.

Keras (a subprocess per half of the list, built on torch's meta device) writes each model's
``to_json()`` and its own counts; netsize reads the JSON without keras and must give
``count_params()``, the trainable and non-trainable split, and every layer's output shape and
count_params. A few models are also saved as ``.keras`` on the CPU: their config.json is the
same config and gives the same summary. Runtime on 2 cores: docs/keras.md.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras")

from netsize.frontends.keras import load_config, summary  # noqa: E402

HERE = Path(__file__).resolve().parent
NAMES = sorted(n for n in dir(keras.applications) if n[:1].isupper() and callable(getattr(keras.applications, n)))
#: Saved as .keras too: the models with a layer or an input netsize once got wrong
SAVED = ["ConvNeXtTiny", "InceptionV3", "MobileNetV3Small"]


def _run(out: Path, names: list[str], *flags: str) -> subprocess.Popen[str]:
    env = {**os.environ, "KERAS_BACKEND": "torch"}
    return subprocess.Popen([sys.executable, str(HERE / "keras_applications.py"), str(out), *flags, *names],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("keras_applications")
    saved = out / "saved"
    saved.mkdir()
    # two builders at once (CI has 2 cores); the slowest to build are spread over both
    halves = [NAMES[0::2], NAMES[1::2]]
    procs = [_run(out, half) for half in halves] + [_run(saved, SAVED, "--save")]
    for proc in procs:
        _, err = proc.communicate(timeout=1200)
        assert proc.returncode == 0, err[-3000:]
    return out


def _check(s: Any, ref: dict[str, Any], exact_shapes: bool) -> int:
    assert (s.totals.params, s.totals.trainable_params, s.totals.non_trainable_params) == (
        ref["params"], ref["trainable"], ref["non_trainable"])
    rows = {r.name: r for r in s.rows(depth=1)}
    compared = 0
    for layer in ref["layers"]:
        if layer["class"] == "InputLayer":
            continue
        row = rows[layer["name"]]
        assert row.params == layer["params"], layer["name"]
        for got, want in zip(row.output_shapes, layer["shapes"], strict=False):
            if exact_shapes:
                assert got == (1, *want[1:]), layer["name"]
            else:  # Keras' None axes: only the known ones
                assert all(w is None or g == w for g, w in zip(got[1:], want[1:], strict=True)), layer["name"]
        compared += 1
    return compared


@pytest.mark.parametrize("name", NAMES)
def test_application_matches_keras(written: Path, name: str) -> None:
    refused = written / f"{name}.refused.json"
    if refused.exists():
        pytest.skip(f"Keras itself does not build {name} on the torch backend: "
                    f"{json.loads(refused.read_text())['error'][:120]}")
    ref = json.loads((written / f"{name}.ref.json").read_text())
    if "sized" in ref:  # an Input((None, None, 3)): the sizes come from input_size
        _check(summary(written / f"{name}.json", input_size=(224, 224, 3)), ref, exact_shapes=False)
        _check(summary(written / f"{name}.json", input_size=(224, 224, 3)), ref["sized"], exact_shapes=True)
    else:
        assert _check(summary(written / f"{name}.json"), ref, exact_shapes=True) == len(ref["layers"]) - 1


def test_refusals_are_keras_own_torch_backend_refusals(written: Path) -> None:
    # Keras 3.15 refuses NASNetMobile on torch ("not available with the torch backend"); any other
    # ValueError while building would be a broken builder, not a model Keras declines
    refused = {p.name.split(".")[0]: json.loads(p.read_text())["error"] for p in written.glob("*.refused.json")}
    assert all("torch backend" in error for error in refused.values()), refused
    assert len(refused) < len(NAMES) // 4


def _unshared(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _unshared(v) for k, v in value.items() if k != "shared_object_id"}
    if isinstance(value, list):
        return [_unshared(v) for v in value]
    return value


@pytest.mark.parametrize("name", SAVED)
def test_saved_keras_file_is_the_same_config(written: Path, name: str) -> None:
    saved = written / "saved"
    # model.save writes to_json's config, with dtype policies marked as shared objects
    assert _unshared(load_config(saved / f"{name}.keras")) == _unshared(load_config(saved / f"{name}.json"))
    ref = json.loads((written / f"{name}.ref.json").read_text())
    size = (224, 224, 3) if "sized" in ref else None
    s = summary(saved / f"{name}.keras", input_size=size)
    assert s.totals.params == ref["params"]
    assert s.totals.trainable_params == ref["trainable"]
