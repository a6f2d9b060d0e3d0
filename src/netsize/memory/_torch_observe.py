"""Observe a PyTorch module's memory by running it on the meta device.

This is the only module of the memory model that imports torch, and only when a PyTorch
module is estimated. Nothing is computed on real data: parameters, inputs and every
intermediate tensor live on the ``meta`` device (shapes and dtypes only), and a dispatch
mode plays the part of PyTorch's CUDA caching allocator:

* every new tensor storage is an allocation of ``ceil(nbytes / 512) * 512`` bytes (the
  allocator's block rounding, which ``torch.cuda.max_memory_allocated`` counts);
* a storage is freed when Python and autograd drop their last reference to it (a weak
  reference on the storage tells);
* the peak is the largest sum of live blocks, exactly as ``max_memory_allocated``.

What the forward pass keeps for the backward pass is observed with
``torch.autograd.graph.saved_tensors_hooks`` and deduplicated by storage (an in-place ReLU
and the convolution after it save one tensor).

The real program is reproduced step by step as ``measure_gpu_memory.py`` does it: inference
under ``no_grad``, then training steps ``zero_grad(set_to_none=True)``, forward, loss,
``backward``, ``optimizer.step()`` with the optimizers' CUDA defaults (``foreach``).

Two things differ between the meta device and CUDA and are emulated here:

* CUDA autocast (the meta device has no autocast): a torch-function mode applies the CUDA
  autocast policy (matmul/conv/linear in the low precision dtype with a per-region cast cache of
  the weights; softmax, log_softmax, layer_norm, pow, losses... in float32);
* dropout on CUDA keeps a 1-byte mask (``native_dropout``); elsewhere PyTorch keeps a mask of
  the input dtype, so dropout is routed to ``native_dropout``.
"""

from __future__ import annotations

import contextlib
import weakref
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch
from torch.overrides import TorchFunctionMode
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten
from torch.utils.weak import WeakIdKeyDictionary

from netsize.memory._attention_kernel import EFFICIENT, FLASH, MATH, sdpa_backend
from netsize.memory._common import block_bytes
from netsize.memory._cuda_workspace import cublas_workspace_bytes, cudnn_conv_workspace_bytes

if TYPE_CHECKING:
    from netsize.memory._report import MemoryReport

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16, "float64": torch.float64}



# --- the CUDA autocast policy (aten/src/ATen/autocast_mode.cpp, CUDA lists) ------------------

_LOWER = {
    "conv1d", "conv2d", "conv3d", "conv_tbc", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d",
    "convolution", "_convolution", "prelu", "addmm", "addmv", "addr", "matmul", "__matmul__", "__rmatmul__",
    "einsum", "mm", "mv", "linear", "addbmm", "baddbmm", "bmm", "chain_matmul", "linalg_multi_dot",
    "lstm_cell", "gru_cell", "rnn_tanh_cell", "rnn_relu_cell", "scaled_dot_product_attention",
}  # fmt: skip
_FP32 = {
    "acos", "asin", "cosh", "erfinv", "exp", "expm1", "log", "log10", "log2", "log1p", "reciprocal", "rsqrt",
    "sinh", "tan", "pow", "__pow__", "__rpow__", "softplus", "layer_norm", "group_norm", "norm", "frobenius_norm",
    "nuclear_norm", "cosine_similarity", "poisson_nll_loss", "cosine_embedding_loss", "nll_loss", "nll_loss2d",
    "hinge_embedding_loss", "kl_div", "l1_loss", "smooth_l1_loss", "huber_loss", "mse_loss", "margin_ranking_loss",
    "multilabel_margin_loss", "soft_margin_loss", "triplet_margin_loss", "multi_margin_loss",
    "binary_cross_entropy_with_logits", "dist", "pdist", "cdist", "renorm", "logsumexp", "cross_entropy",
    "cross_entropy_loss", "interpolate", "upsample",
}  # fmt: skip
_FP32_OPT_DTYPE = {"softmax", "log_softmax", "cumsum", "cumprod", "prod", "sum"}
_PROMOTE = {"cat", "stack", "addcdiv", "addcmul", "atan2", "bilinear", "cross", "dot", "index_put", "tensordot", "vdot"}


class _Autocast(TorchFunctionMode):
    """CUDA autocast, replayed on meta tensors (which have no autocast dispatch key)."""

    def __init__(self, dtype: torch.dtype, cache: bool = True) -> None:
        super().__init__()
        self.dtype = dtype
        self.caching = cache
        self.cache: dict[int, torch.Tensor] = {}

    def __exit__(self, *exc: Any) -> Any:
        self.cache.clear()  # like torch.autocast: the weight cast cache lives for the region
        return super().__exit__(*exc)

    def _cast(self, x: Any, dtype: torch.dtype) -> Any:
        if not isinstance(x, torch.Tensor) or not x.is_floating_point() or x.dtype in (dtype, torch.float64):
            return x
        cacheable = self.caching and dtype == self.dtype and x.dtype == torch.float32 and x.requires_grad and x.is_leaf
        if cacheable and id(x) in self.cache:
            return self.cache[id(x)]
        y = x.to(dtype)
        if cacheable:
            self.cache[id(x)] = y
        return y

    def _cast_all(self, args: tuple, kwargs: dict, dtype: torch.dtype) -> tuple[tuple, dict]:
        def cast(v: Any) -> Any:
            if isinstance(v, (list, tuple)):
                return type(v)(cast(e) for e in v)
            return self._cast(v, dtype)

        return tuple(cast(a) for a in args), {k: cast(v) for k, v in kwargs.items()}

    def __torch_function__(self, func: Callable, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        kwargs = kwargs or {}
        name = getattr(func, "__name__", "")
        if name in _LOWER:
            args, kwargs = self._cast_all(args, kwargs, self.dtype)
        elif name in _FP32:
            args, kwargs = self._cast_all(args, kwargs, torch.float32)
        elif name in _FP32_OPT_DTYPE:
            first = args[0] if args else None
            low = isinstance(first, torch.Tensor) and first.dtype in (torch.float16, torch.bfloat16)
            if low and kwargs.get("dtype") is None and not (name == "sum" and len(args) > 2):
                kwargs = {**kwargs, "dtype": torch.float32}
        elif name in _PROMOTE:
            flat, _ = tree_flatten((args, kwargs))
            floats = [t.dtype for t in flat if isinstance(t, torch.Tensor) and t.is_floating_point()]
            if torch.float32 in floats and any(d != torch.float32 for d in floats):
                args, kwargs = self._cast_all(args, kwargs, torch.float32)
        return func(*args, **kwargs)


class _CudaDropout(TorchFunctionMode):
    """Dropout as on CUDA: ``native_dropout`` keeps a bool mask (1 byte per element)."""

    def __torch_function__(self, func: Callable, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        kwargs = kwargs or {}
        if getattr(func, "__name__", "") == "dropout" and func is torch.nn.functional.dropout:
            x = args[0] if args else kwargs["input"]
            p = args[1] if len(args) > 1 else kwargs.get("p", 0.5)
            training = args[2] if len(args) > 2 else kwargs.get("training", True)
            inplace = args[3] if len(args) > 3 else kwargs.get("inplace", False)
            if training and 0 < p < 1 and not inplace and x.numel() > 0:
                return torch.native_dropout(x, p, True)[0]
        return func(*args, **kwargs)


class _CudaSdpa(TorchFunctionMode):
    """``scaled_dot_product_attention`` as on a CUDA GPU: the kernel PyTorch's dispatcher would
    pick (:func:`netsize.memory._attention_kernel.sdpa_backend`), run through its own aten op,
    whose meta kernel and autograd formula keep what the CUDA kernel keeps (flash: output and a
    float32 ``N*H*L`` log-sum-exp; memory-efficient: the same, padded to 32 queries, and the mask
    as a bias). On the meta device the dispatcher would take the math path, which keeps the
    ``N*H*L*S`` probabilities."""

    def __init__(self) -> None:
        super().__init__()
        self.backends: list[str] = []  # the kernel of each call, in order (for tests and reports)

    def __torch_function__(self, func: Callable, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        kwargs = kwargs or {}
        if func is torch.nn.functional.scaled_dot_product_attention:
            return self._sdpa(*args, **kwargs)
        return func(*args, **kwargs)

    def _sdpa(
        self,
        query: torch.Tensor,
        key: torch.Tensor,
        value: torch.Tensor,
        attn_mask: torch.Tensor | None = None,
        dropout_p: float = 0.0,
        is_causal: bool = False,
        scale: float | None = None,
        enable_gqa: bool = False,
    ) -> torch.Tensor:
        backend = MATH
        if query.dim() == key.dim() == value.dim() == 4 and query.device.type == "meta":
            enabled = tuple(
                b for b, on in ((FLASH, torch.backends.cuda.flash_sdp_enabled()),
                                (EFFICIENT, torch.backends.cuda.mem_efficient_sdp_enabled()),
                                (MATH, True)) if on
            )  # fmt: skip
            backend = sdpa_backend(
                str(query.dtype).removeprefix("torch."),
                heads=query.shape[1],
                kv_heads=key.shape[1],
                q_len=query.shape[2],
                kv_len=key.shape[2],
                head_dim=query.shape[3],
                key_head_dim=key.shape[3],
                value_head_dim=value.shape[3],
                has_mask=attn_mask is not None,
                causal=is_causal,
                enable_gqa=enable_gqa,
                storage_offsets=(query.storage_offset(), key.storage_offset(), value.storage_offset()),
                enabled=enabled,
            )
            if any(t.stride(-1) != 1 for t in (query, key, value)):
                backend = MATH
        self.backends.append(backend)
        if backend == FLASH:
            return torch.ops.aten._scaled_dot_product_flash_attention(
                query, key, value, dropout_p, is_causal, False, scale=scale
            )[0]
        if backend == EFFICIENT:
            if key.shape[1] != query.shape[1]:  # grouped-query heads, repeated for the kernel
                key = key.repeat_interleave(query.shape[1] // key.shape[1], dim=1)
                value = value.repeat_interleave(query.shape[1] // value.shape[1], dim=1)
            bias = attn_mask
            if bias is not None:
                if bias.dtype == torch.bool:  # CUDA turns a boolean mask into an additive one
                    bias = torch.zeros(bias.shape, dtype=query.dtype, device=bias.device).masked_fill(
                        bias.logical_not(), float("-inf")
                    )
                bias = bias.expand(query.shape[0], query.shape[1], query.shape[2], key.shape[2])
            grad = torch.is_grad_enabled() and any(t.requires_grad for t in (query, key, value))
            return torch.ops.aten._scaled_dot_product_efficient_attention(
                query, key, value, bias, grad, dropout_p, is_causal, scale=scale
            )[0]
        return torch.nn.functional.scaled_dot_product_attention(
            query, key, value, attn_mask, dropout_p, is_causal, scale=scale, enable_gqa=enable_gqa
        )


@contextmanager
def _composites_under_modes() -> Iterator[None]:
    """Let the modes see the ops inside ``F.multi_head_attention_forward``.

    That function hands itself to a torch-function mode as one call (its
    ``has_torch_function`` check), and a mode runs what it handles with itself switched off, so
    the in-projections, attention and dropout of ``nn.MultiheadAttention`` would run without the
    autocast, dropout and attention-kernel emulation. ``torch.autograd.backward`` does the same,
    so a checkpoint's recomputation inside backward would run without them. While observing, the
    check answers no in those two modules (``F.multi_head_attention_forward`` is the only user of
    the plain ``has_torch_function`` in ``torch.nn.functional``; ``backward`` and ``grad`` in
    ``torch.autograd``), so they run their bodies with the modes on.
    """
    import sys

    patches: list[tuple[Any, str, Any]] = [
        (torch.nn.functional, "has_torch_function", lambda *args, **kwargs: False),
        (torch.autograd, "has_torch_function", lambda *args, **kwargs: False),
    ]
    masking = sys.modules.get("transformers.masking_utils")
    if masking is not None and hasattr(masking, "find_packed_sequence_indices"):
        # transformers looks for packed sequences in the position ids when there is no KV cache
        # (training with gradient checkpointing), a data-dependent test the meta device cannot
        # answer; the batch netsize builds has positions 0..L-1, which are not packed
        patches.append((masking, "find_packed_sequence_indices", lambda *args, **kwargs: None))
    originals = [(m, name, getattr(m, name)) for m, name, _ in patches]
    for m, name, value in patches:
        setattr(m, name, value)
    try:
        yield
    finally:
        for m, name, original in originals:
            setattr(m, name, original)


# --- the caching allocator, replayed -------------------------------------------------------


class _Allocator(TorchDispatchMode):
    """Live bytes and peak of the storages of one device type, rounded like CUDA blocks."""

    def __init__(self, device_type: str = "meta") -> None:
        super().__init__()
        self.device_type = device_type
        self.sizes: WeakIdKeyDictionary = WeakIdKeyDictionary()
        self.refs: dict[int, weakref.ref] = {}
        self.current = 0
        self.peak = 0
        self.cudnn_workspace = 0  # the largest convolution workspace added to the peak

    def track(self, t: Any) -> None:
        if not isinstance(t, torch.Tensor) or t.device.type != self.device_type:
            return
        st = t.untyped_storage()
        if st in self.sizes:
            return
        size = block_bytes(st.nbytes())
        self.sizes[st] = size
        key = id(st)

        def free(_ref: weakref.ref, key: int = key, size: int = size) -> None:
            self.current -= size
            self.refs.pop(key, None)

        self.refs[key] = weakref.ref(st, free)
        self.current += size
        self.peak = max(self.peak, self.current)

    def size_of(self, t: torch.Tensor) -> int:
        return self.sizes.get(t.untyped_storage(), 0)

    def reset_peak(self) -> None:
        self.peak = self.current

    def __torch_dispatch__(self, func: Callable, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        out = func(*args, **(kwargs or {}))
        for t in tree_flatten(out)[0]:
            self.track(t)
        if func is torch.ops.aten.convolution.default:
            # cuDNN's scratch buffer, alive while the convolution runs (estimated: _cuda_workspace)
            x, w, _bias, stride, _padding, dilation, transposed, _out_pad, groups = args[:9]
            if not transposed:
                ws = cudnn_conv_workspace_bytes(tuple(w.shape[2:]), tuple(stride), tuple(dilation), groups,
                                                x.numel() * x.element_size())
                self.peak = max(self.peak, self.current + ws)
                self.cudnn_workspace = max(self.cudnn_workspace, ws)
        return out


# --- observation -----------------------------------------------------------------------------


@dataclass
class SavedTensor:
    module: str
    shape: tuple[int, ...]
    dtype: str
    bytes: int


@dataclass
class Observation:
    """What the meta-device run measured (all in bytes, CUDA block rounded)."""

    params: int
    weights_bytes: int
    input_bytes: int
    gradient_bytes: int
    optimizer_bytes: int
    saved: list[SavedTensor] = field(default_factory=list)
    autocast_weight_copies_bytes: int = 0
    after_forward_bytes: int = 0
    peak_training_bytes: int = 0
    peak_training_step1_bytes: int = 0
    peak_inference_bytes: int = 0
    peak_backward_bytes: int = 0
    peak_optimizer_bytes: int = 0
    cudnn_workspace_bytes: int = 0

    @property
    def activation_bytes(self) -> int:
        """Saved for backward by the network's modules (the loss's own tensors not included)."""
        return sum(s.bytes for s in self.saved if s.module != "(loss)")


def _call(model: Any, batch: Any) -> Any:
    if isinstance(batch, dict):
        return model(**batch)
    if isinstance(batch, (tuple, list)):
        return model(*batch)
    return model(batch)


def default_loss(out: Any) -> Any:
    """Cross-entropy against class 0 for logits ``(N, C)``; otherwise the float mean of the output.

    The output taken: ``logits`` or ``last_hidden_state`` of a Hugging Face output, ``out`` of a
    dict (torchvision's segmentation models), else the first floating tensor found."""
    if hasattr(out, "logits"):
        out = out.logits
    elif hasattr(out, "last_hidden_state"):
        out = out.last_hidden_state
    elif isinstance(out, Mapping) and isinstance(out.get("out"), torch.Tensor):
        out = out["out"]
    if not isinstance(out, torch.Tensor):
        out = _first_floating(out)
    if out.dim() == 2 and out.is_floating_point():
        target = torch.zeros(out.shape[0], dtype=torch.long, device=out.device)
        return torch.nn.functional.cross_entropy(out, target)
    return out.float().mean()


def _first_floating(out: Any) -> Any:
    """The first floating-point tensor in nested tuples, lists and dicts (else the first tensor)."""
    from netsize.frontends.torch import tensors as walk  # the tracer's walk: any Mapping, lists, tuples

    tensors = walk(out)
    if not tensors:
        raise TypeError(f"the model's output ({type(out).__name__}) holds no tensor to take a loss of; pass loss_fn")
    return next((t for t in tensors if t.is_floating_point()), tensors[0])


def _make_optimizer(params: list, optimizer: str) -> Any:
    name = optimizer.lower().replace("-", "_")
    if name == "adam":
        return torch.optim.Adam(params, foreach=True)
    if name == "adamw":
        return torch.optim.AdamW(params, foreach=True)
    if name in ("sgd_momentum", "momentum", "sgdm"):
        return torch.optim.SGD(params, lr=0.1, momentum=0.9, foreach=True)
    if name == "sgd":
        return torch.optim.SGD(params, lr=0.1, foreach=True)
    if name == "none":
        return None
    raise ValueError(optimizer)


def _module_names(model: Any) -> tuple[list, Callable[[], str], list[str]]:
    stack: list[str] = []
    handles = []
    for name, mod in model.named_modules():
        if not name:
            continue

        def pre(_m: Any, _i: Any, name: str = name) -> None:
            stack.append(name)

        def post(_m: Any, _i: Any, _o: Any, name: str = name) -> None:
            if stack and stack[-1] == name:
                stack.pop()

        handles.append(mod.register_forward_pre_hook(pre))
        handles.append(mod.register_forward_hook(post))
    return handles, lambda: stack[-1] if stack else "(loss)", stack


def observe(
    model: Any,
    make_batch: Callable[[], Any],
    *,
    dtype: str = "float32",
    autocast: str | None = None,
    optimizer: str = "adam",
    loss_fn: Callable[[Any], Any] | None = None,
    checkpointing: bool = False,
    steps: int = 2,
    checkpoint_segments: int | None = None,
) -> Observation:
    """Replay inference and ``steps`` training steps of ``model`` on the meta device.

    ``model`` must already be on the meta device (build it under ``torch.device("meta")``);
    ``make_batch()`` returns its input on the meta device (a tensor, tuple or dict of kwargs).
    """
    undo_checkpointing = _enable_checkpointing(model, checkpoint_segments) if checkpointing else None
    try:
        with _composites_under_modes():
            return _observe(model, make_batch, dtype, autocast, optimizer, loss_fn, steps)
    finally:
        if undo_checkpointing is not None:
            undo_checkpointing()


def _observe(
    model: Any,
    make_batch: Callable[[], Any],
    dtype: str,
    autocast: str | None,
    optimizer: str,
    loss_fn: Callable[[Any], Any] | None,
    steps: int,
) -> Observation:
    loss_fn = loss_fn or default_loss
    tdtype = DTYPES[dtype]
    model = model.to(dtype=tdtype) if tdtype != torch.float32 else model
    amp = DTYPES[autocast] if autocast else None
    alloc = _Allocator()
    params = [p for p in model.parameters() if p.requires_grad]
    all_params = list(model.parameters())
    for t in [*all_params, *model.buffers()]:
        alloc.track(t)
    weights = alloc.current
    with alloc:
        batch = make_batch()
    for t in tree_flatten(batch)[0]:
        alloc.track(t)
    input_bytes = alloc.current - weights
    obs = Observation(
        params=sum(p.numel() for p in all_params),
        weights_bytes=weights,
        input_bytes=input_bytes,
        gradient_bytes=sum(alloc.size_of(p) for p in params),
        optimizer_bytes=0,
    )

    def modes(cache: bool = True) -> list:
        ms: list = [_CudaDropout(), _CudaSdpa()]  # entered in order: autocast casts first
        if amp is not None:
            ms.append(_Autocast(amp, cache=cache))
        return ms

    # inference: eval, no_grad
    model.eval()
    alloc.reset_peak()
    with alloc, torch.no_grad(), ExitStack() as stack:
        for m in modes():
            stack.enter_context(m)
        out = _call(model, batch)
        del out
    obs.peak_inference_bytes = alloc.peak

    model.train()
    opt = _make_optimizer(params, optimizer)
    handles, current_module, module_stack = _module_names(model)
    for step in range(steps):
        last = step == steps - 1
        saved: dict[int, SavedTensor] = {}
        saved_refs: list[Any] = []
        alloc.reset_peak()
        with alloc:
            if opt is not None:
                opt.zero_grad(set_to_none=True)
            else:
                for p in params:
                    p.grad = None

            def pack(t: torch.Tensor, saved: dict = saved, refs: list = saved_refs) -> torch.Tensor:
                if isinstance(t, torch.Tensor) and t.device.type == "meta" and not isinstance(t, torch.nn.Parameter):
                    st = t.untyped_storage()
                    key = id(st)
                    if key not in saved:
                        size = alloc.size_of(t)
                        saved[key] = SavedTensor(current_module(), tuple(t.shape), str(t.dtype).removeprefix("torch."),
                                                 size)
                        refs.append(st)
                return t

            with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
                ms = modes()
                for m in ms:
                    m.__enter__()
                try:
                    module_stack.clear()  # a checkpoint's recomputation may stop inside a module
                    out = _call(model, batch)
                    module_stack.clear()
                    loss = loss_fn(out)
                    after_forward = alloc.current
                    cast_tensors = [c for m in ms if isinstance(m, _Autocast) for c in m.cache.values()]
                    casts = sum(alloc.size_of(c) for c in cast_tensors)
                    cast_ids = {id(c.untyped_storage()) for c in cast_tensors}
                    del cast_tensors
                finally:
                    for m in reversed(ms):
                        m.__exit__(None, None, None)
            # storages that are parameters, weight casts or the input are not activations
            skip = {id(p.untyped_storage()) for p in all_params} | cast_ids
            skip |= {id(t.untyped_storage()) for t in tree_flatten(batch)[0] if isinstance(t, torch.Tensor)}
            if last:
                obs.after_forward_bytes = after_forward
                obs.autocast_weight_copies_bytes = casts
                obs.saved = [s for k, s in saved.items() if k not in skip]
            del saved_refs[:]
            # a checkpoint's recomputation runs the forward again inside backward, under autocast
            # and dropout as CUDA does (its own autocast region: weight casts live only while used)
            with ExitStack() as stack:
                for m in modes(cache=False):
                    stack.enter_context(m)
                torch.autograd.backward(loss)  # not loss.backward(): it would hand itself to the modes
            obs.peak_backward_bytes = alloc.peak
            before_step = alloc.current
            alloc.peak = before_step
            if opt is not None:
                opt.step()
            obs.peak_optimizer_bytes = alloc.peak
            alloc.peak = max(alloc.peak, obs.peak_backward_bytes)
            del out, loss
        if step == 0:
            obs.peak_training_step1_bytes = alloc.peak
    for h in handles:
        h.remove()
    obs.peak_training_bytes = alloc.peak
    obs.cudnn_workspace_bytes = alloc.cudnn_workspace
    if opt is not None:
        state = [t for s in opt.state.values() for t in s.values() if isinstance(t, torch.Tensor)]
        obs.optimizer_bytes = sum(alloc.size_of(t) for t in state)
    return obs


def _enable_checkpointing(model: Any, segments: int | None = None) -> Callable[[], None]:
    """Activation checkpointing where users put it (``torch.utils.checkpoint``, non-reentrant);
    returns the function that undoes it.

    A Hugging Face model: ``gradient_checkpointing_enable()`` (each transformer layer). Else the
    units of :func:`checkpoint_units`: each block of a stack of blocks (``nn.Sequential`` or
    ``nn.ModuleList`` whose members have children: ResNet stages, ViT's encoder layers) is
    checkpointed, and a ``nn.Sequential`` of plain layers (VGG's ``features``) runs through
    ``checkpoint_sequential`` with ``segments`` segments (default: the square root of its length).
    """
    from torch.utils.checkpoint import checkpoint, checkpoint_sequential

    kwargs = {"use_reentrant": False}
    if hasattr(model, "activation_checkpointing_enable"):  # transformers >= 5.x
        model.activation_checkpointing_enable(activation_checkpointing_kwargs=kwargs)
        return model.activation_checkpointing_disable  # type: ignore[no-any-return]
    if hasattr(model, "gradient_checkpointing_enable"):
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs=kwargs)
        return model.gradient_checkpointing_disable  # type: ignore[no-any-return]
    patched: list[Any] = []
    for kind, sub in checkpoint_units(model):
        forward = sub.forward
        if kind == "block":

            def wrapped(*a: Any, forward: Callable = forward, **k: Any) -> Any:
                return checkpoint(forward, *a, use_reentrant=False, **k)

        else:
            count = segments or sequential_segments_default(len(sub))

            def wrapped(x: Any, sub: Any = sub, count: int = min(count, len(sub))) -> Any:
                return checkpoint_sequential(sub, count, x, use_reentrant=False)

        sub.forward = wrapped
        patched.append(sub)

    def undo() -> None:
        for sub in patched:
            del sub.forward  # the instance attribute; the class's forward shows again

    return undo


def sequential_segments_default(length: int) -> int:
    """``checkpoint_sequential``'s segments when none are given: ``round(sqrt(length))``, at least 1."""
    return max(1, round(length**0.5))


def _has_children(module: Any) -> bool:
    return any(True for _ in module.children())


def checkpoint_units(module: Any) -> list[tuple[str, Any]]:
    """Where checkpointing goes: ``("block", m)`` for each member of a stack of blocks,
    ``("sequential", s)`` for a ``nn.Sequential`` of plain layers; found from the top, not
    inside a unit. A container with neither inside it is checkpointed whole."""
    stacks = (torch.nn.Sequential, torch.nn.ModuleList)
    members = list(module.children())
    if isinstance(module, stacks) and members and all(_has_children(m) for m in members):
        return [("block", m) for m in members]
    if isinstance(module, torch.nn.Sequential) and len(members) > 1 and not any(_has_children(m) for m in members):
        return [("sequential", module)]
    units: list[tuple[str, Any]] = []
    for child in members:
        if _has_children(child):
            inner = checkpoint_units(child)
            units += inner if inner else [("block", child)]
    return units


@contextlib.contextmanager
def untouched(module: Any) -> Iterator[None]:
    """Whatever happens inside, ``module`` is left as found (see ``frontends.torch._safety``)."""
    from netsize.frontends.torch import ModelSnapshot

    snapshot = ModelSnapshot(module)
    try:
        yield
    finally:
        snapshot.restore()


def to_meta(module: Any) -> Any:
    """The module on the meta device (a deep copy when it holds real tensors)."""
    tensors = [*module.parameters(), *module.buffers()]
    if all(t.device.type == "meta" for t in tensors):
        return module
    import copy

    return copy.deepcopy(module).to("meta")


def batch_maker(model: Any, batch_size: int, input_size: Any, seq_len: int | None) -> Callable[[], Any]:
    """A batch on the meta device: ``input_ids`` for a Hugging Face model, else a float tensor
    of ``(batch_size, *input_size)`` (or a tuple of them for several input sizes)."""
    config = getattr(model, "config", None)
    if input_size is None and config is not None and hasattr(config, "vocab_size"):
        length = seq_len or getattr(config, "n_positions", None) or getattr(config, "max_position_embeddings", 512)
        return lambda: {"input_ids": torch.zeros((batch_size, length), dtype=torch.long, device="meta")}
    if input_size is None:
        raise ValueError("a PyTorch module needs input_size (per sample, e.g. 3,224,224)")
    sizes = input_size if isinstance(input_size[0], (tuple, list)) else [input_size]
    shapes = [(batch_size, *tuple(s)) for s in sizes]
    if len(shapes) == 1:
        return lambda: torch.zeros(shapes[0], device="meta")
    return lambda: tuple(torch.zeros(s, device="meta") for s in shapes)


def from_module(
    module: Any,
    batch_size: int,
    dtype: str,
    opt: str,
    autocast: str | None,
    checkpointing: bool,
    checkpoint_segments: int | None,
    input_size: Any,
    seq_len: int | None,
    make_batch: Any,
    loss_fn: Any,
) -> MemoryReport:
    """The memory report of a PyTorch module (the entry point of :func:`netsize.memory.estimate`
    for ``nn.Module`` targets): ``module`` moved to the meta device and observed."""
    from netsize._errors import NetsizeError
    from netsize.memory._report import LayerMemory, MemoryReport

    name = type(module).__name__
    with untouched(module):  # a meta-built module is observed in place, then restored
        model = to_meta(module)
        if not any(p.requires_grad for p in model.parameters()):
            raise NetsizeError(
                f"{name}: the model has no trainable parameters, so a training step has nothing to update "
                "(`netsize summary` shows its shapes and counts)"
            )
        if make_batch is None:
            make_batch = batch_maker(model, batch_size, input_size, seq_len)
        try:
            o = observe(
                model, make_batch, dtype=dtype, autocast=autocast, optimizer=opt, loss_fn=loss_fn,
                checkpointing=checkpointing, checkpoint_segments=checkpoint_segments,
            )
        except NetsizeError:
            raise
        except RecursionError:
            raise NetsizeError(f"{name}: the forward pass recursed without end on meta tensors") from None
        except Exception as err:  # the user's forward: as `summary` reports it, one line
            first = str(err).splitlines()[0] if str(err) else ""
            hint = ""
            if "more than 1 value per channel when training" in first:
                # PyTorch's own rule: batch norm cannot train on one value per channel
                hint = (". Batch norm in training mode needs more than one value per channel, and after global "
                        f"pooling a batch of {batch_size} has one: estimate with a batch size of 2 or more")
            raise NetsizeError(
                f"{name}: the training step failed on meta tensors: {type(err).__name__}: {first}{hint}"
            ) from None
        kinds = {name: type(m).__name__ for name, m in model.named_modules()}
        trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    per_layer: dict[str, int] = {}
    for s in o.saved:
        per_layer[s.module] = per_layer.get(s.module, 0) + s.bytes
    layers = tuple(LayerMemory(n, kinds.get(n, "Module"), b, 0) for n, b in per_layer.items())
    return MemoryReport(
        model=type(module).__name__,
        batch_size=batch_size,
        dtype=dtype,
        optimizer=opt,
        autocast=autocast,
        checkpointing=checkpointing,
        checkpoint_segments=checkpoint_segments if checkpointing else None,
        cudnn_workspace_bytes=o.cudnn_workspace_bytes,
        cublas_workspace_bytes=cublas_workspace_bytes(training=True),
        method="torch",
        params=o.params,
        trainable_params=trainable,
        weights_bytes=o.weights_bytes,
        gradient_bytes=o.gradient_bytes,
        optimizer_bytes=o.optimizer_bytes,
        activation_bytes=o.activation_bytes,
        input_bytes=o.input_bytes,
        autocast_weight_copies_bytes=o.autocast_weight_copies_bytes,
        peak_training_bytes=o.peak_training_bytes,
        peak_inference_bytes=o.peak_inference_bytes,
        peak_backward_bytes=o.peak_backward_bytes,
        peak_optimizer_step_bytes=o.peak_optimizer_bytes,
        layers=layers,
    )
