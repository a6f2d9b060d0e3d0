"""Hugging Face ``config.json`` -> a netsize :class:`~netsize.Network`, without transformers.

The network is built from netsize's own layers with the module names transformers uses
(``transformer.h.0.attn.c_attn``, ``model.layers.0.self_attn.q_proj``), so its parameter count
equals ``sum(p.numel() for p in model.parameters())`` of the class named in the config's
``architectures`` (tied weights counted once), and its multiply-adds equal FlopCounterMode's
FLOPs / 2 of that model's forward pass (eager or meta-device attention).

Every field a builder reads is type- and range-checked (one error per bad field, naming the
field and the file); a field that would change the model and is not modelled is refused.

Input: token ids, per-sample shape ``(seq_len,)`` (encoder-decoders: the decoder reads
``seq_len`` ids too). Default ``seq_len``: ``min(max_position_embeddings, 1024)``, or 512 for a
model without a position limit (T5).

>>> from netsize import analyze
>>> net = network_from_config({"model_type": "gpt2"}, seq_len=8)
>>> analyze(net).totals.params
124439808
"""

from __future__ import annotations

from netsize.frontends.hf_config._config import (
    DEFAULT_SEQ_LEN,
    SUPPORTED,
    analyse_config,
    find_config,
    hub_cache,
    is_native,
    load_config,
    network_from_config,
    resolved_config,
    summary_from_config,
    transformers_model,
)

__all__ = ["DEFAULT_SEQ_LEN", "SUPPORTED", "analyse_config", "find_config", "hub_cache", "is_native", "load_config",
           "network_from_config", "resolved_config", "summary_from_config", "transformers_model"]
