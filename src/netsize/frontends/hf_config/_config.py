"""Finding, reading and resolving a config: a dict, a ``config.json``, a folder holding one, a
Hugging Face cache snapshot, or a model id already in the local Hugging Face cache (never the
network)."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import Any

from netsize._analyze import analyze
from netsize._errors import NetsizeError
from netsize._limits import CountTooLarge, check_config_counts, read_json_object, refuse_special_file
from netsize._network import Network
from netsize._summary import Summary
from netsize.frontends.hf_config._catalog import FAMILIES
from netsize.frontends.hf_config._families import Config, Family
from netsize.frontends.hf_config._fields import Fields

DEFAULT_SEQ_LEN = 1024  # cap on max_position_embeddings when no --seq-len is given
_NO_POSITION_LIMIT_SEQ_LEN = 512  # T5 (relative positions: no table to bound the length)

SUPPORTED: tuple[str, ...] = tuple(FAMILIES)


def hub_cache() -> Path:
    """The Hugging Face hub cache folder: ``HF_HUB_CACHE``, else ``HF_HOME/hub``, else
    ``~/.cache/huggingface/hub`` (as ``huggingface_hub`` resolves it)."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]).expanduser() / "hub"
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "huggingface" / "hub"


def _snapshot_config(repo: Path) -> Path | None:
    """``config.json`` of a cached repo folder (``models--ORG--NAME``): the snapshot ``refs/main``
    names, else the most recently written snapshot holding one."""
    snapshots = repo / "snapshots"
    ref = repo / "refs" / "main"
    if ref.is_file():
        chosen = snapshots / ref.read_text(encoding="utf-8").strip() / "config.json"
        if chosen.is_file():
            return chosen
    found = [p for p in snapshots.glob("*/config.json") if p.is_file()] if snapshots.is_dir() else []
    return max(found, key=lambda p: p.stat().st_mtime) if found else None


def find_config(target: str | Path) -> Path | None:
    """The ``config.json`` a target names: the file itself, a folder holding one, a cached repo
    folder (``models--ORG--NAME``), or a model id (``ORG/NAME``) in the local cache; None if none."""
    path = Path(target).expanduser()
    refuse_special_file(path, "config")  # not "not found": a FIFO or a device is there, and never read
    if path.is_file():
        return path
    if path.is_dir():
        if (path / "config.json").is_file():
            return path / "config.json"
        return _snapshot_config(path)
    text = str(target)
    parts = text.split("/")
    if len(parts) in (1, 2) and all(parts) and not text.endswith(".json"):
        return _snapshot_config(hub_cache() / ("models--" + "--".join(parts)))
    return None


def load_config(config: Config | str | Path) -> Config:
    """A config as a dict: a dict is used as is; a path (file, folder holding ``config.json``,
    cache snapshot) or a model id in the local Hugging Face cache is read as JSON."""
    return _load(config)[0]


def _load(config: Config | str | Path) -> tuple[Config, str]:
    if isinstance(config, dict):
        check_config_counts(config, "config")
        return dict(config), "config"
    found = find_config(config)
    if found is None:
        where = hub_cache()
        raise NetsizeError(
            f"config {str(config)!r} not found: give a config.json, a folder holding one, or a model id "
            f"downloaded to the Hugging Face cache ({where}); netsize never downloads"
        )
    # size, nesting, huge integers, the top level and the layer count, before any builder reads it
    data = read_json_object(found)
    check_config_counts(data, found)
    return data, str(found)


def model_type_of(cfg: Config, source: str) -> str:
    model_type = cfg.get("model_type")
    if model_type is None:
        raise NetsizeError(f"{source}: no model_type; a Hugging Face config names its family "
                           '("model_type": "llama")')
    if not isinstance(model_type, str) or not model_type:
        raise Fields(cfg, source).error("model_type", "must be a family name such as \"llama\"", model_type)
    return model_type


def architecture_of(cfg: Config, source: str) -> str | None:
    archs = cfg.get("architectures")
    if archs is None or archs == []:
        return None
    if not isinstance(archs, list) or not all(isinstance(a, str) and a for a in archs):
        raise Fields(cfg, source).error("architectures", "must be a list of class names", archs)
    first: str = archs[0]
    return first


def _fields(family: Family, cfg: Config, source: str) -> Fields:
    data = dict(cfg)
    for alias, name in family.aliases.items():
        if alias in data and name not in data:
            data[name] = data[alias]
    return Fields({**family.defaults, **data}, source)


def resolve(config: Config | str | Path) -> tuple[Family | None, Fields, str | None, Config]:
    """(native family or None, checked fields with defaults, architecture or None, raw config)."""
    cfg, source = _load(config)
    model_type = model_type_of(cfg, source)
    arch = architecture_of(cfg, source)
    family = FAMILIES.get(model_type)
    if family is None:
        return None, Fields(cfg, source), arch, cfg
    fields = _fields(family, cfg, source)
    if arch is None:
        arch = family.architectures[0]
    if arch not in family.architectures:
        return None, fields, arch, cfg
    return family, fields, arch, cfg


def resolved_config(config: Config | str | Path) -> tuple[Family, Config, str]:
    """(family, config with the family's defaults filled in, architecture counted) for a family
    netsize builds itself; an error otherwise."""
    family, fields, arch, cfg = resolve(config)
    if family is None or arch is None:
        raise _not_native(cfg, fields.source, arch)
    return family, fields.data, arch


def _not_native(cfg: Config, source: str, arch: str | None) -> NetsizeError:
    model_type = cfg.get("model_type")
    family = FAMILIES.get(str(model_type))
    if family is not None:
        return NetsizeError(
            f"{source}: architecture {arch!r} of model_type {model_type!r} is not built natively "
            f"(netsize builds {', '.join(family.architectures)}); installing transformers covers it"
        )
    return NetsizeError(
        f"{source}: model_type {model_type!r} is not built natively (netsize builds {', '.join(SUPPORTED)}); "
        "installing transformers (pip install transformers) covers every family transformers knows"
    )


def default_seq_len(family: Family | None, fields: Fields) -> int:
    if family is not None and family.position_limit is not None:
        nested = family.position_limit(fields)
        return _NO_POSITION_LIMIT_SEQ_LEN if nested is None else max(1, min(nested, DEFAULT_SEQ_LEN))
    key = family.position_key if family is not None else "max_position_embeddings"
    if key is None:
        return _NO_POSITION_LIMIT_SEQ_LEN
    value = fields.raw(key)
    if value is None:
        return _NO_POSITION_LIMIT_SEQ_LEN
    limit = fields.int(key, min=1)
    if family is not None and family.positions_after_pad:
        limit -= (fields.opt_int("pad_token_id") or 0) + 1
    return max(1, min(limit, DEFAULT_SEQ_LEN))


def _check_seq_len(seq_len: Any) -> int:
    if type(seq_len) is not int or seq_len <= 0:
        raise NetsizeError(f"sequence length must be a positive integer (got {seq_len!r})")
    checked: int = seq_len
    return checked


def network_from_config(config: Config | str | Path, seq_len: int | None = None) -> Network:
    """The network of a Hugging Face config, for token-id inputs of ``seq_len`` positions.

    ``seq_len`` defaults to ``min(max_position_embeddings, 1024)`` (GPT-2: ``n_positions``;
    T5, which has no position table: 512). Families netsize does not build are an error here;
    :func:`summary_from_config` analyses them through transformers when it is installed.
    """
    family, fields, arch, cfg = resolve(config)
    if family is None or arch is None:
        raise _not_native(cfg, fields.source, arch)
    seq = default_seq_len(family, fields) if seq_len is None else _check_seq_len(seq_len)
    network = family.build(fields, arch, seq)
    largest = _largest_fields(cfg)
    if largest and abs(largest[0][1]) > _REAL_DIMENSION:
        _analyze_naming_fields(network, 1, cfg, fields.source)  # refused here, with the fields named
    return network


#: No real config has a dimension past 2**24 (vocabularies: 2**18, widths: 2**15): a config with
#: one is analysed once when read, so that a count past 2**62 is refused naming the fields.
_REAL_DIMENSION = 2**24


def _largest_fields(cfg: Config, prefix: str = "") -> list[tuple[str, int]]:
    """The config's integer fields (nested objects too), largest first."""
    found: list[tuple[str, int]] = []
    for key, item in cfg.items():
        if isinstance(item, dict):
            found.extend(_largest_fields(item, f"{prefix}{key}."))
        elif isinstance(item, int) and not isinstance(item, bool):
            found.append((f"{prefix}{key}", item))
    return sorted(found, key=lambda kv: -abs(kv[1]))


def _analyze_naming_fields(network: Network, batch_size: int, cfg: Config, source: str) -> Summary:
    """``analyze(network)``; a count past 2**62 is refused naming the config's largest fields,
    which made it, with their values and the bound."""
    try:
        return analyze(network, batch_size=batch_size)
    except CountTooLarge as err:
        largest = _largest_fields(cfg)
        culprits = [(k, v) for k, v in largest if abs(v) > _REAL_DIMENSION][:3] or largest[:3]
        named = ", ".join(f"{key} = {value}" for key, value in culprits)
        fields, make = ("the field", "makes") if len(culprits) == 1 else ("the fields", "make")
        raise NetsizeError(f"{source}: {fields} {named} {make} a model too large to count: {err}") from None


def is_native(config: Config | str | Path) -> bool:
    """Whether netsize builds this config's family and architecture itself."""
    family, _, arch, _ = resolve(config)
    return family is not None and arch is not None


def analyse_config(config: Config | str | Path, seq_len: int | None = None, batch_size: int = 1,
                   with_cache: bool = False) -> tuple[Summary, Network | None, int | None]:
    """(summary, network or None, measured cache elements or None) of any config: netsize's own
    network for a family it builds, else transformers' model on the meta device (see
    :mod:`._transformers`)."""
    family, fields, arch, cfg = resolve(config)
    seq = default_seq_len(family, fields) if seq_len is None else _check_seq_len(seq_len)
    if family is not None and arch is not None:
        network = family.build(fields, arch, seq)
        summary = _analyze_naming_fields(network, batch_size, cfg, fields.source)
        return summary, network, _latent_cache(network, batch_size, seq)
    from netsize.frontends.hf_config._transformers import analyse, available

    text = cfg.get("text_config")
    if family is None and not available() and isinstance(text, dict) and text.get("model_type") in FAMILIES:
        # A multimodal config without transformers: its language model, built natively, said so.
        summary, text_network, cache = analyse_config(text, seq_len, batch_size, with_cache)
        note = (f"{fields.source}: only the language model (text_config, model_type {text['model_type']!r}) of "
                f"this {cfg.get('model_type')!r} config is counted; its other towers (vision_config...) need "
                "transformers (pip install transformers) to be built")
        return replace(summary, notes=(*summary.notes, note)), text_network, cache
    if family is None:
        for key in ("vocab_size", "hidden_size", "num_hidden_layers"):
            if fields.raw(key) is not None:
                fields.int(key, min=0)  # a clear message before transformers sees a bad count
    result = analyse(cfg, fields.source, arch if cfg.get("architectures") else None, seq, batch_size, with_cache)
    return result.summary, None, result.cache_elements


def _latent_cache(network: Network, batch: int, seq: int) -> int | None:
    """Multi-head latent attention caches its compressed latent, the output of each layer's
    ``kv_a_proj_with_mqa`` (``kv_lora_rank + qk_rope_head_dim`` per token), as transformers'
    DeepSeek-V3 does; None for networks without it (their cache follows from the attention cores)."""
    widths = [getattr(n.layer, "out_features", 0) for n in network.nodes if n.name.endswith(".kv_a_proj_with_mqa")]
    return sum(widths) * batch * seq if widths else None


def summary_from_config(config: Config | str | Path, seq_len: int | None = None, batch_size: int = 1) -> Summary:
    """The summary of any Hugging Face config: built natively for the families netsize knows,
    else through transformers (installed) on the meta device, with a note saying so.

    >>> summary_from_config({"model_type": "gpt2", "n_layer": 1}, seq_len=4).totals.params
    46473216
    """
    return analyse_config(config, seq_len, batch_size)[0]


def transformers_model(config: Config | str | Path) -> Any:
    """transformers' own model of a config, built on the meta device (eager attention): for the
    memory model's PyTorch method on families netsize does not build. Needs transformers."""
    from netsize.frontends.hf_config._transformers import build_model

    _, fields, arch, cfg = resolve(config)
    return build_model(cfg, fields.source, arch if cfg.get("architectures") else None)
