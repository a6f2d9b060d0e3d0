"""ViT, CLIP and SigLIP, built natively from config fields.

Builders follow the rules in :mod:`._families`. Module names are transformers 5.23's
(``vit.layers.0.attention.q_proj``, ``vision_model.encoder.layers.0.self_attn.q_proj``,
``vision_model.head.attention``).

Inputs (per sample):

- a vision tower reads ``pixel_values`` ``(num_channels, image_size, image_size)`` (ViT also takes
  ``[height, width]`` pairs for ``image_size`` and ``patch_size``); the sequence length argument
  does not apply: the tower sees ``(image_size / patch_size)^2`` patches (ViT, CLIP: one class
  token more);
- a text tower reads ``input_ids`` ``(seq_len,)``, ``seq_len`` at most the text config's
  ``max_position_embeddings`` (its default: CLIP 77, SigLIP 64);
- a two-tower model (``CLIPModel``, ``SiglipModel``) reads both, with the same batch size: N
  texts and N images, as a processor makes them for a contrastive batch. Its logits are the
  ``N x N`` similarities of every text with every image, so that product grows as ``N^2``.

Choices where the model's forward depends on its call, not its config: CLIP's text pooler takes
the end-of-text token (a gather, counted as taking one token); ``ViTForMaskedImageModeling`` is
counted with a mask given (SimMIM pretraining), so its mask token is blended in; positions are not
interpolated (``interpolate_pos_encoding`` is off, the image has the config's size).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from netsize._layer import Layer
from netsize._network import Graph, Network
from netsize.frontends.hf_config._decoder import ACTIVATIONS, activation, dropout, make
from netsize.frontends.hf_config._families import (
    Config,
    Family,
    _attn_implementation,
    _heads,
    _labels,
)
from netsize.frontends.hf_config._fields import Fields
from netsize.layers.activation import QuickGELU
from netsize.layers.attention import MultiheadAttention, ScaledDotProductAttention
from netsize.layers.conv import Conv2d
from netsize.layers.embedding import Embedding, PositionalEmbedding
from netsize.layers.linear import Linear
from netsize.layers.matmul import MatMul
from netsize.layers.tokens import LearnedQuery, LogitBias, LogitScale, MaskToken, PrependTokens
from netsize.layers.transformer import TakeToken

_ACTIVATIONS = (*ACTIVATIONS, "quick_gelu")


def _act(f: Fields, key: str) -> Layer:
    name = f.str_choice(key, _ACTIVATIONS)
    return QuickGELU() if name == "quick_gelu" else activation(name)


def _pair(f: Fields, key: str, pairs: bool) -> tuple[int, int]:
    """``image_size`` / ``patch_size``: an integer, or (``pairs``: ViT) a ``[height, width]`` pair."""
    value = f.raw(key)
    if pairs and isinstance(value, list | tuple):
        if len(value) != 2 or any(type(v) is not int or v < 1 for v in value):
            raise f.error(key, "must be an integer >= 1 or a pair [height, width] of them", value)
        return value[0], value[1]
    size = f.int(key, min=1)
    return size, size


def _num_labels(f: Fields) -> int:
    """Image classifiers take ``num_labels: 0`` as no classifier (``nn.Identity``)."""
    if f.raw("id2label") is None and f.raw("num_labels") == 0:
        return 0
    return _labels(f)


@dataclass(frozen=True)
class _Encoder:
    """A pre-norm transformer encoder and the module names of its family."""

    d: int
    heads: int
    head_dim: int
    ff: int
    layers: int
    eps: float
    act: Layer
    attention_dropout: float
    implementation: str
    causal: bool = False
    hidden_dropout: float = 0.0
    qkv_bias: bool = True
    # (stack, norm1, norm2, attention, output projection); ViT: layers, layernorm_before, ..., attention, o_proj
    names: tuple[str, str, str, str, str] = ("encoder.layers", "layer_norm1", "layer_norm2", "self_attn", "out_proj")

    def build(self, g: Graph, prefix: str, x: str) -> str:
        stack, norm1, norm2, attn, out = self.names
        d, inner = self.d, self.heads * self.head_dim
        ln = {"normalized_shape": d, "eps": self.eps}
        for i in range(self.layers):
            b = f"{prefix}{stack}.{i}."
            a = f"{b}{attn}."
            n = g.add(f"{b}{norm1}", make("layernorm", **ln), x)
            q = g.add(f"{a}q_proj", Linear(d, inner, bias=self.qkv_bias), n)
            k = g.add(f"{a}k_proj", Linear(d, inner, bias=self.qkv_bias), n)
            v = g.add(f"{a}v_proj", Linear(d, inner, bias=self.qkv_bias), n)
            core = ScaledDotProductAttention(self.heads, causal=self.causal, dropout=self.attention_dropout,
                                             implementation=self.implementation)
            h = g.add(f"{a}attn", core, [q, k, v])
            h = g.add(f"{a}{out}", Linear(inner, d), h)
            h = dropout(g, f"{b}dropout", self.hidden_dropout, h)
            x = g.add(f"{b}residual1", make("add"), [x, h])
            n = g.add(f"{b}{norm2}", make("layernorm", **ln), x)
            h = g.add(f"{b}mlp.fc1", Linear(d, self.ff), n)
            h = g.add(f"{b}mlp.activation_fn", self.act, h)
            h = g.add(f"{b}mlp.fc2", Linear(self.ff, d), h)
            h = dropout(g, f"{b}dropout_2", self.hidden_dropout, h)
            x = g.add(f"{b}residual2", make("add"), [x, h])
        return x


def _encoder(f: Fields, implementation: str, *, attention_dropout_key: str = "attention_dropout",
             head_dim: bool = False, **kw: Any) -> _Encoder:
    d, heads = f.int("hidden_size", min=1), f.int("num_attention_heads", min=1)
    size = f.opt_int("head_dim", min=1) if head_dim else None
    if size is None:
        size = _heads(f, "num_attention_heads", heads, d, "hidden_size")
    return _Encoder(d=d, heads=heads, head_dim=size, ff=f.int("intermediate_size", min=1),
                    layers=f.int("num_hidden_layers", min=0), eps=f.float("layer_norm_eps", min=0),
                    act=_act(f, "hidden_act"), attention_dropout=f.rate(attention_dropout_key),
                    implementation=implementation, **kw)


def _patch_embedding(g: Graph, name: str, c: int, d: int, image: tuple[int, int], patch: tuple[int, int],
                     f: Fields, bias: bool) -> tuple[str, int]:
    """``Conv2d(kernel = stride = patch)`` then ``flatten(2).transpose(1, 2)``: ``(N, patches, D)``."""
    for axis, (i, p) in enumerate(zip(image, patch, strict=True)):
        if p > i:
            raise f.error("patch_size", f"must not exceed image_size ({i} on axis {axis})", p)
    x = g.add(name, Conv2d(c, d, kernel_size=patch, stride=patch, bias=bias), "pixel_values")
    x = g.add(f"{name}.flatten", make("flatten", start_dim=2), x)
    x = g.add(f"{name}.transpose", make("permute", dims=(0, 2, 1)), x)
    return x, (image[0] // patch[0]) * (image[1] // patch[1])


# ----- ViT --------------------------------------------------------------------------------

VIT_HEADS = ("Model", "ForImageClassification", "ForMaskedImageModeling")


def _vit(f: Fields, arch: str, seq_len: int) -> Network:
    hidden_p = f.rate("hidden_dropout_prob")
    enc = _encoder(f, _attn_implementation(f), attention_dropout_key="attention_probs_dropout_prob", head_dim=True,
                   hidden_dropout=hidden_p, qkv_bias=f.bool("qkv_bias", True),
                   names=("layers", "layernorm_before", "layernorm_after", "attention", "o_proj"))
    d = enc.d
    c = f.int("num_channels", min=1)
    image, patch = _pair(f, "image_size", True), _pair(f, "patch_size", True)
    head = arch.removeprefix("ViT")
    p = "" if head == "Model" else "vit."
    g = Graph(arch, inputs={"pixel_values": (c, *image)})
    e = f"{p}embeddings."
    x, patches = _patch_embedding(g, f"{e}patch_embeddings.projection", c, d, image, patch, f, True)
    if head == "ForMaskedImageModeling":
        x = g.add(f"{e}mask_token", MaskToken(d), x)
    x = g.add(f"{e}cls_token", PrependTokens(d), x)
    pos = g.add(f"{e}position_embeddings", PositionalEmbedding(patches + 1, d), x)
    x = g.add(f"{e}add", make("add"), [x, pos])
    x = dropout(g, f"{e}dropout", hidden_p, x)
    x = enc.build(g, p, x)
    x = g.add(f"{p}layernorm", make("layernorm", normalized_shape=d, eps=enc.eps), x)
    if head == "Model":  # ViTModel(config) keeps add_pooling_layer=True
        out = f.opt_int("pooler_output_size", min=1) or d
        act = f.str_choice("pooler_act", _ACTIVATIONS)
        t = g.add("pooler.first_token", TakeToken(0), x)
        t = g.add("pooler.dense", Linear(d, out), t)
        g.add("pooler.activation", QuickGELU() if act == "quick_gelu" else activation(act), t)
    elif head == "ForImageClassification":
        labels = _num_labels(f)
        t = g.add("first_token", TakeToken(0), x)
        if labels:
            g.add("classifier", Linear(d, labels), t)
    else:
        _simmim_decoder(g, f, x, d, c, patches)
    return g.build()


def _simmim_decoder(g: Graph, f: Fields, x: str, d: int, c: int, patches: int) -> None:
    """The patch tokens back on their grid (``floor(sqrt(patches))`` a side), a 1x1 conv to
    ``encoder_stride^2 * num_channels`` and a pixel shuffle by ``encoder_stride``."""
    side = int(patches**0.5)
    while side * side > patches:
        side -= 1
    if side * side != patches:
        raise f.error("image_size", f"must give a square grid of patches for ViTForMaskedImageModeling "
                      f"(got {patches} patches)", f.raw("image_size"))
    r = f.int("encoder_stride", min=1)
    x = g.add("patch_tokens", make("slice", starts=(1,), ends=(patches + 1,), axes=(1,)), x)
    x = g.add("to_channels", make("permute", dims=(0, 2, 1)), x)
    x = g.add("to_grid", make("reshape", shape=(d, side, side)), x)
    x = g.add("decoder.0", Conv2d(d, r * r * c, kernel_size=1), x)
    # nn.PixelShuffle(r): view (C, r, r, H, W), permute to (C, H, r, W, r), reshape (C, H*r, W*r)
    x = g.add("decoder.1.view", make("reshape", shape=(c, r, r, side, side)), x)
    x = g.add("decoder.1.permute", make("permute", dims=(0, 1, 4, 2, 5, 3)), x)
    g.add("decoder.1", make("reshape", shape=(c, side * r, side * r)), x)


# ----- CLIP and SigLIP towers -------------------------------------------------------------


def _text_tower(g: Graph, t: Fields, p: str, implementation: str, siglip: bool) -> tuple[str, int]:
    """Token and position embeddings, the encoder (causal for CLIP), ``final_layer_norm``, one
    token per sample (CLIP: the end-of-text token, found by value; SigLIP: the last), SigLIP's
    ``head``. Returns (pooled node, its width)."""
    enc = _encoder(t, implementation, causal=not siglip)
    d, vocab = enc.d, t.int("vocab_size", min=1)
    positions = t.int("max_position_embeddings", min=1)
    e = f"{p}embeddings."
    x = g.add(f"{e}token_embedding", Embedding(vocab, d), "input_ids")
    pos = g.add(f"{e}position_embedding", PositionalEmbedding(positions, d), "input_ids")
    x = g.add(f"{e}add", make("add"), [x, pos])
    x = enc.build(g, p, x)
    x = g.add(f"{p}final_layer_norm", make("layernorm", normalized_shape=d, eps=enc.eps), x)
    pooled = g.add(f"{p}{'last_token' if siglip else 'eos_token'}", TakeToken(-1), x)
    if not siglip:
        return pooled, d
    out = t.opt_int("projection_size", min=1) or d
    return g.add(f"{p}head", Linear(d, out), pooled), out


def _vision_tower(g: Graph, v: Fields, p: str, implementation: str, siglip: bool) -> tuple[str, str | None, int]:
    """Patch embedding (CLIP: no bias, a class token; SigLIP: bias, ``padding="valid"`` = 0),
    positions, the encoder and the pooling: CLIP ``post_layernorm`` on the class token; SigLIP
    ``post_layernorm`` on every token then the attention-pooling head (``vision_use_head``).
    Returns (last hidden state, pooled node or None, width)."""
    enc = _encoder(v, implementation)
    d, c = enc.d, v.int("num_channels", min=1)
    image, patch = _pair(v, "image_size", False), _pair(v, "patch_size", False)
    e = f"{p}embeddings."
    x, patches = _patch_embedding(g, f"{e}patch_embedding", c, d, image, patch, v, siglip)
    if not siglip:
        x = g.add(f"{e}class_embedding", PrependTokens(d), x)
    positions = patches if siglip else patches + 1
    pos = g.add(f"{e}position_embedding", PositionalEmbedding(positions, d), x)
    x = g.add(f"{e}add", make("add"), [x, pos])
    ln = {"normalized_shape": d, "eps": enc.eps}
    if not siglip:
        x = g.add(f"{p}pre_layrnorm", make("layernorm", **ln), x)  # transformers' spelling
    x = enc.build(g, p, x)
    if not siglip:
        t = g.add(f"{p}first_token", TakeToken(0), x)
        return x, g.add(f"{p}post_layernorm", make("layernorm", **ln), t), d
    x = g.add(f"{p}post_layernorm", make("layernorm", **ln), x)
    if not v.bool("vision_use_head", True):
        return x, None, d
    h = f"{p}head."
    probe = g.add(f"{h}probe", LearnedQuery(d), x)
    a = g.add(f"{h}attention", MultiheadAttention(d, enc.heads), [probe, x, x])
    n = g.add(f"{h}layernorm", make("layernorm", **ln), a)
    m = g.add(f"{h}mlp.fc1", Linear(d, enc.ff), n)
    m = g.add(f"{h}mlp.activation_fn", _act(v, "hidden_act"), m)
    m = g.add(f"{h}mlp.fc2", Linear(enc.ff, d), m)
    m = g.add(f"{h}residual", make("add"), [a, m])
    return x, g.add(f"{h}first_token", TakeToken(0), m), d


def _contrastive_logits(g: Graph, text: str, image: str, bias: bool) -> None:
    """Both embeddings scaled to unit length (``x / ||x||``: square, sum, square root, divide),
    every text against every image (``N x P @ P x N``), times ``exp(logit_scale)`` (SigLIP:
    plus ``logit_bias``)."""
    t = g.add("text_embeds_normalize", make("elementwise", op="l2_normalize", ops=3), text)
    i = g.add("image_embeds_normalize", make("elementwise", op="l2_normalize", ops=3), image)
    i = g.add("image_embeds_transpose", make("transpose", perm=(1, 0)), i)
    logits = g.add("logits_per_text", MatMul(), [t, i])
    logits = g.add("logit_scale", LogitScale(), logits)
    if bias:
        g.add("logit_bias", LogitBias(), logits)


def _tower_inputs(f: Fields, seq_len: int | None, image_size: int | None = None) -> dict[str, Sequence[int]]:
    inputs: dict[str, Sequence[int]] = {}
    if seq_len is not None:
        inputs["input_ids"] = (seq_len,)
    if image_size is not None:
        inputs["pixel_values"] = (f.int("num_channels", min=1), image_size, image_size)
    return inputs


def _sub(f: Fields, key: str, defaults: Config) -> Fields:
    """A nested tower config (``text_config``) over its class's defaults; CLIP's older
    ``text_config_dict`` / ``vision_config_dict`` override it, as ``CLIPConfig`` does."""
    data = dict(defaults)
    for name in (key, f"{key}_dict"):
        value = f.raw(name)
        if value is None:
            continue
        if not isinstance(value, dict):
            raise f.error(name, "must be an object", value)
        data.update(value)
    return Fields(data, f"{f.source} ({key})")


def _text_family(siglip: bool) -> Callable[[Fields, str, int], Network]:
    def build(f: Fields, arch: str, seq_len: int) -> Network:
        g = Graph(arch, inputs=_tower_inputs(f, seq_len))
        if arch.endswith("WithProjection"):  # CLIPTextModelWithProjection
            pooled, d = _text_tower(g, f, "text_model.", _attn_implementation(f), siglip)
            g.add("text_projection", Linear(d, f.int("projection_dim", min=1), bias=False), pooled)
        else:
            _text_tower(g, f, "", _attn_implementation(f), siglip)
        return g.build()

    return build


def _vision_family(siglip: bool) -> Callable[[Fields, str, int], Network]:
    def build(f: Fields, arch: str, seq_len: int) -> Network:
        g = Graph(arch, inputs=_tower_inputs(f, None, f.int("image_size", min=1)))
        if arch.endswith("WithProjection"):  # CLIPVisionModelWithProjection
            _, pooled, d = _vision_tower(g, f, "vision_model.", _attn_implementation(f), siglip)
            assert pooled is not None  # CLIP always pools
            g.add("visual_projection", Linear(d, f.int("projection_dim", min=1), bias=False), pooled)
        else:
            _vision_tower(g, f, "", _attn_implementation(f), siglip)
        return g.build()

    return build


def _image_classifier(g: Graph, f: Fields, x: str, d: int, siglip: bool) -> None:
    """``*ForImageClassification``: the mean of the tokens (CLIP: all but the class token),
    then ``classifier`` (none when ``num_labels`` is 0)."""
    if not siglip:
        x = g.add("patch_tokens", make("slice", starts=(1,), ends=(1 << 62,), axes=(1,)), x)
    x = g.add("mean", make("reduce", op="mean", axes=(1,), keepdims=False), x)
    labels = _num_labels(f)
    if labels:
        g.add("classifier", Linear(d, labels), x)


def _two_tower_family(siglip: bool, text_defaults: Config, vision_defaults: Config) -> Callable[
        [Fields, str, int], Network]:
    def build(f: Fields, arch: str, seq_len: int) -> Network:
        impl = _attn_implementation(f)
        v = _sub(f, "vision_config", vision_defaults)
        image = v.int("image_size", min=1)
        if arch.endswith("ForImageClassification"):
            g = Graph(arch, inputs=_tower_inputs(v, None, image))
            x, _, d = _vision_tower(g, v, "vision_model.", impl, siglip)
            _image_classifier(g, f, x, d, siglip)
            return g.build()
        t = _sub(f, "text_config", text_defaults)
        g = Graph(arch, inputs={**_tower_inputs(t, seq_len), **_tower_inputs(v, None, image)})
        _, image_pooled, vd = _vision_tower(g, v, "vision_model.", impl, siglip)
        text_pooled, td = _text_tower(g, t, "text_model.", impl, siglip)
        if image_pooled is None:
            raise v.error("vision_use_head", "must be true for SiglipModel (its image embeddings are the "
                          "attention-pooling head's output; without it the forward fails)", False)
        if not siglip:
            proj = f.int("projection_dim", min=1)
            image_pooled = g.add("visual_projection", Linear(vd, proj, bias=False), image_pooled)
            text_pooled = g.add("text_projection", Linear(td, proj, bias=False), text_pooled)
        elif vd != td:
            raise t.error("projection_size", f"must equal the vision tower's hidden_size ({vd}): SigLIP compares "
                          "text and image embeddings directly", td)
        _contrastive_logits(g, text_pooled, image_pooled, bias=siglip)
        return g.build()

    return build


def _text_limit(defaults: Config) -> Callable[[Fields], int | None]:
    def limit(f: Fields) -> int | None:
        return _sub(f, "text_config", defaults).int("max_position_embeddings", min=1)

    return limit


# ----- registry ---------------------------------------------------------------------------

_VIT_DEFAULTS: Config = {
    "hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12, "intermediate_size": 3072,
    "hidden_act": "gelu", "hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0, "layer_norm_eps": 1e-12,
    "image_size": 224, "patch_size": 16, "num_channels": 3, "qkv_bias": True, "encoder_stride": 16,
    "pooler_output_size": None, "pooler_act": "tanh",
}
_CLIP_TEXT: Config = {
    "vocab_size": 49408, "hidden_size": 512, "intermediate_size": 2048, "projection_dim": 512, "num_hidden_layers": 12,
    "num_attention_heads": 8, "max_position_embeddings": 77, "hidden_act": "quick_gelu", "layer_norm_eps": 1e-5,
    "attention_dropout": 0.0,
}
_CLIP_VISION: Config = {
    "hidden_size": 768, "intermediate_size": 3072, "projection_dim": 512, "num_hidden_layers": 12,
    "num_attention_heads": 12, "num_channels": 3, "image_size": 224, "patch_size": 32, "hidden_act": "quick_gelu",
    "layer_norm_eps": 1e-5, "attention_dropout": 0.0,
}
_SIGLIP_TEXT: Config = {
    "vocab_size": 32000, "hidden_size": 768, "intermediate_size": 3072, "num_hidden_layers": 12,
    "num_attention_heads": 12, "max_position_embeddings": 64, "hidden_act": "gelu_pytorch_tanh",
    "layer_norm_eps": 1e-6, "attention_dropout": 0.0, "projection_size": None,
}
_SIGLIP_VISION: Config = {
    "hidden_size": 768, "intermediate_size": 3072, "num_hidden_layers": 12, "num_attention_heads": 12,
    "num_channels": 3, "image_size": 224, "patch_size": 16, "hidden_act": "gelu_pytorch_tanh", "layer_norm_eps": 1e-6,
    "attention_dropout": 0.0, "vision_use_head": True,
}

FAMILIES: tuple[Family, ...] = (
    Family("vit", tuple("ViT" + h for h in VIT_HEADS), _VIT_DEFAULTS, _vit, position_key=None),
    Family("clip", ("CLIPModel", "CLIPForImageClassification"), {"projection_dim": 512},
           _two_tower_family(False, _CLIP_TEXT, _CLIP_VISION), position_limit=_text_limit(_CLIP_TEXT)),
    Family("clip_text_model", ("CLIPTextModel", "CLIPTextModelWithProjection"), _CLIP_TEXT, _text_family(False)),
    Family("clip_vision_model", ("CLIPVisionModel", "CLIPVisionModelWithProjection"), _CLIP_VISION,
           _vision_family(False), position_key=None),
    Family("siglip", ("SiglipModel", "SiglipForImageClassification"), {},
           _two_tower_family(True, _SIGLIP_TEXT, _SIGLIP_VISION), position_limit=_text_limit(_SIGLIP_TEXT)),
    Family("siglip_text_model", ("SiglipTextModel",), _SIGLIP_TEXT, _text_family(True)),
    Family("siglip_vision_model", ("SiglipVisionModel",), _SIGLIP_VISION, _vision_family(True), position_key=None),
)
