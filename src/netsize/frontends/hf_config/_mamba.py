"""Mamba, built natively from config fields.

Builders follow the rules in :mod:`._families`."""

from __future__ import annotations

import math

from netsize._network import Graph, Network
from netsize.frontends.hf_config._decoder import activation, make
from netsize.frontends.hf_config._families import Family, _act, _use_cache
from netsize.frontends.hf_config._fields import Fields
from netsize.layers.conv import Conv1d
from netsize.layers.embedding import Embedding
from netsize.layers.linear import Linear
from netsize.layers.ssm import SelectiveScan
from netsize.layers.tensor_ops import Slice, Transpose

_SWAP = Transpose((0, 2, 1))  # (N, L, C) <-> (N, C, L): views, as the mixer's transposes are


def mamba_sizes(f: Fields) -> dict[str, int]:
    """The mixer's sizes as ``MambaConfig`` resolves them: ``d_inner`` is ``intermediate_size``
    when the config gives one (it overrides ``expand``), else ``expand*hidden_size``;
    ``time_step_rank`` ``"auto"`` is ``ceil(hidden_size/16)``."""
    d = f.int("hidden_size", min=1)
    expand = f.int("expand", min=1)
    inner = f.opt_int("intermediate_size", min=1) or expand * d
    rank_raw = f.raw("time_step_rank")
    rank = math.ceil(d / 16) if rank_raw == "auto" else f.int("time_step_rank", min=1)
    return {"d": d, "inner": inner, "rank": rank, "state": f.int("state_size", min=1),
            "kernel": f.int("conv_kernel", min=1), "layers": f.int("num_hidden_layers", min=0)}


def _mamba(f: Fields, arch: str, seq_len: int) -> Network:
    """MambaModel / MambaForCausalLM: embeddings, ``num_hidden_layers`` blocks of RMSNorm and
    mixer (``in_proj`` to ``2*d_inner``, depthwise causal ``conv1d`` padded by ``conv_kernel - 1``
    and cut back to the sequence, ``hidden_act``, ``x_proj`` to ``time_step_rank + 2*state_size``,
    ``dt_proj``, the selective scan holding ``A_log`` and ``D``, ``out_proj``), a residual add,
    ``norm_f`` and the LM head tied to the embeddings unless ``tie_word_embeddings`` is false.

    ``residual_in_fp32`` keeps the residual stream in float32 under half precision: a dtype,
    no count. ``use_mambapy`` and ``use_associative_scan`` choose other scan paths only with
    the ``mambapy`` package or under ``torch.compile``; the counts are those of the sequential
    reference path transformers runs otherwise. The initialisation fields (``time_step_*``,
    ``initializer_range``, ``rescale_prenorm_residual``) change no count.
    """
    s = mamba_sizes(f)
    d, inner, rank, state, kernel = s["d"], s["inner"], s["rank"], s["state"], s["kernel"]
    vocab = f.int("vocab_size", min=1)
    eps = f.float("layer_norm_epsilon", min=0)
    act = _act(f, "hidden_act")
    bias, conv_bias = f.bool("use_bias", False), f.bool("use_conv_bias", True)
    tie = f.bool("tie_word_embeddings", True)
    f.bool("residual_in_fp32", True)
    f.bool("use_mambapy", False)
    f.bool("use_associative_scan", True)
    cache = _use_cache(f)
    f.opt_int("pad_token_id", min=-vocab, max=vocab - 1)
    p = "backbone." if arch == "MambaForCausalLM" else ""
    g = Graph(arch, inputs={"input_ids": (seq_len,)})
    emb = g.add(f"{p}embeddings", Embedding(vocab, d), "input_ids")
    x = emb
    for i in range(s["layers"]):
        b = f"{p}layers.{i}."
        m = f"{b}mixer."
        h = g.add(f"{b}norm", make("rmsnorm", normalized_shape=d, eps=eps), x)
        h = g.add(f"{m}in_proj", Linear(d, 2 * inner, bias=bias), h)
        h = g.add(f"{m}in_proj_transpose", _SWAP, h)
        parts = g.add(f"{m}chunk", make("split", split_size_or_sections=inner, dim=1), h)
        u = g.add(f"{m}conv1d", Conv1d(inner, inner, kernel, padding=kernel - 1, groups=inner, bias=conv_bias),
                  f"{parts}:0")
        u = g.add(f"{m}conv1d_causal_cut", Slice((0,), (seq_len,), (2,)), u)
        u = g.add(f"{m}act", activation(act), u)
        u = g.add(f"{m}conv_transpose", _SWAP, u)
        z = g.add(f"{m}gate_transpose", _SWAP, f"{parts}:1")
        proj = g.add(f"{m}x_proj", Linear(inner, rank + 2 * state, bias=False), u)
        dt_bc = g.add(f"{m}x_proj_split", make("split", split_size_or_sections=(rank, state, state), dim=-1), proj)
        dt = g.add(f"{m}dt_proj", Linear(rank, inner), f"{dt_bc}:0")
        scan = SelectiveScan(inner, state, conv_kernel=kernel, cache=cache)
        y = g.add(f"{m}selective_scan", scan, [u, dt, f"{dt_bc}:1", f"{dt_bc}:2", z])
        y = g.add(f"{m}out_proj", Linear(inner, d, bias=bias), y)
        x = g.add(f"{b}residual", make("add"), [x, y])
    x = g.add(f"{p}norm_f", make("rmsnorm", normalized_shape=d, eps=eps), x)
    if arch == "MambaForCausalLM":
        g.add("lm_head", Linear(d, vocab, bias=False), x, tied_to=emb if tie else None)
    return g.build()


FAMILIES: tuple[Family, ...] = (
    Family(
        "mamba",
        ("MambaForCausalLM", "MambaModel"),
        {"vocab_size": 50280, "hidden_size": 768, "state_size": 16, "num_hidden_layers": 32,
         "layer_norm_epsilon": 1e-5, "pad_token_id": 0, "expand": 2, "conv_kernel": 4, "use_bias": False,
         "use_conv_bias": True, "hidden_act": "silu", "residual_in_fp32": True, "time_step_rank": "auto",
         "use_cache": True, "use_mambapy": False, "use_associative_scan": True, "tie_word_embeddings": True},
        _mamba,
        position_key=None,
    ),
)
