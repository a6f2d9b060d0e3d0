"""netsize._target, the one resolver of a TARGET: what each name is, where a config was read,
and the resolved target that memory takes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from netsize import NetsizeError
from netsize._target import load_target, read_config, target_kind
from netsize.memory import estimate


def test_target_kind_names_each_kind_of_target(tmp_path: Path) -> None:
    spec = tmp_path / "net.yaml"
    spec.write_text("name: n\n")
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"model_type": "gpt2"}))
    assert [target_kind(t) for t in ("alexnet", str(spec), str(config), str(tmp_path), "os.path:join")] == [
        "zoo", "spec", "hf_config", "hf_config", "torch"]


def test_read_config_says_where_the_config_was_read(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "gpt2", "n_layer": 2}))
    config, source = read_config(tmp_path)
    assert (config["n_layer"], source) == (2, str(tmp_path / "config.json"))
    assert read_config({"model_type": "gpt2"}) == ({"model_type": "gpt2"}, "config")


def test_a_resolved_config_keeps_its_config(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "gpt2", "n_layer": 1, "n_embd": 64,
                                                      "n_head": 2, "vocab_size": 100, "n_positions": 32}))
    target = load_target(str(tmp_path), seq_len=8)
    assert target.kind == "hf_config" and target.config is not None and target.config["n_embd"] == 64


def test_memory_takes_a_resolved_target_and_nothing_duck_typed() -> None:
    target = load_target("lenet5")
    assert target.network is not None
    assert estimate(target).params == estimate(target.network).params == 61706

    class LooksLikeATarget:
        network = target.network

    with pytest.raises(NetsizeError, match="cannot estimate memory of LooksLikeATarget"):
        estimate(LooksLikeATarget())
