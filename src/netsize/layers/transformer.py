"""Transformer feed-forward layers (plain, gated/SwiGLU, mixture-of-experts).

Work rule: multiply-adds are the matrix products (``rows*F_in*F_out`` each, as :class:`Linear`);
other ops are bias adds (1 per output element), the activation (per hidden element, as the
activation's own layer counts it: GELU 5, tanh-GELU 9, SiLU 4, ReLU 1), the gate multiply of
gated variants (1 per hidden element) and, for mixture-of-experts, the router's softmax
(5 per expert score), top-k selection (1 per expert score) and the weighted sum of the ``k``
expert outputs (``2*k`` per output element).

Whole blocks (an encoder layer, a LLaMA decoder layer) are networks that a source builds (the
Hugging Face config frontend: ``frontends/hf_config/_decoder.py``); tests/layers/test_transformer.py
composes these layers as ``torch.nn.TransformerEncoderLayer`` does and checks the block against torch.
"""

from __future__ import annotations

import netsize.layers.activation  # noqa: F401  (registers the activations that _act names)
from netsize._errors import NetsizeError
from netsize._i18n import register_messages
from netsize._layer import Analysis, Context, Layer, MemoryContract, required, value
from netsize._record import record
from netsize._registry import register_layer, registered
from netsize._shape import Shape, elements, shape_str
from netsize._term import Term, prod_str

__all__ = ["BiasAdd", "FeedForward", "GatedFeedForward", "MixtureOfExperts", "NewGELU", "TakeToken"]

ACTIVATIONS = ("relu", "gelu", "gelu_new", "gelu_tanh", "gelu_pytorch_tanh", "silu", "swish", "tanh", "sigmoid")

register_messages(
    {
        "params_total": {"en": "params (all experts)", "zh": "参数（全部专家）"},
        "params_active": {"en": "active params per token", "zh": "每个词元激活的参数"},
        "multiply_adds_all_experts": {
            "en": "multiply-adds if every expert ran (dense)",
            "zh": "若所有专家都运行时的乘加次数（稠密）",
        },
    }
)


def _rows_features(x: Shape, d_model: int | None) -> tuple[int, int]:
    if len(x) < 2:
        raise NetsizeError(f"needs an input (N, ..., features), got {shape_str(x)}")
    d = x[-1]
    if d_model is not None and d_model != d:
        raise NetsizeError(
            f"expects {d_model} features but receives {d} (last axis of {shape_str(x)}). "
            f"Set d_model to {d}, or leave it out to infer it."
        )
    return elements(x) // d, d


def _act_ops(activation: str) -> int:
    """Other ops per element of ``activation``, as its own layer counts them (GELU 5, SiLU 4...)."""
    layer = _act(activation)
    return value(layer.analyze(((1, 1),), Context()).other_ops)


def _check(kind: str, activation: str, **sizes: int | None) -> None:
    for name, v in sizes.items():
        if v is not None and v <= 0:
            raise NetsizeError(f"{kind} {name} must be positive (got {v})")
    if activation not in ACTIVATIONS:
        raise NetsizeError(f"{kind}: unknown activation {activation!r}; use one of {', '.join(ACTIVATIONS)}")


@register_layer("feedforward", "ffn")
@record
class FeedForward(Layer):
    """``fc2(act(fc1(x)))``: ``D -> F -> D`` on the last axis (BERT, GPT-2, T5 ``DenseReluDense``).

    Weights ``2*D*F``; biases ``F + D`` with ``bias``; multiply-adds ``2*rows*D*F``.
    """

    d_model: int | None = None
    d_ff: int = required()
    activation: str = "gelu"
    bias: bool = True

    kind = "FeedForward"

    def __post_init__(self) -> None:
        _check("FeedForward", self.activation, d_model=self.d_model, d_ff=self.d_ff or -1)

    def analyze(self, inputs: tuple[Shape, ...], ctx: Context) -> Analysis:
        (x,) = inputs
        rows, d = _rows_features(x, self.d_model)
        f, a = self.d_ff, _act_ops(self.activation)
        ops = a * rows * f + (rows * (f + d) if self.bias else 0)
        return Analysis(
            outputs=(x,),
            shape_terms=(Term("F", f, "d_ff", str(f)),),
            weights=Term("weights", 2 * d * f, "2*D*F (fc1, fc2)", prod_str(2, d, f)),
            biases=Term("biases", f + d, "F + D", f"{f} + {d}") if self.bias else None,
            multiply_adds=Term("multiply_adds", 2 * rows * d * f, "2*rows*D*F", prod_str(2, rows, d, f)),
            other_ops=Term(
                "other_ops",
                ops,
                f"a*rows*F ({self.activation}, a = {a})" + (" + rows*(F + D) (bias adds)" if self.bias else ""),
                f"{a}*{rows}*{f}" + (f" + {rows}*({f} + {d})" if self.bias else ""),
            ),
            memory=MemoryContract(saved_extra_elements=2 * rows * f),
        )


@register_layer("gatedfeedforward", "gated_ffn", "swiglu", "geglu")
@record
class GatedFeedForward(Layer):
    """``down(act(gate(x)) * up(x))`` (SwiGLU with ``silu``, GEGLU with ``gelu``; LLaMA's MLP,
    T5 v1.1's ``DenseGatedActDense``).

    Weights ``3*D*F``; biases ``2*F + D`` with ``bias``; multiply-adds ``3*rows*D*F``.
    """

    d_model: int | None = None
    d_ff: int = required()
    activation: str = "silu"
    bias: bool = False

    kind = "GatedFeedForward"

    def __post_init__(self) -> None:
        _check("GatedFeedForward", self.activation, d_model=self.d_model, d_ff=self.d_ff or -1)

    def analyze(self, inputs: tuple[Shape, ...], ctx: Context) -> Analysis:
        (x,) = inputs
        rows, d = _rows_features(x, self.d_model)
        f, a = self.d_ff, _act_ops(self.activation)
        ops = (a + 1) * rows * f + (rows * (2 * f + d) if self.bias else 0)
        return Analysis(
            outputs=(x,),
            shape_terms=(Term("F", f, "d_ff", str(f)),),
            weights=Term("weights", 3 * d * f, "3*D*F (gate, up, down)", prod_str(3, d, f)),
            biases=Term("biases", 2 * f + d, "2*F + D", f"2*{f} + {d}") if self.bias else None,
            multiply_adds=Term("multiply_adds", 3 * rows * d * f, "3*rows*D*F", prod_str(3, rows, d, f)),
            other_ops=Term(
                "other_ops",
                ops,
                f"a*rows*F ({self.activation}, a = {a}) + rows*F (gate multiply)"
                + (" + rows*(2*F + D) (bias adds)" if self.bias else ""),
                f"{a}*{rows}*{f} + {rows}*{f}" + (f" + {rows}*(2*{f} + {d})" if self.bias else ""),
            ),
            memory=MemoryContract(saved_extra_elements=4 * rows * f),
        )


@register_layer("mixtureofexperts", "moe", "sparse_moe")
@record
class MixtureOfExperts(Layer):
    """A router ``D -> E`` picks the top ``k`` of ``E`` expert feed-forwards per token (Mixtral).

    Each expert is gated (``3*D*F``, SwiGLU) or plain (``2*D*F``). Params count every expert;
    the explanation also shows the *active* params per token (router + ``k`` experts).
    Multiply-adds: the router ``rows*D*E`` plus ``k`` experts per token ``k*rows*m*D*F``
    (``m`` = 3 gated, 2 plain), which is what a grouped or per-expert kernel computes.
    """

    d_model: int | None = None
    d_ff: int = required()
    num_experts: int = 8
    top_k: int = 2
    gated: bool = True
    activation: str = "silu"
    bias: bool = False
    router_bias: bool = False

    kind = "MixtureOfExperts"

    def __post_init__(self) -> None:
        _check("MixtureOfExperts", self.activation, d_model=self.d_model, d_ff=self.d_ff or -1,
               num_experts=self.num_experts, top_k=self.top_k)
        if self.top_k > self.num_experts:
            raise NetsizeError(f"MixtureOfExperts top_k={self.top_k} exceeds num_experts={self.num_experts}")

    def analyze(self, inputs: tuple[Shape, ...], ctx: Context) -> Analysis:
        (x,) = inputs
        rows, d = _rows_features(x, self.d_model)
        f, e, k = self.d_ff, self.num_experts, self.top_k
        m = 3 if self.gated else 2
        mats = "3*D*F" if self.gated else "2*D*F"
        expert_w = m * d * f
        expert_b = ((2 * f if self.gated else f) + d) if self.bias else 0
        weights = Term("weights", d * e + e * expert_w, f"D*E (router) + E*{mats} (experts)",
                       f"{prod_str(d, e)} + {e}*{prod_str(m, d, f)}")
        router_b = e if self.router_bias else 0
        biases = None
        if expert_b or router_b:
            biases = Term(
                "biases", router_b + e * expert_b, "E (router) + E*expert biases", f"{router_b} + {e}*{expert_b}"
            )
        total = weights.value + (biases.value if biases else 0)
        active = d * e + router_b + k * (expert_w + expert_b)
        macs = Term(
            "multiply_adds",
            rows * d * e + k * rows * expert_w,
            f"rows*D*E (router) + k*rows*{mats} (top-k experts)",
            f"{prod_str(rows, d, e)} + {k}*{rows}*{prod_str(m, d, f)}",
        )
        a = _act_ops(self.activation)
        hidden = (a + 1 if self.gated else a) * k * rows * f
        ops = 5 * rows * e + rows * e + hidden + 2 * k * rows * d
        extra = (
            Term("params_total", total, f"D*E + E*({mats} + expert biases)",
                 f"{prod_str(d, e)} + {e}*{expert_w + expert_b}"),
            Term("params_active", active, f"D*E + k*({mats} + expert biases)",
                 f"{prod_str(d, e)} + {k}*{expert_w + expert_b}"),
            Term("multiply_adds_all_experts", rows * d * e + e * rows * expert_w, f"rows*D*E + E*rows*{mats}",
                 f"{prod_str(rows, d, e)} + {e}*{rows}*{prod_str(m, d, f)}"),
        )
        return Analysis(
            outputs=(x,),
            shape_terms=(Term("F", f, "d_ff", str(f)),),
            weights=weights,
            biases=biases,
            multiply_adds=macs,
            other_ops=Term(
                "other_ops",
                ops,
                f"5*rows*E (softmax) + rows*E (top-k) + k*rows*F*(a + 1 gated, a plain; {self.activation} a = {a})"
                " + 2*k*rows*D (combine)",
                f"5*{rows}*{e} + {rows}*{e} + {hidden} + 2*{k}*{rows}*{d}",
            ),
            memory=MemoryContract(saved_extra_elements=rows * e + k * rows * (d + 2 * f)),
            extra_terms=extra,
        )


@register_layer("take_token", "select_token", "first_token")
@record
class TakeToken(Layer):
    """One position of a sequence: ``(N, S, ...) -> (N, ...)`` (BERT's pooler reads token 0,
    ``hidden_states[:, 0]``). A view: no work, nothing saved."""

    index: int = 0

    kind = "TakeToken"

    def analyze(self, inputs: tuple[Shape, ...], ctx: Context) -> Analysis:
        (x,) = inputs
        if len(x) < 2 or not -x[1] <= self.index < x[1]:
            raise NetsizeError(f"token {self.index} is outside a sequence of shape {shape_str(x)}")
        return Analysis(outputs=((x[0], *x[2:]),), memory=MemoryContract(saved_inputs=()))


@register_layer("bias_add")
@record
class BiasAdd(Layer):
    """A learned bias added on the last axis: ``features`` parameters, one add per element.

    For a bias that is its own parameter beside a tied weight (BERT's ``cls.predictions.bias``
    next to the decoder tied to the word embeddings). ``used=False``: a parameter the module
    holds but its forward does not apply (BERT's ``cls.predictions.bias`` when the decoder is
    untied and has its own bias): counted, no work, output = input. ``buffer=True``: the bias is
    a buffer, not a parameter (BART's ``final_logits_bias``): counted as buffers, not params."""

    features: int = required()
    used: bool = True
    buffer: bool = False

    kind = "BiasAdd"
    preserves_spatial = True

    def analyze(self, inputs: tuple[Shape, ...], ctx: Context) -> Analysis:
        (x,) = inputs
        if not x or x[-1] != self.features:
            raise NetsizeError(f"expects {self.features} features on the last axis, got {shape_str(x)}")
        return Analysis(
            outputs=(x,),
            biases=None if self.buffer else Term("biases", self.features, "F", str(self.features)),
            buffers=Term("buffers", self.features, "F", str(self.features)) if self.buffer else None,
            other_ops=Term("other_ops", elements(x), "elements (adds)", prod_str(*x)) if self.used else None,
            memory=MemoryContract(saved_inputs=()),
        )


@register_layer("new_gelu", "gelu_new_python")
@record
class NewGELU(Layer):
    """transformers' ``NewGELUActivation`` (``activation_function: gelu_new``, GPT-2): the tanh
    GELU ``0.5*x*(1 + tanh(sqrt(2/pi)*(x + 0.044715*x^3)))`` written as separate PyTorch ops,
    not ``nn.GELU(approximate="tanh")``'s one kernel. Same shape, 9 other ops per element, as
    tanh-GELU. Its backward keeps four tensors of the input's size, where the fused GELU keeps
    one: the input (``pow``), ``tanh(...)``, ``0.5*x`` and ``1 + tanh(...)``. Under autocast
    ``pow`` runs in float32, so three of them are float32 (``MemoryContract.saved_float32_elements``,
    shown as an extra term of the same name)."""

    kind = "NewGELUActivation"
    preserves_spatial = True

    def analyze(self, inputs: tuple[Shape, ...], ctx: Context) -> Analysis:
        (x,) = inputs
        n = elements(x)
        ops = _make("gelu", approximate="tanh").analyze(inputs, ctx).other_ops
        return Analysis(
            outputs=(x,),
            other_ops=ops,
            memory=MemoryContract(saved_inputs=(0,), saved_extra_elements=3 * n, saved_float32_elements=3 * n),
            extra_terms=(Term("saved_float32_elements", 3 * n, "3*elements (x, tanh, 1 + tanh)", prod_str(3, *x)),),
        )


def _make(name: str, **fields: object) -> Layer:
    """An activation layer by its registered name (:mod:`.activation`, imported above)."""
    cls = registered(name)
    if cls is None:
        raise NetsizeError(f"unknown activation {name!r}")
    return cls(**fields)


def _act(activation: str) -> Layer:
    if activation.startswith("gelu"):
        approx = "tanh" if activation in ("gelu_new", "gelu_tanh", "gelu_pytorch_tanh") else "none"
        return _make("gelu", approximate=approx)
    return _make({"swish": "silu"}.get(activation, activation))
