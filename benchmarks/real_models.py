"""Run netsize on real torchvision and timm models, each in its own process, and check it.

Run by hand in an environment that has torchvision and timm (they pull their own torch, so the
test suite cannot import them):

    python benchmarks/real_models.py --torchvision --timm --jobs 2 --out /tmp/real_models.jsonl
    python benchmarks/real_models.py --only torchvision:resnet50 --only timm:coat_tiny
    python benchmarks/real_models.py --steady --timm --jobs 1   # steady state against torchinfo
    python benchmarks/real_models.py --onnx --torchvision --timm --jobs 2 --out /tmp/onnx_models.jsonl
    python benchmarks/real_models.py --onnx --only suite:resnet18   # the test suite's own models

``--onnx`` exports each model with ``torch.onnx.export`` (``dynamo=True`` and ``dynamo=False``,
each unoptimised and with its default optimisation) and compares netsize's ONNX summary of each
file with its PyTorch frontend's summary of the module: params, multiply-adds and output shapes.
An optimised export folds batch norms into convolutions (and dynamo's drops zero biases), so
its params differ by what the exporter removed; ``--onnx`` reports those as ``folded``.
``suite:NAME`` is a model of tests/torch_models.py (torchvision's architectures, no torchvision).

For every model it builds the model with random weights in eval mode and checks, in its own
process (so one crash or hang costs one model):

- ``netsize.summary`` runs, or refuses with a ``NetsizeError`` (anything else is a failure);
- params equal ``sum(p.numel())`` over the model's distinct parameters;
- multiply-adds equal FlopCounterMode's FLOPs / 2 of one real forward pass, unless netsize's
  notes say which ops it counts that FlopCounterMode does not;
- the output shapes equal the real forward's;
- the model is unchanged afterwards (tests/model_state.py: every tensor reachable from every
  submodule's attributes, flags, hooks, random generators);
- the first call's wall time in the fresh process.

One JSON line per model goes to ``--out``; a table of failures is printed at the end.
"""

from __future__ import annotations

import argparse
import copy
import json
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
MEMORY = "--memory" in sys.argv  # also netsize.memory.estimate (set in the children by the flag)

TORCHVISION_INPUTS = {
    "inception_v3": (1, 3, 299, 299),
    "quantized_inception_v3": (1, 3, 299, 299),
}
VIDEO_SMALL = {"r3d_18", "mc3_18", "r2plus1d_18"}

# timm families whose smallest model is not the first listed: the preferred names, in order.
SMALL_WORDS = ("pico", "nano", "atto", "femto", "tiny", "xxs", "xs", "small", "s0", "b0", "_s", "mini", "lite", "18")


def torchvision_names() -> list[str]:
    import torchvision

    return [f"torchvision:{n}" for n in sorted(torchvision.models.list_models())]


def timm_names(per_family: int, by_prefix: bool = False) -> list[str]:
    """The smallest-looking ``per_family`` models of each timm module, or (``by_prefix``) of each
    (module, name prefix) pair: 98 modules, 206 families in timm 1.0.31."""
    import re

    import timm
    from timm.models import _registry

    by_module: dict[Any, list[str]] = {}
    for name in timm.list_models():
        key: Any = _registry._model_to_module[name]
        if by_prefix:
            tokens = [t for t in name.split("_") if t not in ("tf", "legacy", "gluon", "ig", "ssl", "swsl", "nf")]
            key = (key, re.sub(r"\d+[a-z]?$", "", tokens[0]) if tokens else name)
        by_module.setdefault(key, []).append(name)

    def rank(name: str) -> tuple[int, int, str]:
        hit = next((i for i, w in enumerate(SMALL_WORDS) if w in name), len(SMALL_WORDS))
        return (hit, len(name), name)

    out = []
    for module in sorted(by_module):
        out += [f"timm:{n}" for n in sorted(by_module[module], key=rank)[:per_family]]
    return out


# Widely used architectures (``--transformers``); ``--transformers-all`` takes every model type.
_TRANSFORMERS_TEXT = """
albert bart beit bert bert-generation big_bird biogpt bloom camembert canine clip codegen
cohere convbert convnext convnextv2 cpmant ctrl cvt data2vec-text data2vec-vision deberta
deberta-v2 deit dinov2 distilbert donut-swin dpt efficientnet electra ernie esm falcon
falcon_mamba flaubert fnet funnel gemma gemma2 gemma3_text gpt2 gpt_bigcode gpt_neo gpt_neox
gptj granite granitemoe helium hubert ibert jamba jetmoe layoutlm led levit lilt llama
longformer longt5 luke m2m_100 mamba mamba2 marian markuplm mbart megatron-bert mistral mixtral
mobilebert mobilenet_v1 mobilenet_v2 mobilevit modernbert mpnet mpt mt5 mvp nemotron
nystromformer olmo olmo2 olmoe opt pegasus persimmon phi phi3 phimoe plbart poolformer pvt
qwen2 qwen2_moe qwen3 qwen3_moe regnet rembert resnet roberta roc_bert roformer rwkv segformer
sew siglip speech_to_text squeezebert stablelm starcoder2 swin swinv2 t5 umt5 vit vit_mae
vit_msn wav2vec2 wavlm whisper xglm xlm xlm-roberta xlnet xmod yolos
"""
TRANSFORMERS_TYPES = _TRANSFORMERS_TEXT.split()


def transformers_names(every: bool = False) -> list[str]:
    from transformers.models.auto.modeling_auto import MODEL_MAPPING_NAMES

    types = sorted(MODEL_MAPPING_NAMES) if every else [t for t in TRANSFORMERS_TYPES if t in MODEL_MAPPING_NAMES]
    return [f"transformers:{t}" for t in types]


_LAYER_FIELDS = ("num_hidden_layers", "num_layers", "encoder_layers", "decoder_layers", "n_layer",
                 "num_encoder_layers", "num_decoder_layers")  # fmt: skip


def _fewer_layers(config, most: int = 2) -> None:
    for c in (config, getattr(config, "text_config", None), getattr(config, "vision_config", None)):
        for f in _LAYER_FIELDS:
            if c is not None and isinstance(getattr(c, f, None), int) and getattr(c, f) > most:
                setattr(c, f, most)


def transformers_build(model_type: str):
    """transformers' base model of ``model_type``'s default config with at most 2 layers per
    stack (the default where that does not build), with real random weights when it has under
    300M parameters (else on the meta device), and its inputs by the model's main input;
    ``None`` where there is no simple input (multimodal, time series)."""
    import inspect

    import torch
    import transformers
    from transformers.models.auto.modeling_auto import MODEL_MAPPING_NAMES

    cls = getattr(transformers, MODEL_MAPPING_NAMES[model_type])
    config = transformers.AutoConfig.for_model(model_type)
    _fewer_layers(config)
    try:
        with torch.device("meta"):
            model = cls(config).eval()
    except Exception:
        config = transformers.AutoConfig.for_model(model_type)
        with torch.device("meta"):
            model = cls(config).eval()
    if sum(p.numel() for p in model.parameters()) < 300_000_000:
        model = cls(config).eval()
    device = next(model.parameters()).device
    main = getattr(model, "main_input_name", "input_ids")
    params = inspect.signature(model.forward).parameters
    vision = getattr(config, "vision_config", None) or config
    kwargs: dict = {}

    def ids(n: int) -> torch.Tensor:
        return torch.randint(4, 100, (1, n), device=device)

    if main == "input_ids":
        kwargs["input_ids"] = ids(16)
        if "decoder_input_ids" in params:
            kwargs["decoder_input_ids"] = ids(8)
        if "pixel_values" in params and hasattr(config, "vision_config"):
            return model, None  # multimodal: needs image tokens matched to pixels
    elif main == "pixel_values":
        size = getattr(vision, "image_size", 224)
        size = size if isinstance(size, int) else size[0]
        channels = getattr(vision, "num_channels", 3)
        kwargs["pixel_values"] = torch.rand(1, channels, size, size, device=device)
    elif main == "input_values":
        kwargs["input_values"] = torch.rand(1, 16000, device=device)
    elif main == "input_features":
        kwargs["input_features"] = torch.rand(1, getattr(config, "num_mel_bins", 80), 3000, device=device)
        if "decoder_input_ids" in params:
            kwargs["decoder_input_ids"] = ids(8)
    else:
        return model, None
    return model, kwargs


def build(source: str, name: str):
    import torch

    torch.manual_seed(0)
    if source == "transformers":
        try:
            model, kwargs = transformers_build(name)
        except Exception as err:
            raise SystemExit(f"no simple input for {name}: the model does not build ({type(err).__name__})") from None
        if kwargs is None:
            raise SystemExit(f"no simple input for {name}")
        return model, (), kwargs
    if source == "suite":
        sys.path.insert(0, str(ROOT / "tests"))
        from torch_models import build as suite_build

        return suite_build(name).eval(), (torch.rand(1, 3, 224, 224),), {}
    if source == "torchvision":
        import torchvision

        kwargs = {}
        if name.startswith("quantized_"):
            kwargs["quantize"] = False
        builder = torchvision.models.get_model_builder(name)
        import inspect

        if "weights_backbone" in inspect.signature(builder).parameters:
            kwargs["weights_backbone"] = None
        model = builder(weights=None, **kwargs).eval()
        module = type(model).__module__
        if ".detection." in module:
            return model, ([torch.rand(3, 320, 416)],), {}
        if ".optical_flow." in module:
            return model, (torch.rand(1, 3, 128, 160), torch.rand(1, 3, 128, 160)), {}
        if ".video." in module:
            size = 112 if name in VIDEO_SMALL else 224
            return model, (torch.rand(1, 3, 16, size, size),), {}
        return model, (torch.rand(*TORCHVISION_INPUTS.get(name, (1, 3, 224, 224))),), {}
    import timm

    model = timm.create_model(name, pretrained=False).eval()
    size = model.pretrained_cfg.get("input_size", (3, 224, 224))
    return model, (torch.rand(1, *size),), {}


def shapes(value) -> list:
    import torch

    if isinstance(value, torch.Tensor):
        return [tuple(value.shape)]
    if isinstance(value, dict):
        return [s for v in value.values() for s in shapes(v)]
    if isinstance(value, (list, tuple)):
        return [s for v in value for s in shapes(v)]
    if hasattr(value, "to_tuple"):
        return shapes(value.to_tuple())
    return []


def check_one(spec: str) -> dict:
    import warnings

    sys.path.insert(0, str(ROOT / "tests"))
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    import netsize
    from model_state import assert_unchanged, capture
    from netsize.frontends.torch import summary

    source, name = spec.split(":", 1)
    row: dict = {"model": spec}
    t = time.perf_counter()
    model, args, kwargs = build(source, name)
    row["build_seconds"] = round(time.perf_counter() - t, 2)
    params = {id(p): p.numel() for p in model.parameters()}
    row["params_torch"] = sum(params.values())
    before = capture(model)
    inputs = (list(args) if len(args) != 1 or isinstance(args[0], list) else args[0]) if args else dict(kwargs)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        t = time.perf_counter()
        try:
            s = summary(model, input_data=inputs, **({} if not args else kwargs))
            row["seconds"] = round(time.perf_counter() - t, 3)
        except netsize.NetsizeError as err:
            row["seconds"] = round(time.perf_counter() - t, 3)
            row["refused"] = str(err)[:500]
            s = None
        except Exception as err:
            row["crash"] = f"{type(err).__name__}: {err}"[:500]
            s = None
    row["warnings"] = sorted({str(w.message)[:160] for w in caught})[:5]
    if s is None:  # could FlopCounterMode run it on meta tensors, where netsize could not?
        try:
            with FlopCounterMode(display=False), torch.no_grad():
                meta_forward(model, args, kwargs)
            row["flopcounter_ran_on_meta"] = True
        except Exception:
            row["flopcounter_ran_on_meta"] = False
    try:
        assert_unchanged(before, model)
        row["unchanged"] = True
    except AssertionError as err:
        row["unchanged"] = False
        row["changed"] = str(err)[:500]
    if MEMORY and len(args) == 1 and isinstance(args[0], torch.Tensor):
        # netsize.memory.estimate must leave the model as found too, whatever it says
        from netsize import memory

        t = time.perf_counter()
        try:
            report = memory.estimate(model, batch_size=args[0].shape[0], input_size=tuple(args[0].shape[1:]))
            row["peak_training_bytes"] = report.peak_training_bytes
        except netsize.NetsizeError as err:
            row["memory_refused"] = str(err)[:300]
        except Exception as err:
            row["crash"] = f"memory.estimate: {type(err).__name__}: {err}"[:500]
        row["memory_seconds"] = round(time.perf_counter() - t, 3)
        try:
            assert_unchanged(before, model)
        except AssertionError as err:
            row["unchanged"] = False
            row["changed"] = f"after memory.estimate: {err}"[:500]
    if s is None:
        return row
    row["params"] = s.totals.params
    row["multiply_adds"] = s.totals.multiply_adds
    row["notes"] = [n[:240] for n in s.notes]
    row["shapes"] = [tuple(x) for x in s.output_shapes]
    # FlopCounterMode on meta tensors first: a real eval pass takes fused fast paths (MHA, CPU
    # flash attention) that it counts as 0. Models whose forward cannot run on meta: a real pass.
    counter = FlopCounterMode(display=False)
    try:
        with counter, torch.no_grad():  # on a copy: a failed meta pass can leave meta caches behind
            out = meta_forward(copy.deepcopy(model), args, kwargs)
        row["flopcounter_pass"] = "meta"
    except Exception:
        counter = FlopCounterMode(display=False)
        try:
            with counter, torch.no_grad():
                out = model(*args, **kwargs)
            row["flopcounter_pass"] = "real"
        except Exception as err:
            row["flopcounter_error"] = f"{type(err).__name__}: {err}"[:300]
            return row
    row["macs_flopcounter"] = counter.get_total_flops() // 2
    row["shapes_torch"] = shapes(out)
    return row


ONNX_EXPORTS = {
    "dynamo": {"dynamo": True, "optimize": False},
    "torchscript": {"dynamo": False, "do_constant_folding": False},
    "dynamo_optimized": {"dynamo": True},
    "torchscript_folded": {"dynamo": False},
}


def onnx_one(spec: str) -> dict:
    """Export ``spec`` four ways and compare netsize's ONNX summaries with its PyTorch one."""
    import tempfile
    import warnings

    import torch

    import netsize
    from netsize.frontends.onnx import summary as onnx_summary
    from netsize.frontends.torch import summary

    source, name = spec.split(":", 1)
    row: dict = {"model": spec}
    model, args, kwargs = build(source, name)
    if kwargs or len(args) != 1 or not isinstance(args[0], torch.Tensor):
        raise SystemExit(f"no simple input for {name}: --onnx exports single-tensor models")
    with torch.backends.mkldnn.flags(enabled=False):
        expected = summary(model, input_data=[args[0]])
    row["params_torch"], row["macs_torch"] = expected.totals.params, expected.totals.multiply_adds
    shapes_torch = [tuple(x) for x in expected.output_shapes]
    with tempfile.TemporaryDirectory() as tmp:
        for how, options in ONNX_EXPORTS.items():
            path = Path(tmp) / f"{how}.onnx"
            result: dict = {}
            t = time.perf_counter()
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    torch.onnx.export(model, args, str(path), verbose=False, **options)
            except Exception as err:
                result["export_failed"] = f"{type(err).__name__}: {err}"[:300]
                row[how] = result
                continue
            result["export_seconds"] = round(time.perf_counter() - t, 2)
            t = time.perf_counter()
            try:
                got = onnx_summary(path)
            except netsize.NetsizeError as err:
                result["refused"] = str(err)[:400]
            except Exception as err:
                result["crash"] = f"{type(err).__name__}: {err}"[:400]
            else:
                result["seconds"] = round(time.perf_counter() - t, 3)
                result["params_diff"] = got.totals.params - expected.totals.params
                result["macs_diff"] = got.totals.multiply_adds - expected.totals.multiply_adds
                result["shapes_equal"] = [tuple(x) for x in got.output_shapes] == shapes_torch
            row[how] = result
    return row


def onnx_verdict(row: dict) -> list[str]:
    bad = []
    for how in ONNX_EXPORTS:
        r = row.get(how, {})
        for key in ("crash", "refused", "export_failed"):
            if key in r:
                bad.append(f"{how}: {key} {r[key][:160]}")
        if "params_diff" in r:
            folded = how.endswith(("optimized", "folded"))
            if r["params_diff"] and not folded:
                bad.append(f"{how}: params {r['params_diff']:+,}")
            if r["macs_diff"]:
                bad.append(f"{how}: macs {r['macs_diff']:+,}")
            if not r["shapes_equal"]:
                bad.append(f"{how}: shapes")
    return bad


def meta_forward(model, args, kwargs):
    """``model(*args, **kwargs)`` with every parameter, buffer and input a meta tensor."""
    import torch

    memo: dict = {}
    state = {}
    for n, t in [*model.named_parameters(remove_duplicate=False), *model.named_buffers(remove_duplicate=False)]:
        state[n] = memo.setdefault(id(t), torch.empty(t.shape, dtype=t.dtype, device="meta"))

    def meta(v):
        if isinstance(v, torch.Tensor):
            return torch.empty(v.shape, dtype=v.dtype, device="meta")
        if isinstance(v, (list, tuple)):
            return type(v)(meta(x) for x in v)
        return v

    return torch.func.functional_call(
        model, state, tuple(meta(a) for a in args), {k: meta(v) for k, v in kwargs.items()}, tie_weights=True
    )


def steady_one(spec: str, repeat: int = 5) -> dict:
    """Steady state against torchinfo on one model: a warm-up call each, then ``repeat`` calls
    alternating; medians of wall time (``--steady``)."""
    import statistics
    import warnings

    import torch
    import torchinfo

    from netsize.frontends.torch import summary

    warnings.filterwarnings("ignore")
    model, args, kwargs = build(*spec.split(":", 1))
    if kwargs or len(args) != 1 or not isinstance(args[0], torch.Tensor):
        return {"model": spec, "skipped": "steady: single-tensor inputs only"}
    x = args[0]
    summary(model, input_data=x)
    torchinfo.summary(model, input_data=x, verbose=0)
    ours, theirs = [], []
    for _ in range(repeat):
        t = time.perf_counter()
        summary(model, input_data=x)
        ours.append(time.perf_counter() - t)
        t = time.perf_counter()
        torchinfo.summary(model, input_data=x, verbose=0)
        theirs.append(time.perf_counter() - t)
    netsize_s, torchinfo_s = statistics.median(ours), statistics.median(theirs)
    return {"model": spec, "netsize_seconds": netsize_s, "torchinfo_seconds": torchinfo_s,
            "speedup": torchinfo_s / netsize_s}  # fmt: skip


def verdict(row: dict) -> list[str]:
    bad = []
    if "crash" in row:
        bad.append("crash")
    if row.get("flopcounter_ran_on_meta"):
        bad.append("refused or failed where FlopCounterMode ran on meta")
    if not row.get("unchanged", False):
        bad.append("changed")
    if "params" in row and row["params"] != row["params_torch"]:
        bad.append(f"params {row['params']} != {row['params_torch']}")
    if "macs_flopcounter" in row and row["multiply_adds"] != row["macs_flopcounter"]:
        explained = any("FlopCounterMode" in n for n in row.get("notes", []))
        bad.append(
            f"macs {row['multiply_adds']} != {row['macs_flopcounter']}" + (" (noted)" if explained else "")
        )
    if "shapes_torch" in row and row["shapes_torch"] and [tuple(s) for s in row["shapes_torch"]] != [
        tuple(s) for s in row["shapes"]
    ]:
        bad.append("shapes")
    return bad


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--torchvision", action="store_true")
    ap.add_argument("--timm", action="store_true")
    ap.add_argument("--transformers", action="store_true", help="base models of widely used model types")
    ap.add_argument("--transformers-all", action="store_true", help="base model of every model type")
    ap.add_argument("--timm-per-family", type=int, default=1)
    ap.add_argument("--timm-families", action="store_true", help="one per (module, name prefix), not per module")
    ap.add_argument("--only", action="append", default=[], help="source:name, repeatable")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--timeout", type=int, default=600)
    ap.add_argument("--out", default="real_models.jsonl")
    ap.add_argument("--memory", action="store_true", help="also run netsize.memory.estimate (single-tensor inputs)")
    ap.add_argument("--steady", action="store_true", help="time netsize against torchinfo instead (run with --jobs 1)")
    ap.add_argument("--onnx", action="store_true", help="export each model to ONNX and compare (see above)")
    ap.add_argument("--one", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.one:
        one = steady_one if a.steady else onnx_one if a.onnx else check_one
        print(json.dumps(one(a.one), default=str))
        return
    specs = list(a.only)
    if a.torchvision:
        specs += torchvision_names()
    if a.timm:
        specs += timm_names(a.timm_per_family, a.timm_families)
    if a.transformers or a.transformers_all:
        specs += transformers_names(a.transformers_all)

    def run(spec: str) -> dict:
        try:
            extra = (["--memory"] if a.memory else []) + (["--steady"] if a.steady else [])
            extra += ["--onnx"] if a.onnx else []
            p = subprocess.run(
                [sys.executable, __file__, "--one", spec, *extra], capture_output=True, text=True, timeout=a.timeout
            )
        except subprocess.TimeoutExpired:
            return {"model": spec, "crash": f"timeout after {a.timeout} s"}
        lines = [ln for ln in p.stdout.splitlines() if ln.startswith("{")]
        if "no simple input for" in p.stderr:
            return {"model": spec, "skipped": p.stderr.strip().splitlines()[-1]}
        if p.returncode or not lines:
            return {"model": spec, "crash": f"exit {p.returncode}: {p.stderr.strip()[-400:]}"}
        return json.loads(lines[-1])

    if a.steady:
        import statistics

        with open(a.out, "w") as out, ThreadPoolExecutor(a.jobs) as pool:
            speedups = []
            for row in pool.map(run, specs):
                out.write(json.dumps(row) + "\n")
                if "speedup" in row:
                    speedups.append((row["speedup"], row["model"]))
                    print(f"{row['model']:<48} netsize {row['netsize_seconds'] * 1e3:7.1f} ms  torchinfo "
                          f"{row['torchinfo_seconds'] * 1e3:7.1f} ms  {row['speedup']:5.2f}x", flush=True)  # fmt: skip
                else:
                    print(f"{row['model']:<48} {row.get('skipped') or row.get('crash')}", flush=True)
        if speedups:
            print(f"\nmedian speed-up {statistics.median(s for s, _ in speedups):.2f}x over {len(speedups)} models; "
                  f"below 1.5x: {', '.join(f'{m} {x:.2f}x' for x, m in sorted(speedups) if x < 1.5) or 'none'}")
        return
    failures = []
    with open(a.out, "w") as out, ThreadPoolExecutor(a.jobs) as pool:
        for row in pool.map(run, specs):
            out.write(json.dumps(row) + "\n")
            out.flush()
            if a.onnx:
                bad = [row["crash"]] if "crash" in row else onnx_verdict(row) if "skipped" not in row else []
            else:
                bad = verdict(row) if "skipped" not in row else []
            status = "; ".join(bad) if bad else ("refused" if "refused" in row else row.get("skipped", "ok"))
            if a.onnx and not bad and "skipped" not in row:
                folded = {h: row[h]["params_diff"] for h in ONNX_EXPORTS if row.get(h, {}).get("params_diff")}
                status = "ok" + (f" (folded params: {folded})" if folded else "")
            print(f"{row['model']:<48} {row.get('seconds', '-'):>7} s  {status}", flush=True)
            if bad:
                failures.append((row["model"], status))
    print(f"\n{len(specs)} models, {len(failures)} with a failure")
    for name, status in failures:
        print(f"  {name}: {status}")


if __name__ == "__main__":
    main()
