"""Families netsize does not build itself, through transformers when it is installed: the model
is built from the config on the meta device (no weights allocated, nothing downloaded) and
analysed by the PyTorch frontend, which counts every aten op it runs.

The KV cache of such a model is measured, not derived: one forward with ``use_cache=True`` on
the meta device, and the elements of every tensor in the returned cache (key/value layers,
sliding-window layers already capped, state-space states) are counted.

Active parameters of a mixture of experts (what ``netsize llm`` and the ``6N`` rule use) are
read from the built model, as the native families count them (router plus ``k`` of ``E``
experts): an expert container is a module whose class name ends in ``Experts`` holding stacks
of ``E`` experts along the first axis (OLMoE, GraniteMoE, JetMoE's MLP and attention experts;
routers and 1-d shared biases excepted), or an ``experts`` ModuleList/ModuleDict of ``E`` expert
modules (Switch Transformers). ``k`` comes from the config (``num_experts_per_tok``,
``moe_top_k``...) or a router named for it (``Top1Router``). ``(E - k)/E`` of each container's
expert parameters are inactive; the records holding them carry ``params_total`` and
``params_active``, the terms :mod:`netsize.llm` sums. Where experts are found but no ``k``, a
note says that the active parameters are not known and are reported as the total.
"""

from __future__ import annotations

import contextlib
import re
import warnings
from dataclasses import dataclass, replace
from typing import Any

from netsize._errors import NetsizeError
from netsize._layer import Analysis
from netsize._summary import Summary
from netsize._term import Term


@dataclass(frozen=True)
class TransformersAnalysis:
    """A summary from transformers' own model, and what its cache holds after the forward."""

    summary: Summary
    cache_elements: int | None  # every cache tensor's elements after one forward of batch x seq; None: no cache


def _import() -> tuple[Any, Any]:
    try:
        import torch
        import transformers
    except ImportError:
        raise ImportError from None
    return torch, transformers


def available() -> bool:
    try:
        _import()
    except ImportError:
        return False
    return True


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return text[0] if text else type(err).__name__


_REAL_FALLBACK_PARAMS = 50_000_000  # a model this small may be built on the CPU when meta cannot run it
_LAYERDROP_FIELDS = ("layerdrop", "encoder_layerdrop", "decoder_layerdrop")
_GROUPED_NOTE = ("mixture-of-experts layers analysed as transformers' grouped_mm experts kernel (its default): the "
                 "eager loop over experts reads the routing's values, which the meta device does not have")


def build_model(cfg: dict[str, Any], source: str, arch: str | None, device: str = "meta",
                experts: str = "eager") -> Any:
    """transformers' model of ``cfg`` on the meta device (eager attention, as netsize counts;
    mixture-of-experts layers run ``experts``: transformers' ``_experts_implementation``)."""
    torch, transformers = _import()
    model_type = cfg["model_type"]
    kwargs = {k: v for k, v in cfg.items() if k not in ("model_type", "transformers_version", "auto_map")}
    if model_type not in transformers.CONFIG_MAPPING:
        from netsize.frontends.hf_config._catalog import FAMILIES

        raise NetsizeError(
            f"{source}: model_type {model_type!r} is unknown to transformers {transformers.__version__} and not "
            f"built natively by netsize (which builds {', '.join(FAMILIES)}); check the spelling, or a newer "
            "transformers may know it"
        )
    try:
        config = transformers.AutoConfig.for_model(model_type, **kwargs)
    except (ValueError, KeyError) as err:
        raise NetsizeError(f"{source}: transformers {transformers.__version__} cannot read model_type {model_type!r}: "
                           f"{_first_line(err)}") from None
    except Exception as err:
        raise NetsizeError(f"{source}: transformers refuses this config: {_first_line(err)}") from None
    config._attn_implementation = "eager"
    for sub in ("text_config", "vision_config", "audio_config", "encoder", "decoder"):
        inner = getattr(config, sub, None)
        if inner is not None and hasattr(inner, "_attn_implementation"):
            inner._attn_implementation = "eager"
    dropped = []
    for name in _LAYERDROP_FIELDS:  # every layer runs: the count of the model, not of one random draw
        value = getattr(config, name, None)
        if isinstance(value, int | float) and value > 0:
            dropped.append(f"{name}={value}")
            setattr(config, name, 0.0)
    if hasattr(config, "_experts_implementation"):
        config._experts_implementation = experts  # eager: a loop over experts, each matmul seen
    if arch is not None:
        cls: Any = getattr(transformers, arch, None) if isinstance(arch, str) and arch.isidentifier() else None
        # only a model class: the name comes from the file, and any other attribute would be called
        if not (isinstance(cls, type) and issubclass(cls, transformers.PreTrainedModel)):
            raise NetsizeError(f"{source}: architecture {arch!r} is not a model class of transformers "
                               f"{transformers.__version__}")
        factory: Any = cls
    else:
        factory = None
        for auto in ("AutoModelForCausalLM", "AutoModelForSeq2SeqLM", "AutoModel"):
            mapping = getattr(transformers, auto)
            if type(config) in mapping._model_mapping:
                factory = mapping.from_config
                break
        if factory is None:
            raise NetsizeError(f"{source}: transformers has no model class for model_type {model_type!r}")
    try:
        with torch.device(device):
            model = factory(config)
        model.netsize_layerdrop = tuple(dropped)  # our own model object: analyse() names them in a note
        return model
    except NetsizeError:
        raise
    except Exception as err:
        raise NetsizeError(f"{source}: transformers cannot build {arch or model_type}: {_first_line(err)}") from None


def model_inputs(model: Any, batch: int, seq_len: int) -> dict[str, Any]:
    """Meta inputs of the model's main input: token ids ``(batch, seq_len)``, images from the
    config's ``image_size`` and ``num_channels``, or audio features for Whisper-like encoders;
    encoder-decoders also get ``decoder_input_ids``."""
    torch, _ = _import()
    config = model.config
    name = getattr(model, "main_input_name", "input_ids")
    inputs: dict[str, Any] = {}
    if name == "pixel_values":
        vision = getattr(config, "vision_config", None) or config
        size = getattr(vision, "image_size", 224)
        size = tuple(size) if isinstance(size, (list, tuple)) else (size, size)
        channels = getattr(vision, "num_channels", 3)
        inputs[name] = torch.empty(batch, channels, *size, device="meta")
    elif name == "input_features":
        mels = getattr(config, "num_mel_bins", 80)
        frames = 2 * getattr(config, "max_source_positions", 1500)
        inputs[name] = torch.empty(batch, mels, frames, device="meta")
    else:
        inputs["input_ids"] = torch.zeros(batch, seq_len, dtype=torch.long, device="meta")
    if getattr(config, "is_encoder_decoder", False):
        inputs["decoder_input_ids"] = torch.zeros(batch, seq_len, dtype=torch.long, device="meta")
    return inputs


def _cache_tensors(obj: Any, seen: set[int], out: list[Any], torch: Any, depth: int = 0) -> None:
    if depth > 6 or id(obj) in seen:
        return
    seen.add(id(obj))
    if isinstance(obj, torch.Tensor):
        if obj.dim() > 1:  # scalars and 1-d bookkeeping (cumulative lengths) are not cached states
            out.append(obj)
        return
    if isinstance(obj, (list, tuple)):
        for v in obj:
            _cache_tensors(v, seen, out, torch, depth + 1)
    elif isinstance(obj, dict):
        for v in obj.values():
            _cache_tensors(v, seen, out, torch, depth + 1)
    elif hasattr(obj, "__dict__") and not isinstance(obj, type):
        for v in vars(obj).values():
            _cache_tensors(v, seen, out, torch, depth + 1)


def cache_elements(model: Any, inputs: dict[str, Any]) -> int | None:
    """Elements of every tensor in the cache a forward with ``use_cache=True`` returns."""
    torch, _ = _import()
    try:
        with torch.no_grad():
            out = model(**inputs, use_cache=True)
    except Exception:
        return None
    cache = getattr(out, "past_key_values", None)
    if cache is None:
        cache = getattr(out, "cache_params", None)
    if cache is None:
        return None
    tensors: list[Any] = []
    _cache_tensors(cache, set(), tensors, torch)
    storages: dict[tuple[int, int], int] = {}
    for t in tensors:
        storages[(id(t), t.numel())] = t.numel()
    return sum(storages.values())


# Config fields naming how many experts a token is routed to (top-k), in the families transformers has.
_TOP_K_KEYS = ("num_experts_per_tok", "num_experts_per_token", "experts_per_token", "moe_top_k", "top_k",
               "num_selected_experts", "moe_k")


def _top_k(config: Any, depth: int = 0) -> int | None:
    """The top-k of the routing, from the config or a sub-config (DBRX's ``ffn_config``,
    multimodal ``text_config``); None when no field says it."""
    for key in _TOP_K_KEYS:
        value = getattr(config, key, None) if not isinstance(config, dict) else config.get(key)
        if type(value) is int and value > 0:
            return value
    if depth < 2:
        items = config.items() if isinstance(config, dict) else vars(config).items() if hasattr(config, "__dict__") \
            else ()
        for name, sub in items:
            nested = isinstance(sub, dict) or hasattr(sub, "to_dict")
            if isinstance(name, str) and not name.startswith("_") and nested:
                found = _top_k(sub, depth + 1)
                if found is not None:
                    return found
    return None


def _expert_params(model: Any, torch: Any) -> list[tuple[str, int, int]]:
    """Expert containers as ``(module name, expert params, experts E)``: a module whose class
    name ends in ``Experts`` holding stacks of ``E`` experts along the first axis (fused or
    parallel experts; routers and 1-d shared biases are not experts'), or an ``experts``
    ModuleList/ModuleDict (or ``...Experts`` container) of ``E`` expert modules."""
    out: list[tuple[str, int, int]] = []
    seen: set[int] = set()
    for name, module in model.named_modules():
        listed = isinstance(module, (torch.nn.ModuleList, torch.nn.ModuleDict))
        if not (type(module).__name__.endswith("Experts") or (name.rpartition(".")[2] == "experts" and listed)):
            continue
        size, experts = 0, 0
        if any(True for _ in module.parameters(recurse=False)):  # stacked: (E, ...) per parameter
            for pname, p in module.named_parameters():
                if id(p) in seen or "router" in pname.split(".") or p.dim() < 2:
                    continue
                seen.add(id(p))
                size, experts = size + p.numel(), experts or p.shape[0]
        else:
            children = [c for c in module.children() if any(True for _ in c.parameters())]
            experts = len(children)
            for child in children:
                for p in child.parameters():
                    if id(p) not in seen:
                        seen.add(id(p))
                        size += p.numel()
        if size and experts:
            out.append((name, size, experts))
    return out


def _with_active_params(summary: Summary, model: Any, torch: Any) -> Summary:
    """The summary with ``params_total``/``params_active`` terms on the records that hold expert
    parameters (:mod:`netsize.llm` sums ``params_total - params_active`` as the parameters a
    token does not use: ``(E - k)/E`` of each container's experts), or a note where the experts'
    top-k is not known. Experts that did not run have no record of their own: their parameters
    sit in the container's record (or an enclosing one), which then carries the share."""
    containers = _expert_params(model, torch)
    if not containers:
        return summary
    k = _top_k(model.config)
    if k is None:  # a router that says its k in its name (Switch Transformers' Top1Router)
        named = {int(m.group(1)) for mod in model.modules() if (m := re.search(r"Top(\d+)Router$", type(mod).__name__))}
        k = named.pop() if len(named) == 1 else None
    if k is None:
        note = ("active params per token are not known: the model has experts but its config names no top-k "
                f"({', '.join(_TOP_K_KEYS)}); active params are reported as the total")
        return replace(summary, notes=(*summary.notes, note))
    taken: dict[int, list[str]] = {}  # record index -> how its inactive share was computed
    left: dict[int, int] = {i: r.params for i, r in enumerate(summary.layers)}
    for name, size, experts in containers:
        inactive = size * (experts - min(k, experts)) // experts
        inside = sorted((i for i, r in enumerate(summary.layers) if r.name == name or r.name.startswith(name + ".")),
                        key=lambda i: -left[i])
        around = sorted((i for i, r in enumerate(summary.layers) if name.startswith(r.name + ".")),
                        key=lambda i: -len(summary.layers[i].name))
        for i in (*inside, *around):
            share = min(inactive, left[i])
            if share:
                left[i] -= share
                inactive -= share
                taken.setdefault(i, []).append(f"{share}")
            if not inactive:
                break
    layers = list(summary.layers)
    for i, shares in taken.items():
        r = layers[i]
        active = r.params - sum(int(v) for v in shares)
        terms = (Term("params_total", r.params, "params (experts included)", str(r.params)),
                 Term("params_active", active, f"params - experts' params*(E - k)/E (k = {k})",
                      f"{r.params} - {' - '.join(shares)}"))
        analysis = r.analysis if r.analysis is not None else Analysis(outputs=r.output_shapes)
        layers[i] = replace(r, analysis=replace(analysis, extra_terms=(*analysis.extra_terms, *terms)))
    return replace(summary, layers=tuple(layers))


def analyse(cfg: dict[str, Any], source: str, arch: str | None, seq_len: int, batch_size: int,
            with_cache: bool = False) -> TransformersAnalysis:
    """Build with transformers and analyse with the PyTorch frontend; a note says so."""
    try:
        torch, transformers = _import()
    except ImportError:
        raise NetsizeError(
            f"{source}: model_type {cfg.get('model_type')!r} is not built natively by netsize; installing "
            "transformers (pip install transformers torch) covers it and every other family transformers knows"
        ) from None
    from netsize.frontends.torch import summary as torch_summary

    verbosity = transformers.logging.get_verbosity()
    transformers.logging.set_verbosity_error()  # its notes on slow reference kernels are not ours to print
    try:
        model = build_model(cfg, source, arch)
        inputs = model_inputs(model, batch_size, seq_len)
        failure: NetsizeError | None = None
        try:
            result = torch_summary(model, input_data=inputs, fallback=False)
        except NetsizeError as err:
            failure, result = err, None
            if "cannot run on meta tensors" in str(err) and hasattr(model.config, "_experts_implementation"):
                # The eager experts loop picks each expert's tokens by value (nonzero): on meta the
                # experts run as transformers' default grouped_mm kernel instead, whose sizes do not
                # depend on the routing; netsize counts each token's k experts, as the loop does.
                with contextlib.suppress(NetsizeError):  # a family without that kernel: on to the CPU
                    grouped = build_model(cfg, source, arch, experts="grouped_mm")
                    grouped_inputs = model_inputs(grouped, batch_size, seq_len)
                    result = torch_summary(grouped, input_data=grouped_inputs, fallback=False)
                    result = replace(result, notes=(*result.notes, _GROUPED_NOTE))
                    model, inputs = grouped, grouped_inputs
        if result is None:
            # Some forwards read tensor values (DeBERTa's relative positions, Megatron-BERT):
            # a small model is built on the CPU and run once for real instead.
            small = sum(p.numel() for p in model.parameters()) <= _REAL_FALLBACK_PARAMS
            if "cannot run on meta tensors" not in str(failure) or not small:
                raise NetsizeError(f"{source}: {failure}") from None
            model = build_model(cfg, source, arch, device="cpu")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # the summary's notes say it
                result = torch_summary(model, input_data=inputs, fallback=True)
            inputs = {k: torch.zeros(v.shape, dtype=v.dtype) for k, v in inputs.items()}
        cache = cache_elements(model, inputs) if with_cache else None
    finally:
        transformers.logging.set_verbosity(verbosity)
    note = (f"built by transformers {transformers.__version__} ({type(model).__name__}) on the meta device and "
            "analysed by netsize's PyTorch frontend: model_type "
            f"{cfg.get('model_type')!r} is not built natively")
    dropped = getattr(model, "netsize_layerdrop", ())
    if dropped:
        note += (f"; {', '.join(dropped)} set to 0 (LayerDrop skips layers at random in training): every layer "
                 "counted, as at inference")
    result = replace(result, model=type(model).__name__, notes=(*result.notes, note))
    return TransformersAnalysis(_with_active_params(result, model, torch), cache)
