"""ViT, CLIP and SigLIP built natively (no transformers import): parameters equal transformers
5.23's model on the meta device, multiply-adds equal FlopCounterMode / 2 of its eager forward,
per-layer parameters line up with transformers' module names, for each family's default config,
small variants and every head class; the new layers (class token, probe, mask token, logit
scale, QuickGELU) against PyTorch; errors; the command line."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import netsize
from hf_support import transformers_model
from netsize import analyze_layer
from netsize.frontends.hf_config import is_native, network_from_config, summary_from_config
from netsize.layers.activation import QuickGELU
from netsize.layers.tokens import LearnedQuery, LogitBias, LogitScale, MaskToken, PrependTokens

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

VIT = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 48,
       "image_size": 32, "patch_size": 8}
TEXT = {"vocab_size": 99, "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4,
        "intermediate_size": 48, "max_position_embeddings": 16}
VISION = {"hidden_size": 40, "num_hidden_layers": 2, "num_attention_heads": 5, "intermediate_size": 56,
          "image_size": 32, "patch_size": 8}
SIGLIP_TEXT = {**TEXT, "hidden_size": 40, "num_attention_heads": 5}  # SiglipModel compares 40-wide embeddings

# (model_type, architecture, fields)
CASES = [
    ("vit", "ViTModel", VIT),
    ("vit", "ViTModel", {**VIT, "qkv_bias": False, "pooler_output_size": 24, "pooler_act": "relu",
                         "hidden_act": "gelu_new"}),
    ("vit", "ViTModel", {**VIT, "head_dim": 6, "image_size": [32, 24], "patch_size": [8, 4], "num_channels": 2}),
    ("vit", "ViTForImageClassification", {**VIT, "num_labels": 5, "hidden_dropout_prob": 0.1}),
    ("vit", "ViTForImageClassification", {**VIT, "num_labels": 0}),
    ("vit", "ViTForMaskedImageModeling", {**VIT, "encoder_stride": 8}),
    ("vit", "ViTForMaskedImageModeling", {**VIT, "encoder_stride": 4, "num_channels": 1}),
    ("clip_text_model", "CLIPTextModel", TEXT),
    ("clip_text_model", "CLIPTextModelWithProjection", {**TEXT, "projection_dim": 24, "hidden_act": "gelu"}),
    ("clip_vision_model", "CLIPVisionModel", VISION),
    ("clip_vision_model", "CLIPVisionModelWithProjection", {**VISION, "projection_dim": 24, "num_channels": 1}),
    ("clip", "CLIPModel", {"text_config": TEXT, "vision_config": VISION, "projection_dim": 20}),
    ("clip", "CLIPForImageClassification", {"text_config": TEXT, "vision_config": VISION, "num_labels": 3}),
    ("siglip_text_model", "SiglipTextModel", TEXT),
    ("siglip_text_model", "SiglipTextModel", {**TEXT, "projection_size": 20}),
    ("siglip_vision_model", "SiglipVisionModel", VISION),
    ("siglip_vision_model", "SiglipVisionModel", {**VISION, "vision_use_head": False, "patch_size": 16}),
    ("siglip", "SiglipModel", {"text_config": SIGLIP_TEXT, "vision_config": VISION}),
    ("siglip", "SiglipModel", {"text_config": {**TEXT, "projection_size": 40}, "vision_config": VISION}),
    ("siglip", "SiglipForImageClassification", {"text_config": TEXT, "vision_config": VISION, "num_labels": 3}),
    ("siglip", "SiglipForImageClassification", {"text_config": TEXT,
                                                "vision_config": {**VISION, "vision_use_head": False}}),
]


def _ids(case):
    return f"{case[1]}-" + "-".join(f"{k}={v}" for k, v in case[2].items() if k not in VIT and k not in TEXT
                                    and k not in VISION and not k.endswith("_config"))


def _hf(model_type: str, arch: str, fields: dict):
    model = transformers_model(model_type, arch, fields)
    return model, model.config


def _hf_inputs(model_type: str, arch: str, config, batch: int, seq: int) -> dict:
    kw = {}
    vision = getattr(config, "vision_config", None) or config
    if model_type in ("vit", "clip", "siglip", "clip_vision_model", "siglip_vision_model"):
        size = vision.image_size
        hw = tuple(size) if isinstance(size, list | tuple) else (size, size)
        kw["pixel_values"] = torch.zeros(batch, vision.num_channels, *hw, device="meta")
    if model_type in ("clip_text_model", "siglip_text_model") or arch in ("CLIPModel", "SiglipModel"):
        kw["input_ids"] = torch.ones(batch, seq, dtype=torch.long, device="meta")
    return kw


def _network(model_type: str, arch: str, fields: dict, seq: int = 6):
    return network_from_config({"model_type": model_type, "architectures": [arch], **fields}, seq_len=seq)


@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_params_and_multiply_adds_equal_transformers(case):
    model_type, arch, fields = case
    model, config = _hf(model_type, arch, fields)
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(**_hf_inputs(model_type, arch, config, batch=2, seq=6))
    summary = netsize.analyze(_network(model_type, arch, fields), batch_size=2)
    assert summary.totals.params == sum(p.numel() for p in model.parameters())
    assert summary.totals.multiply_adds == counter.get_total_flops() // 2


@st.composite
def _random_tower(draw: st.DrawFn) -> tuple[str, str, dict]:
    heads = draw(st.integers(1, 4))
    patch = draw(st.integers(2, 9))
    fields = {"hidden_size": heads * draw(st.integers(1, 6)), "num_attention_heads": heads,
              "num_hidden_layers": draw(st.integers(0, 2)), "intermediate_size": draw(st.integers(1, 40)),
              "patch_size": patch, "image_size": patch * draw(st.integers(1, 4)) + draw(st.integers(0, patch - 1)),
              "num_channels": draw(st.integers(1, 4)),
              "hidden_act": draw(st.sampled_from(["gelu", "quick_gelu", "gelu_pytorch_tanh", "relu"]))}
    model_type, arch = draw(st.sampled_from([
        ("vit", "ViTModel"), ("vit", "ViTForImageClassification"), ("clip_vision_model", "CLIPVisionModel"),
        ("clip_vision_model", "CLIPVisionModelWithProjection"), ("siglip_vision_model", "SiglipVisionModel")]))
    if model_type == "vit":
        fields["qkv_bias"] = draw(st.booleans())
        fields["hidden_act"] = "gelu" if fields["hidden_act"] == "quick_gelu" else fields["hidden_act"]
    if model_type == "siglip_vision_model":
        fields["vision_use_head"] = draw(st.booleans())
    return model_type, arch, fields


@st.composite
def _random_text_tower(draw: st.DrawFn) -> tuple[str, str, dict]:
    heads = draw(st.integers(1, 4))
    fields = {"hidden_size": heads * draw(st.integers(1, 6)), "num_attention_heads": heads,
              "num_hidden_layers": draw(st.integers(0, 2)), "intermediate_size": draw(st.integers(1, 40)),
              "vocab_size": draw(st.integers(1, 50)), "max_position_embeddings": draw(st.integers(6, 20)),
              "hidden_act": draw(st.sampled_from(["gelu", "quick_gelu", "gelu_pytorch_tanh", "silu"]))}
    model_type, arch = draw(st.sampled_from([
        ("clip_text_model", "CLIPTextModel"), ("clip_text_model", "CLIPTextModelWithProjection"),
        ("siglip_text_model", "SiglipTextModel")]))
    key = "projection_size" if model_type == "siglip_text_model" else "projection_dim"
    fields[key] = draw(st.integers(1, 30))
    return model_type, arch, fields


@settings(max_examples=16, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(_random_tower(), _random_text_tower()), st.integers(1, 3))
def test_random_towers_equal_transformers(case, batch):
    """Random sizes, heads, channels, image sizes that patches do not divide, activations,
    vocabularies, position tables and projections."""
    model_type, arch, fields = case
    model, config = _hf(model_type, arch, fields)
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(**_hf_inputs(model_type, arch, config, batch=batch, seq=6))
    summary = netsize.analyze(_network(model_type, arch, fields), batch_size=batch)
    assert summary.totals.params == sum(p.numel() for p in model.parameters())
    assert summary.totals.multiply_adds == counter.get_total_flops() // 2


@pytest.mark.parametrize("case", [c for c in CASES if c[1] in ("ViTForMaskedImageModeling", "CLIPModel",
                                                                 "SiglipModel", "CLIPTextModelWithProjection")],
                         ids=_ids)
def test_layer_names_and_their_params_line_up_with_transformers_modules(case):
    """Each netsize row with parameters is a transformers module or parameter of the same name,
    holding the same number of parameters."""
    model_type, arch, fields = case
    model, _ = _hf(model_type, arch, fields)
    owned = {name: sum(p.numel() for p in m.parameters()) for name, m in model.named_modules()}
    owned.update({name: p.numel() for name, p in model.named_parameters()})
    rows = {r.name: r.params for r in netsize.analyze(_network(model_type, arch, fields)).layers if r.params}
    assert rows == {name: owned[name] for name in rows}


def test_two_tower_logits_grow_with_the_square_of_the_batch():
    """N texts against N images: the similarity product is N*N*projection multiply-adds."""
    fields = {"text_config": TEXT, "vision_config": VISION, "projection_dim": 20}
    rows = {b: {r.name: r.multiply_adds for r in netsize.analyze(_network("clip", "CLIPModel", fields),
                                                                    batch_size=b).layers} for b in (1, 3)}
    assert rows[1]["logits_per_text"] == 20
    assert rows[3]["logits_per_text"] == 3 * 3 * 20
    assert rows[3]["visual_projection"] == 3 * rows[1]["visual_projection"]


DEFAULTS = [("vit", a) for a in ("ViTModel", "ViTForImageClassification", "ViTForMaskedImageModeling")] + [
    ("clip", "CLIPModel"), ("clip", "CLIPForImageClassification"), ("clip_text_model", "CLIPTextModel"),
    ("clip_text_model", "CLIPTextModelWithProjection"), ("clip_vision_model", "CLIPVisionModel"),
    ("clip_vision_model", "CLIPVisionModelWithProjection"), ("siglip", "SiglipModel"),
    ("siglip", "SiglipForImageClassification"), ("siglip_text_model", "SiglipTextModel"),
    ("siglip_vision_model", "SiglipVisionModel"),
]


@pytest.mark.parametrize(("model_type", "arch"), DEFAULTS)
def test_default_config_params_equal_transformers(model_type, arch):
    config = transformers.AutoConfig.for_model(model_type)
    with torch.device("meta"):
        model = getattr(transformers, arch)(config)
    cfg = {"model_type": model_type, "architectures": [arch]}
    assert is_native(cfg)
    assert netsize.analyze(network_from_config(cfg)).totals.params == sum(p.numel() for p in model.parameters())


def test_published_sizes():
    # ViT-B/16 with ImageNet-1k's 1000 classes (google/vit-base-patch16-224): torchvision's
    # ViT_B_16_Weights.IMAGENET1K_V1 lists num_params 86,567,656 and 17.56 GFLOPS (its "FLOPS"
    # are multiply-adds) for the same network (conv patches with bias, class token, 12 layers).
    vit = netsize.analyze(network_from_config({"model_type": "vit", "architectures": ["ViTForImageClassification"],
                                               "num_labels": 1000}))
    assert vit.totals.params == 86_567_656
    assert round(vit.totals.multiply_adds / 1e9, 2) == 17.56
    # CLIP ViT-B/32 (openai/clip-vit-base-patch32 = CLIPConfig's defaults): OpenAI's CLIP notebook
    # "Interacting with CLIP" prints "Model parameters: 151,277,313".
    assert summary_from_config({"model_type": "clip"}).totals.params == 151_277_313
    # CLIP ViT-L/14 (openai/clip-vit-large-patch14's config.json, written with the older
    # text_config_dict / vision_config_dict): 428M parameters on its model page; 427,616,513 exactly
    # is what OpenAI's clip.load("ViT-L/14") holds too.
    large = {"model_type": "clip", "architectures": ["CLIPModel"], "projection_dim": 768,
             "text_config_dict": {"hidden_size": 768, "intermediate_size": 3072, "num_attention_heads": 12},
             "vision_config_dict": {"hidden_size": 1024, "intermediate_size": 4096, "num_attention_heads": 16,
                                    "num_hidden_layers": 24, "patch_size": 14}}
    assert summary_from_config(large).totals.params == 427_616_513
    # SigLIP base patch16-224 (SiglipConfig's defaults): the model card says 203M parameters.
    siglip = summary_from_config({"model_type": "siglip"}).totals.params
    assert round(siglip / 1e6) == 203
    model, _ = _hf("siglip", "SiglipModel", {})
    assert siglip == sum(p.numel() for p in model.parameters())


def test_inputs_images_tokens_and_both():
    assert network_from_config({"model_type": "vit"}).inputs == {"pixel_values": (3, 224, 224)}
    assert network_from_config({"model_type": "vit", "image_size": [384, 192], "num_channels": 1}).inputs == {
        "pixel_values": (1, 384, 192)}
    # the text tower's default length is its position table (CLIP 77, SigLIP 64), nested or not
    assert network_from_config({"model_type": "clip"}).inputs == {"input_ids": (77,), "pixel_values": (3, 224, 224)}
    assert network_from_config({"model_type": "siglip", "text_config": {"max_position_embeddings": 32}}).inputs == {
        "input_ids": (32,), "pixel_values": (3, 224, 224)}
    assert network_from_config({"model_type": "clip_text_model"}).inputs == {"input_ids": (77,)}
    assert network_from_config({"model_type": "siglip_vision_model"}).inputs == {"pixel_values": (3, 224, 224)}


def test_clip_text_config_dict_overrides_text_config_as_transformers_does():
    fields = {"text_config": {**TEXT, "intermediate_size": 64}, "text_config_dict": {"intermediate_size": 40},
              "vision_config": VISION}
    model, config = _hf("clip", "CLIPModel", fields)
    assert config.text_config.intermediate_size == 40
    assert netsize.analyze(_network("clip", "CLIPModel", fields)).totals.params == sum(
        p.numel() for p in model.parameters())


def test_clip_text_attention_is_causal_and_siglip_text_is_not():
    def causal(net, name):
        return next(n.layer for n in net.nodes if n.name == name).causal

    clip = _network("clip_text_model", "CLIPTextModel", TEXT)
    siglip = _network("siglip_text_model", "SiglipTextModel", TEXT)
    assert causal(clip, "encoder.layers.0.self_attn.attn") is True
    assert causal(siglip, "encoder.layers.0.self_attn.attn") is False


@pytest.mark.parametrize(("model_type", "fields", "message"), [
    ("siglip", {"vision_config": {"vision_use_head": False}}, "'vision_use_head' must be true for SiglipModel"),
    ("siglip", {"text_config": {"projection_size": 64}}, "'projection_size' must equal the vision tower's hidden_size"),
    ("clip", {"vision_config": {"hidden_act": "swiglu"}}, r"\(vision_config\): field 'hidden_act' must be one of"),
    ("clip", {"text_config": 3}, "field 'text_config' must be an object"),
    ("clip", {"vision_config": {"patch_size": 300}}, "'patch_size' must not exceed image_size"),
    ("clip", {"vision_config": {"image_size": [224, 224]}}, "'image_size' must be an integer"),
    ("vit", {"hidden_size": 30}, "'hidden_size' must be divisible by num_attention_heads"),
    ("vit", {"image_size": [224, "x"]}, "'image_size' must be an integer >= 1 or a pair"),
    ("vit", {"architectures": ["ViTForMaskedImageModeling"], "image_size": [224, 112]}, "square grid of patches"),
])
def test_bad_fields_are_refused_by_name(model_type, fields, message):
    with pytest.raises(netsize.NetsizeError, match=message):
        network_from_config({"model_type": model_type, **fields})


def test_text_longer_than_its_positions_is_an_error():
    with pytest.raises(netsize.NetsizeError, match="exceeds the 77 learned positions"):
        netsize.analyze(network_from_config({"model_type": "clip"}, seq_len=78))


# ----- the layers these families brought -------------------------------------------------


def test_prepend_tokens_and_learned_query_match_transformers_parameters():
    assert analyze_layer("cls", PrependTokens(768), ((2, 196, 768),)).output_shape == (2, 197, 768)
    assert analyze_layer("cls", PrependTokens(8, count=3), ((2, 5, 8),)).params == 24
    probe = analyze_layer("probe", LearnedQuery(16), ((4, 9, 16),))
    assert (probe.output_shape, probe.params, probe.multiply_adds) == ((4, 1, 16), 16, 0)
    with pytest.raises(netsize.NetsizeError, match=r"needs a sequence \(N, S, 8\)"):
        analyze_layer("cls", PrependTokens(8), ((2, 5, 7),))


def test_mask_token_and_logit_scale_counts():
    used = analyze_layer("mask", MaskToken(8), ((2, 5, 8),))
    assert (used.output_shape, used.params, used.other_ops) == ((2, 5, 8), 8, 4 * 2 * 5 * 8)
    assert analyze_layer("mask", MaskToken(8, used=False), ((2, 5, 8),)).other_ops == 0
    scale = analyze_layer("logit_scale", LogitScale(), ((3, 3),))
    assert (scale.params, scale.other_ops) == (1, 9 + 1)
    bias = analyze_layer("logit_bias", LogitBias(), ((3, 3),))
    assert (bias.params, bias.other_ops) == (1, 9)


def test_quick_gelu_keeps_what_autograd_keeps():
    from transformers.activations import QuickGELUActivation

    x = torch.randn(2, 3, 4, requires_grad=True)
    saved: dict[int, int] = {}  # storage -> elements: the sigmoid's output is saved twice, stored once
    with torch.autograd.graph.saved_tensors_hooks(lambda t: saved.setdefault(t.data_ptr(), t.numel()) and t,
                                                  lambda t: t):
        QuickGELUActivation()(x)
    record = analyze_layer("act", QuickGELU(), ((2, 3, 4),))
    assert record.output_shape == (2, 3, 4)
    assert record.other_ops == 5 * 24
    memory = record.analysis.memory
    assert memory.saved_inputs == (0,) and memory.saved_extra_elements == 24
    assert sorted(saved.values()) == [24, 24]  # the input and the sigmoid's output


# ----- command line ----------------------------------------------------------------------


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "import sys; from netsize.cli import main; sys.exit(main(sys.argv[1:]))", *args],
        capture_output=True, text=True, timeout=120,
    )


def test_command_line_summary_of_a_clip_config_and_llm_refuses_images(tmp_path):
    clip = tmp_path / "config.json"
    clip.write_text(json.dumps({"model_type": "clip", "architectures": ["CLIPModel"]}))
    done = _cli("summary", str(clip))
    assert done.returncode == 0, done.stderr
    assert "vision_model.head" not in done.stdout and "logit_scale" in done.stdout
    assert "151,277,313" in done.stdout
    vit = tmp_path / "vit.json"
    vit.write_text(json.dumps({"model_type": "vit", "architectures": ["ViTForImageClassification"]}))
    done = _cli("llm", str(vit))
    assert done.returncode == 2
    assert "takes images [1, 3, 224, 224]" in done.stderr and "Traceback" not in done.stderr
