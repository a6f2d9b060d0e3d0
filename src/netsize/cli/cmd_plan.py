"""``netsize plan CONFIG``: will it fit? Serving, LoRA/QLoRA and full fine-tuning memory per GPU."""

from __future__ import annotations

import argparse

from netsize._errors import NetsizeError
from netsize.cli._options import add_format, add_lang

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (`netsize --help` is timed)
if TYPE_CHECKING:
    from typing import Any


def add_parser(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser(
        "plan",
        help="will it fit: memory per GPU for serving, LoRA/QLoRA and full fine-tuning, on one GPU or many",
        description="Memory per GPU, broken down (weights, gradients, optimizer state, master weights, activations, "
        "KV cache), for serving and fine-tuning a model, with the GPUs it fits on. Rules: docs/plan.md.",
    )
    p.add_argument("target", metavar="TARGET", help="HF config.json (or a folder holding one), spec file or zoo name")
    p.add_argument("--scenario", default="serve,lora,full", metavar="LIST",
                   help="comma-separated: serve, lora, qlora, full (default serve,lora,full)")
    p.add_argument("--gpu", metavar="NAME", help="check one GPU (h100, a100-40gb, l4, rtx4090, t4...; default: all)")
    p.add_argument("--gpus", type=int, default=1, metavar="N", help="GPUs in all (default 1)")
    p.add_argument("--gpus-per-node", type=int, default=8, metavar="N", help="GPUs per node (default 8)")
    p.add_argument("--zero", type=int, default=0, choices=(0, 1, 2, 3), help="DeepSpeed ZeRO stage")
    p.add_argument("--fsdp", choices=("full_shard", "shard_grad_op", "hybrid_shard"), help="PyTorch FSDP sharding")
    p.add_argument("--offload", choices=("none", "optimizer", "params"), default="none",
                   help="CPU offload: optimizer state, or optimizer state and parameters (ZeRO-3)")
    p.add_argument("--tp", type=int, default=1, metavar="N", help="tensor-parallel degree")
    p.add_argument("--pp", type=int, default=1, metavar="N", help="pipeline stages")
    p.add_argument("-s", "--seq-len", type=int, metavar="N",
                   help="training sequence length and serving context (default, as for every command on a config: "
                   "min(max_position_embeddings, 1024); T5: 512)")
    p.add_argument("--micro-batch", type=int, default=1, metavar="N", help="sequences per GPU per step (1)")
    p.add_argument("--grad-accum", type=int, default=1, metavar="N", help="gradient accumulation steps (1)")
    p.add_argument("--checkpointing", action="store_true", help="activation checkpointing")
    p.add_argument("--activations", choices=("autocast", "bf16", "fp32"),
                   help="dtype activations are saved in (default by --precision: amp -> autocast, LayerNorm and "
                   "softmax in float32; master/bf16 -> bf16, Korthikanti et al.'s pure 16-bit)")
    p.add_argument("--optimizer", default="adamw", help="adamw, adam, adam8bit, adafactor, sgd, sgd_momentum")
    p.add_argument("--precision", choices=("amp", "master", "bf16", "fp32"),
                   help="amp (fp32 weights + bf16 autocast), master (bf16 weights, fp32 master; default with ZeRO)")
    p.add_argument("--lora", default="r=16,alpha=32", metavar="SPEC",
                   help="r=16,alpha=32,dropout=0,targets=q_proj,v_proj (or q_proj+v_proj, all-linear, a regex),"
                   "bias=none,save=lm_head; targets default to peft's for the config's model_type")
    p.add_argument("--quant", default="none", metavar="METHOD",
                   help="serving weights: none, fp8, int8, nf4, fp4, gptq, awq (gptq/awq: --bits, --group-size)")
    p.add_argument("--bits", type=int, default=4, help="bits per weight for gptq/awq (4)")
    p.add_argument("--group-size", type=int, default=128, help="group size for gptq/awq (128; -1: one group)")
    p.add_argument("--double-quant", action="store_true", help="nf4/fp4 double quantisation of the absmax")
    p.add_argument("--batch", type=int, default=1, metavar="N", help="serving: sequences at once (1)")
    p.add_argument("--context", type=int, metavar="N", help="serving: tokens per sequence (default --seq-len)")
    p.add_argument("--block-size", type=int, default=16, metavar="N", help="serving: KV-cache block (16, vLLM)")
    p.add_argument("--gpu-memory-utilization", type=float, default=0.9, metavar="F",
                   help="serving: fraction of GPU memory the server may use (0.9, vLLM)")
    p.add_argument("--kv-dtype", default="bfloat16", help="serving: KV-cache dtype (bfloat16; fp8)")
    p.add_argument("--attention", choices=("sdpa", "eager"), default="sdpa",
                   help="attention kernel of a config's model when the config names none (sdpa, transformers' "
                   "default: no seq x seq scores kept; eager keeps them)")
    p.add_argument("--efficiency", type=float, default=1.0, metavar="F",
                   help="with --gpu: fraction of the datasheet peak FLOP/s and bandwidth the time estimate assumes "
                   "(1.0: the roofline itself, a floor on time)")
    add_format(p)
    p.add_argument("--explain", action="store_true", help="also print every figure's formula")
    add_lang(p, "labels")
    p.set_defaults(func=run)


def parse_lora(text: str) -> Any:
    """``r=16,alpha=32,dropout=0.05,targets=q_proj,v_proj,bias=none,save=lm_head`` -> LoRA. A
    list's names are separated by ``+`` or by commas (a comma item without ``=`` continues the list
    before it)."""
    from netsize.plan import LoRA

    values: dict[str, Any] = {}
    last_list: str | None = None
    for item in filter(None, text.split(",")):
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep:
            if last_list is not None and isinstance(values.get(last_list), tuple) and key:
                values[last_list] = (*values[last_list], key)
                continue
            raise NetsizeError(f"--lora: expected KEY=VALUE, got {item!r} (e.g. r=16,targets=q_proj,v_proj)")
        last_list = None
        if key in ("r", "alpha"):
            try:
                values[key] = int(value)
            except ValueError:
                raise NetsizeError(f"--lora: {key} must be an integer (got {value!r})") from None
        elif key == "targets":
            values["targets"] = value if value == "all-linear" else tuple(filter(None, value.split("+")))
            last_list = "targets"
        elif key == "dropout":
            try:
                values["dropout"] = float(value)
            except ValueError:
                raise NetsizeError(f"--lora: dropout must be a number (got {value!r})") from None
        elif key == "bias":
            values["bias"] = value
        elif key in ("save", "modules_to_save"):
            values["modules_to_save"] = tuple(filter(None, value.split("+")))
            last_list = "modules_to_save"
        else:
            raise NetsizeError(f"--lora: unknown key {key!r}; use r, alpha, dropout, targets, bias, save")
    return LoRA(**values)


def run(args: argparse.Namespace) -> int:
    from netsize._target import load_target
    from netsize.plan import Quantization, Setup, plan
    from netsize.render import plan_markdown, plan_text

    scenarios = tuple(s.strip() for s in args.scenario.split(",") if s.strip())
    setup = Setup(
        seq_len=args.seq_len, micro_batch=args.micro_batch, grad_accum=args.grad_accum, gpus=args.gpus,
        gpus_per_node=args.gpus_per_node, zero=args.zero, fsdp=args.fsdp,
        offload_optimizer=args.offload != "none", offload_params=args.offload == "params",
        tensor_parallel=args.tp, pipeline_stages=args.pp, optimizer=args.optimizer, precision=args.precision,
        checkpointing=args.checkpointing, activations=args.activations, lora=parse_lora(args.lora),
        quant=Quantization(args.quant, bits=args.bits, group_size=args.group_size, double_quant=args.double_quant),
        serve_batch=args.batch, context=args.context, block_size=args.block_size,
        gpu_memory_utilization=args.gpu_memory_utilization, kv_dtype=args.kv_dtype, attention=args.attention,
        efficiency=args.efficiency,
    )  # fmt: skip
    # Any TARGET; plan rebuilds a Hugging Face config from the config itself, so that the attention
    # kernel is the one training runs.
    result = plan(load_target(args.target, seq_len=args.seq_len), scenarios=scenarios, setup=setup, gpu=args.gpu)
    if args.format == "json":
        from netsize.cli._options import print_json, with_schema

        data = with_schema(result.to_dict())
        if args.explain:
            data["explain"] = result.explain(args.lang)
        print_json(data)
    elif args.format == "csv":
        from netsize.render import plan_csv

        print(plan_csv(result), end="")
    elif args.format == "markdown":
        print(plan_markdown(result, args.lang))
    else:
        print(plan_text(result, args.lang, explain=args.explain))
    return 0
