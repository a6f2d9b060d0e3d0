"""The Keras reader against hostile files: a zip bomb, odd members, FIFOs, numbers past 2**62,
and a fuzz of mutated configs and garbage zips (issue 21). None of these needs keras."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from netsize import NetsizeError
from netsize._limits import MAX_CONFIG_BYTES
from netsize.frontends.keras import MAX_ZIP_MEMBERS, load_config, network_from_keras, summary

ROOT = Path(__file__).resolve().parents[2]


def _model(units: int = 4, shape: list[Any] | None = None) -> dict[str, Any]:
    return {"class_name": "Sequential", "config": {"name": "s", "layers": [
        {"class_name": "InputLayer", "config": {"batch_shape": shape or [None, 8], "name": "x"}},
        {"class_name": "Dense", "config": {"name": "fc", "units": units, "activation": "relu"}}]}}


def _conv_model() -> dict[str, Any]:
    """A fully convolutional model as Keras saves ``keras.Input((None, None, 3))``."""
    return {"class_name": "Sequential", "config": {"name": "fcn", "layers": [
        {"class_name": "InputLayer", "config": {"batch_shape": [None, None, None, 3], "name": "x"}},
        {"class_name": "Conv2D", "config": {"name": "conv", "filters": 8, "kernel_size": [3, 3],
                                            "strides": [2, 2], "padding": "same"}},
        {"class_name": "BatchNormalization", "config": {"name": "bn", "axis": -1, "scale": False}}]}}


def _bomb(path: Path, inflated_bytes: int) -> Path:
    """A .keras zip whose config.json inflates to ``inflated_bytes`` (spaces: about 1000:1)."""
    with (zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as z,
          z.open("config.json", "w", force_zip64=True) as f):
        f.write(json.dumps(_model()).encode()[:-1])
        block = b" " * (1 << 20)
        for _ in range(inflated_bytes >> 20):
            f.write(block)
        f.write(b"}")
    return path


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    return subprocess.run([sys.executable, "-m", "netsize", *args], capture_output=True, text=True, env=env,
                          timeout=60)


def _cli_peak(*args: str) -> tuple[subprocess.CompletedProcess[str], int]:
    """The CLI's run and its process's peak resident memory in KiB (VmHWM, read by the process
    itself: ru_maxrss would carry pytest's own across exec; 0 where there is no /proc)."""
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from netsize.cli import main\n"
        f"rc = main({list(args)!r})\n"
        "status = Path('/proc/self/status')\n"
        "peak = [line.split()[1] for line in status.read_text().splitlines() if line.startswith('VmHWM')] "
        "if status.exists() else ['0']\n"
        "sys.stdout.write('PEAK ' + peak[0])\n"
        "sys.exit(rc)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    return proc, int(proc.stdout.rsplit("PEAK ", 1)[1])


def test_zip_bomb_is_refused_after_the_bound_not_after_inflating(tmp_path: Path) -> None:
    bomb = _bomb(tmp_path / "bomb.keras", 600 << 20)
    assert bomb.stat().st_size < 1 << 20  # a small file ...
    with zipfile.ZipFile(bomb) as z:
        assert z.getinfo("config.json").file_size == (600 << 20) + len(json.dumps(_model()))  # ... of 600 MiB
    proc, peak_kib = _cli_peak("summary", str(bomb))
    assert proc.returncode == 2
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("netsize: error: "), proc.stderr
    assert "config.json" in lines[0] and f"{MAX_CONFIG_BYTES:,}" in lines[0]
    assert peak_kib < 200 * 1024  # the whole process, Python included: the 600 MiB never existed


def test_a_header_that_lies_about_the_size_is_bounded_by_what_inflates(tmp_path: Path) -> None:
    bomb = _bomb(tmp_path / "bomb.keras", 8 << 20)
    data = bytearray(bomb.read_bytes())
    # shrink the declared sizes in the central directory and the local header: zipfile then stops
    # where the header says (and fails its CRC), never past the bound
    with zipfile.ZipFile(bomb) as z:
        info = z.getinfo("config.json")
    replaced = 0
    for width in (8, 4):  # zip64 extra fields, then the classic 4-byte fields
        size_bytes = info.file_size.to_bytes(width, "little")
        while (at := data.find(size_bytes)) >= 0:
            data[at:at + width] = (100).to_bytes(width, "little")
            replaced += 1
    assert replaced >= 1
    bomb.write_bytes(bytes(data))
    with zipfile.ZipFile(bomb) as z:
        assert z.getinfo("config.json").file_size == 100
    with pytest.raises(NetsizeError, match=r"bomb\.keras: not a readable \.keras zip"):
        load_config(bomb)


def test_many_members_and_non_regular_members_are_refused(tmp_path: Path) -> None:
    many = tmp_path / "many.keras"
    with zipfile.ZipFile(many, "w") as z:
        z.writestr("config.json", json.dumps(_model()))
        for k in range(MAX_ZIP_MEMBERS):
            z.writestr(f"x{k}", b"")
    with pytest.raises(NetsizeError, match=f"{MAX_ZIP_MEMBERS + 1:,} zip members"):
        load_config(many)
    link = tmp_path / "link.keras"
    with zipfile.ZipFile(link, "w") as z:
        info = zipfile.ZipInfo("config.json")
        info.external_attr = (0o120777 << 16)  # a symbolic link to /etc/passwd, as zip stores one
        z.writestr(info, "/etc/passwd")
    with pytest.raises(NetsizeError, match="not a regular file"):
        load_config(link)
    missing = tmp_path / "missing.keras"
    with zipfile.ZipFile(missing, "w") as z:
        z.writestr("metadata.json", "{}")
    with pytest.raises(NetsizeError, match=r"holding config\.json"):
        load_config(missing)


def test_a_large_json_config_is_refused_unread(tmp_path: Path) -> None:
    big = tmp_path / "big.json"
    big.write_text(json.dumps(_model())[:-1] + " " * MAX_CONFIG_BYTES + "}")
    with pytest.raises(NetsizeError, match="larger than"):
        load_config(big)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this platform")
def test_a_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "m.json"
    os.mkfifo(fifo)
    with pytest.raises(NetsizeError, match="not a regular file"):
        load_config(fifo)
    folder = tmp_path / "saved"
    folder.mkdir()
    os.mkfifo(folder / "config.json")
    with pytest.raises(NetsizeError, match="not a regular file"):
        load_config(folder)


@pytest.mark.parametrize("units", [2**62, 2**40])
def test_sizes_past_2_62_are_one_error(units: int) -> None:
    with pytest.raises(NetsizeError, match=r"fc.*2\*\*62"):
        summary(_model(units=units, shape=[None, 2**40]))


def test_an_input_size_past_2_62_is_refused() -> None:
    with pytest.raises(NetsizeError, match=r"2\*\*62"):
        summary(_model(shape=[None, 2**63]))


def test_digits_and_nesting_past_the_bounds_are_refused(tmp_path: Path) -> None:
    digits = tmp_path / "digits.json"
    digits.write_text(json.dumps(_model()).replace('"units": 4', '"units": ' + "9" * 100))
    with pytest.raises(NetsizeError, match="100 digits"):
        load_config(digits)
    deep = tmp_path / "deep.json"
    deep.write_text('{"class_name": ' + "[" * 100_000 + "]" * 100_000 + "}")
    with pytest.raises(NetsizeError, match="nest"):
        load_config(deep)


def test_none_axes_are_filled_by_input_size() -> None:
    with pytest.raises(NetsizeError, match=r"unknown sizes \(None, None, 3\).*--input-size 224,224,3"):
        summary(_conv_model())
    s = summary(_conv_model(), input_size=(32, 48, 3))
    assert [(r.name, r.output_shape) for r in s.rows(depth=1)] == [("conv", (1, 16, 24, 8)), ("bn", (1, 16, 24, 8))]
    assert s.totals.params == 3 * 3 * 3 * 8 + 8 + 3 * 8  # conv; bn without gamma: beta + moving mean, variance
    with pytest.raises(NetsizeError, match="may only fill its None axes"):
        summary(_conv_model(), input_size=(32, 48, 4))
    with pytest.raises(NetsizeError, match="has 3 axes per sample"):
        summary(_conv_model(), input_size=(32, 3))
    net = network_from_keras(_conv_model(), {"x": (8, 8, 3)}).network
    assert net.inputs == {"x": (8, 8, 3)}


def test_cli_input_size_for_a_keras_file(tmp_path: Path) -> None:
    path = tmp_path / "fcn.json"
    path.write_text(json.dumps(_conv_model()))
    proc = _cli("summary", str(path), "--input-size", "32,48,3", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    rows = {r["name"]: r for r in json.loads(proc.stdout)["layers"]}
    assert rows["conv"]["output_shape"] == [1, 16, 24, 8]
    proc = _cli("summary", str(path))
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1
    assert proc.stderr.startswith("netsize: error: ") and "--input-size 224,224,3" in proc.stderr


# --- fuzz: whatever the bytes, a result or one NetsizeError -----------------------------------

#: Seeds: two small models, and two configs Keras 3.15 wrote (test_keras_frontend.py's transformer_block
#: and text_rnn: attention, shared layers, keyword inputs, RNNs)
_SEEDS = [_model(), _conv_model(), *(json.loads((ROOT / "tests/data/keras" / f"{name}.json").read_text())
                                     for name in ("transformer_block", "text_rnn"))]
_scalars = st.one_of(st.none(), st.booleans(), st.integers(-3, 2**64), st.floats(allow_nan=True),
                     st.text(max_size=6), st.sampled_from(["same", "valid", "relu", "hard_silu", "channels_first"]))
_values = st.recursive(_scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                         st.dictionaries(st.text(max_size=6), inner, max_size=4)),
                       max_leaves=8)


def _paths(obj: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(obj, dict):
        for k, v in obj.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(obj, list):
        for k, v in enumerate(obj):
            out += _paths(v, (*prefix, k))
    return out


@st.composite
def _mutated(draw: st.DrawFn) -> dict[str, Any]:
    cfg = json.loads(json.dumps(draw(st.sampled_from(_SEEDS))))
    for _ in range(draw(st.integers(1, 4))):
        paths = [p for p in _paths(cfg) if p]
        if not paths:
            break
        where = draw(st.sampled_from(paths))
        parent = cfg
        for key in where[:-1]:
            parent = parent[key]
        if draw(st.booleans()) and isinstance(parent, dict):
            del parent[where[-1]]
        else:
            parent[where[-1]] = draw(_values)
    return cfg


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_mutated(), st.sampled_from([None, (16, 16, 3), (8,)]))
def test_fuzz_mutated_configs_give_a_result_or_a_netsize_error(cfg: dict[str, Any], size: Any) -> None:
    try:
        s = summary(cfg, input_size=size)
    except NetsizeError as err:
        assert str(err)
    else:
        assert s.totals.params >= 0


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=400), st.integers(0, 400), st.binary(max_size=8))
def test_fuzz_garbage_zips_give_a_netsize_error(tmp_path: Path, noise: bytes, at: int, patch: bytes) -> None:
    path = tmp_path / "m.keras"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("config.json", json.dumps(_model()) + noise.decode("latin-1"))
    data = bytearray(path.read_bytes())
    data[at:at + len(patch)] = patch
    path.write_bytes(bytes(data))
    try:
        load_config(path)
    except NetsizeError as err:
        assert str(err)
    path.write_bytes(noise)
    try:
        load_config(path)
    except NetsizeError as err:
        assert str(err)


def test_named_input_sizes_for_a_model_with_two_inputs() -> None:
    def tensor(name: str) -> dict[str, Any]:
        return {"class_name": "__keras_tensor__", "config": {"keras_history": [name, 0, 0]}}

    cfg = {"class_name": "Functional", "config": {"name": "two", "layers": [
        {"class_name": "InputLayer", "config": {"name": "a", "batch_shape": [None, None, 4]}, "inbound_nodes": []},
        {"class_name": "InputLayer", "config": {"name": "b", "batch_shape": [None, 3, 4]}, "inbound_nodes": []},
        {"class_name": "Concatenate", "config": {"name": "cat", "axis": 1},
         "inbound_nodes": [{"args": [[tensor("a"), tensor("b")]], "kwargs": {}}]}],
        "input_layers": [["a", 0, 0], ["b", 0, 0]], "output_layers": [["cat", 0, 0]]}}
    s = summary(cfg, input_size={"a": (5, 4)})
    assert s.rows(depth=1)[-1].output_shape == (1, 8, 4)
    with pytest.raises(NetsizeError, match="the model has inputs a, b; give a size for each by name"):
        summary(cfg, input_size=(5, 4))
    with pytest.raises(NetsizeError, match="input size for c: the model's inputs are a, b"):
        summary(cfg, input_size={"c": (5, 4)})


@pytest.mark.parametrize("name", ["big.json", "big.keras"])
def test_cli_refuses_a_large_file_without_reading_it(tmp_path: Path, name: str) -> None:
    big = tmp_path / name
    with big.open("wb") as f:
        f.truncate(600 << 20)  # sparse: 600 MiB that cost no disk
    proc, peak_kib = _cli_peak("summary", str(big))
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and proc.stderr.startswith("netsize: error: ")
    assert "Traceback" not in proc.stderr
    assert peak_kib < 200 * 1024  # refused by its size, not read
