"""The layer protocol: one class per layer type holds its shape rule, counts and explanation."""

from __future__ import annotations

from dataclasses import field
from typing import Any, ClassVar

from netsize._record import record
from netsize._shape import CHANNELS_FIRST, Shape
from netsize._term import Term

TORCH = "torch"
KERAS = "keras"
CONVENTIONS = (TORCH, KERAS)


@record
class Context:
    """What a layer needs to know beyond its inputs.

    ``convention``: ``torch`` (BatchNorm running statistics are buffers) or ``keras``
    (they are non-trainable parameters). ``layout``: ``channels_first`` or ``channels_last``.
    """

    convention: str = TORCH
    layout: str = CHANNELS_FIRST


@record
class Window:
    """A sliding window along one spatial axis, for the receptive field.

    ``padding`` is the padding before the first element (left/top).
    """

    kernel: int
    stride: int = 1
    padding: int = 0
    dilation: int = 1


@record
class AttentionCall:
    """One call of ``scaled_dot_product_attention``, with the facts PyTorch's CUDA dispatcher
    picks its kernel by (``netsize.memory._attention_kernel``): batch ``N``, query heads ``H``,
    key/value heads, query and key lengths ``L``, ``S``, head sizes, an arbitrary ``attn_mask``
    (``has_mask``), ``is_causal``, ``dropout_p``, ``enable_gqa``.

    A layer whose :class:`MemoryContract` carries one states the saved set of the fused kernels
    (q, k, v, the output and a float32 ``N*H*L`` log-sum-exp); where the dispatcher would take the
    math path instead (float64, odd head sizes), the memory model adds what that path keeps.
    """

    batch: int
    heads: int
    kv_heads: int
    q_len: int
    kv_len: int
    head_dim: int
    value_head_dim: int
    has_mask: bool = False
    causal: bool = False
    dropout: float = 0.0
    enable_gqa: bool = False
    seq_first_output: bool = False


@record
class MemoryContract:
    """What one layer's op does with memory, as PyTorch does it for the same op: the layer's
    side of the memory model (:mod:`netsize.memory` reads only these fields; an extra term of
    the same name may show a number in the explanation, but is never looked up).

    Saved for the backward pass (the memory model deduplicates by tensor, so a ReLU saving its
    output and the next conv saving its input count once):

    * ``saved_inputs``: indices of inputs autograd keeps (``None``: all of them);
    * ``saved_outputs``: indices of outputs it keeps;
    * ``saved_extra_elements``: further tensors in the activation dtype (BatchNorm's per-channel
      mean and inverse std), of which ``saved_float32_elements`` stay float32 under autocast
      (softmax probabilities, results of ops autocast runs in float32);
    * ``saved_extra_bytes``: tensors whose size does not depend on the dtype (max-pool int64
      indices: 8 bytes each; dropout's bool mask: 1 byte each);
    * ``inplace``: output 0 reuses input 0's storage.

    Working memory of the forward: ``workspace_elements`` are tensors the forward allocates and
    frees internally, the most alive at once beyond its inputs and outputs under ``no_grad``, in
    the activation dtype; ``workspace_float32_elements`` the part of it that is float32 under
    autocast. Added to the live set while the layer runs (inference, and the forward of training,
    where it is an upper bound: a transient that autograd keeps is also in the saved set).

    Tensors that outlive the layer: ``retained_elements`` stay alive until the whole forward
    returns (a KV cache: ``K`` and ``V`` in the layer's output dtype), ``retained_saved_elements``
    is the part of it that is also in ``saved_extra_elements`` (one storage). Kept from the layer
    to the end of the forward at inference and to the end of the step in training.

    ``attention``: the layer is a ``scaled_dot_product_attention`` call (:class:`AttentionCall`);
    the saved fields above are then those of the fused kernels, and the memory model picks the
    kernel as PyTorch's CUDA dispatcher would for the dtype.

    >>> MemoryContract(saved_inputs=(0,)).saved_outputs
    ()
    """

    saved_inputs: tuple[int, ...] | None = None
    saved_outputs: tuple[int, ...] = ()
    saved_extra_elements: int = 0
    saved_extra_bytes: int = 0
    saved_float32_elements: int = 0
    workspace_elements: int = 0
    workspace_float32_elements: int = 0
    retained_elements: int = 0
    retained_saved_elements: int = 0
    inplace: bool = False
    attention: AttentionCall | None = None


@record
class Analysis:
    """Everything a layer computes for one set of input shapes.

    Each count is a :class:`Term` (formula and value together) or ``None`` for zero.
    ``shape_terms`` explain each output dimension. ``other_ops`` counts work that is not a
    multiply-add of a convolution/matmul (bias adds, normalisation, activations, pooling
    comparisons) under the rule the layer documents. ``windows`` (one per spatial axis)
    drive the receptive field; ``None`` keeps it if ``preserves_spatial``, else ends it.
    ``memory``: what the op keeps for backward, its working memory and what outlives it
    (:class:`MemoryContract`; the default: every input saved, nothing else).
    """

    outputs: tuple[Shape, ...]
    shape_terms: tuple[Term, ...] = ()
    weights: Term | None = None
    biases: Term | None = None
    non_trainable_params: Term | None = None
    buffers: Term | None = None
    multiply_adds: Term | None = None
    other_ops: Term | None = None
    memory: MemoryContract = field(default_factory=MemoryContract)
    windows: tuple[Window, ...] | None = None
    extra_terms: tuple[Term, ...] = field(default=())

    @property
    def output(self) -> Shape:
        return self.outputs[0]


def required(placeholder: Any = 0) -> Any:
    """A field the user must give, with a placeholder default only so that an inferable field
    before it (``in_channels``) can be left out. Spec validation reports it as missing.

    >>> from dataclasses import dataclass
    >>> @dataclass(frozen=True)
    ... class Example:
    ...     in_features: int | None = None
    ...     out_features: int = required()
    >>> from dataclasses import fields
    >>> fields(Example)[1].metadata["required"]
    True
    """
    return field(default=placeholder, metadata={"required": True})






def value(term: Term | None) -> int:
    return 0 if term is None else term.value


class Layer:
    """Base class of every layer type.

    Subclasses are frozen dataclasses of their hyperparameters (``@record``, a dataclass made
    cheaply: :mod:`netsize._record`; ``@dataclass(frozen=True)`` works too), registered with
    :func:`netsize.register_layer`, and implement :meth:`analyze`. ``kind`` is the display
    name (``Conv2d``); ``preserves_spatial`` says the receptive field passes through unchanged.
    Static checks (channels divisible by groups) belong in ``__post_init__``; checks that need
    the input raise :class:`NetsizeError` from ``analyze`` with the numbers involved — the
    engine adds the layer's name and kind.
    """

    kind: ClassVar[str] = "Layer"
    preserves_spatial: ClassVar[bool] = False
    arity: ClassVar[int | None] = 1  # number of inputs; None = any number >= 1

    def analyze(self, inputs: tuple[Shape, ...], ctx: Context) -> Analysis:
        raise NotImplementedError
