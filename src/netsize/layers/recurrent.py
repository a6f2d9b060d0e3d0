"""Recurrent layers: RNN (tanh/relu), LSTM (with optional projection) and GRU.

Shapes follow ``torch.nn``: a layer returns ``(output, h_n)`` (LSTM: ``(output, h_n, c_n)``) as
separate outputs, so ``name:1`` in a graph is ``h_n``. netsize defaults ``batch_first=True``
because specs give sequences per sample as ``(L, features)`` and the batch axis is prepended
(``N, L, features``); torch's default ``batch_first=False`` (``L, N, features``) is supported by
setting it. A 2-d input ``(L, features)`` is torch's unbatched form (``batch_first`` ignored).

Symbols: ``I`` input size, ``H`` hidden size, ``P`` projection size (LSTM), ``H_r`` the width of
the recurrent state (``P`` with a projection, else ``H``), ``L`` layers, ``D`` directions,
``N`` batch, ``T`` sequence length, ``G`` gate sets (RNN 1, LSTM 4, GRU 3).

Counts, per layer and direction:

- weights: ``G*H*(I_l + H_r)`` (+ ``P*H`` for the projection), ``I_l = I`` for the first layer and
  ``D*H_r`` after it — exactly ``torch.nn``'s ``weight_ih``, ``weight_hh`` (and ``weight_hr``).
- biases (torch): two vectors ``b_ih`` and ``b_hh`` of ``G*H`` each. Under the Keras convention
  one vector of ``G*H`` (Keras' ``SimpleRNN``/``LSTM``), and for GRU two with
  ``reset_after=True`` (Keras' default) and one with ``reset_after=False``.
- multiply-adds: each weight is used once per time step and sample, so ``N*T*weights``
  (the explanation also shows the count per time step, ``N*weights``). This equals
  ``FlopCounterMode`` FLOPs / 2 of the same ``torch.nn`` module where torch runs the recurrence
  as ``mm``/``addmm``. On CPU, float32 ``nn.LSTM`` without a projection dispatches to the oneDNN
  kernel ``aten.mkldnn_rnn_layer``, which ``FlopCounterMode`` does not count (it reports 0);
  with ``torch.backends.mkldnn.flags(enabled=False)`` it decomposes into ``mm``/``addmm`` and the
  counts agree.
- other ops, per time step and sample: one add per bias element, plus ``E*H`` elementwise
  operations with ``E`` = 2 for RNN (sum of the two matmuls, nonlinearity), 13 for LSTM (4H sums
  of the two matmuls, 4H gate nonlinearities, 3H for ``c = f*c + i*g``, H for ``tanh(c)``, H for
  ``o*tanh(c)``) and 11 for GRU (2H sums for r and z, 2H for ``x_n + r*h_n``, 3H gate
  nonlinearities, 4H for ``h = (1 - z)*n + z*h``).
- saved for backward: the input sequence, the output sequence (output 0) and, beyond those,
  every deeper layer's input sequence (``(L - 1)*D*H_r`` per step and sample), the gate
  activations of every step (``L*D*G*H``) and, for LSTM, the cell states (``L*D*H``).
  With ``dropout > 0`` between layers, a one-byte mask per element of each layer's output but
  the last.
"""

from __future__ import annotations

from typing import Any

from netsize._errors import NetsizeError
from netsize._i18n import register_messages
from netsize._layer import KERAS, Analysis, Context, Layer, MemoryContract, required
from netsize._record import record
from netsize._registry import register_layer
from netsize._shape import Shape, shape_str
from netsize._term import Term, message

__all__ = ["GRU", "LSTM", "RNN"]

register_messages(
    {
        "multiply_adds_per_step": {"en": "multiply-adds per time step", "zh": "每个时间步的乘加次数"},
        "saved_extra_elements": {
            "en": "saved for backward besides input and output",
            "zh": "除输入输出外反向传播保存的元素",
        },
        "note.rnn_macs": {
            "en": "each weight is used once per time step and sample",
            "zh": "每个权重在每个时间步、每个样本上各使用一次",
        },
        "note.rnn_keras_bias": {
            "en": "Keras convention: {count} bias vector(s) of {size} per layer and direction",
            "zh": "Keras 约定：每层每个方向 {count} 个长度为 {size} 的偏置向量",
        },
    }
)


def _check(layer: Any) -> None:
    """Static checks shared by the three layer types."""
    kind = layer.kind
    if not isinstance(layer.hidden_size, int) or layer.hidden_size <= 0:
        raise NetsizeError(f"{kind} hidden_size must be a positive integer (got {layer.hidden_size!r})")
    if layer.input_size is not None and (not isinstance(layer.input_size, int) or layer.input_size <= 0):
        raise NetsizeError(f"{kind} input_size must be a positive integer or left out (got {layer.input_size!r})")
    if not isinstance(layer.num_layers, int) or layer.num_layers <= 0:
        raise NetsizeError(f"{kind} num_layers must be a positive integer (got {layer.num_layers!r})")
    if not 0 <= layer.dropout < 1:
        raise NetsizeError(f"{kind} dropout must be in [0, 1) (got {layer.dropout!r})")


def _factor(parts: list[tuple[str, int]], symbolic: bool) -> str:
    """``D*L*`` prefixes: only the factors that are not 1, so the simple case reads simply."""
    return "".join(f"{name if symbolic else value}*" for name, value in parts if value != 1)


def _analyze(
    layer: Any,
    inputs: tuple[Shape, ...],
    ctx: Context,
    gates: int,
    elementwise: int,
    proj: int = 0,
    keras_bias_vectors: int = 1,
) -> Analysis:
    (x,) = inputs
    if len(x) not in (2, 3):
        order = "N, L, H_in" if layer.batch_first else "L, N, H_in"
        raise NetsizeError(
            f"needs a 3-d input ({order}) or an unbatched 2-d input (L, H_in) but receives {len(x)}-d {shape_str(x)}"
        )
    received = x[-1]
    if layer.input_size is not None and layer.input_size != received:
        raise NetsizeError(
            f"expects input_size {layer.input_size:,} but receives {received:,} "
            f"(last axis of {shape_str(x)}). Set input_size to {received}, or leave it out to infer it."
        )
    batched = len(x) == 3
    if batched:
        n, t = (x[0], x[1]) if layer.batch_first else (x[1], x[0])
    else:
        n, t = 1, x[0]
    i, h, nl = received, layer.hidden_size, layer.num_layers
    d = 2 if layer.bidirectional else 1
    hr = proj or h
    g_sym, g_val = ("" if gates == 1 else f"{gates}*"), gates
    hr_sym = "P" if proj else "H"

    # Outputs, as torch returns them.
    out: tuple[int, ...]
    states: list[tuple[int, ...]]
    if batched:
        out = (n, t, d * hr) if layer.batch_first else (t, n, d * hr)
        states = [(d * nl, n, hr)] + ([(d * nl, n, h)] if gates == 4 else [])
    else:
        out = (t, d * hr)
        states = [(d * nl, hr)] + ([(d * nl, h)] if gates == 4 else [])
    shape_terms = (
        Term("O_F", d * hr, f"{'D*' if d > 1 else ''}{hr_sym}", f"{d}*{hr}" if d > 1 else str(hr)),
        Term("O_S", d * nl, "D*L", f"{d}*{nl}"),
    )

    # Weights: G*H*(I_l + H_r) per layer and direction, plus the projection P*H.
    w_first = g_val * h * (i + hr)
    w_deep = g_val * h * (d * hr + hr)
    w_proj = proj * h
    per_dir = w_first + (nl - 1) * w_deep + nl * w_proj
    w_total = d * per_dir
    sym = [f"{g_sym}H*(I + {hr_sym})"]
    sub = [f"{g_sym}{h}*({i} + {hr})"]
    if nl > 1:
        sym.append(f"(L - 1)*{g_sym}H*({'D*' if d > 1 else ''}{hr_sym} + {hr_sym})")
        sub.append(f"({nl} - 1)*{g_sym}{h}*({f'{d}*' if d > 1 else ''}{hr} + {hr})")
    if proj:
        sym.append(f"{'L*' if nl > 1 else ''}P*H")
        sub.append(f"{f'{nl}*' if nl > 1 else ''}{proj}*{h}")
    w_sym, w_sub = " + ".join(sym), " + ".join(sub)
    if d > 1:
        w_sym, w_sub = f"D*({w_sym})", f"{d}*({w_sub})"
    weights = Term("weights", w_total, w_sym, w_sub)

    # Biases: torch has b_ih and b_hh; Keras one vector per gate set (GRU reset_after: two).
    biases = None
    if layer.bias:
        vectors = keras_bias_vectors if ctx.convention == KERAS else 2
        prefix = [("D", d), ("L", nl)]
        v_sym = f"{vectors}*" if vectors != 1 else ""
        notes = (message("note.rnn_keras_bias", count=vectors, size=g_val * h),) if ctx.convention == KERAS else ()
        biases = Term(
            "biases",
            d * nl * vectors * g_val * h,
            f"{_factor(prefix, True)}{v_sym}{g_sym}H",
            f"{_factor(prefix, False)}{v_sym}{g_sym}{h}",
            notes,
        )
    b_total = 0 if biases is None else biases.value

    macs = Term(
        "multiply_adds",
        n * t * w_total,
        "N*T*weights",
        f"{n}*{t}*{w_total}",
        (message("note.rnn_macs"),),
    )
    per_step = Term("multiply_adds_per_step", n * w_total, "N*weights", f"{n}*{w_total}")

    prefix = [("D", d), ("L", nl)]
    ew = d * nl * elementwise * h
    ew_sym = f"{_factor(prefix, True)}{elementwise}*H"
    ew_sub = f"{_factor(prefix, False)}{elementwise}*{h}"
    if layer.bias:
        other = Term("other_ops", n * t * (ew + b_total), f"N*T*({ew_sym} + biases)", f"{n}*{t}*({ew_sub} + {b_total})")
    else:
        other = Term("other_ops", n * t * ew, f"N*T*{ew_sym}", f"{n}*{t}*{ew_sub}")

    # Saved for backward beyond input and output: deeper layers' inputs, gates, LSTM cells.
    per_step_saved = (nl - 1) * d * hr + nl * d * gates * h + (nl * d * h if gates == 4 else 0)
    ld_sym, ld_sub = _factor([("L", nl), ("D", d)], True), _factor([("L", nl), ("D", d)], False)
    s_sym, s_sub = [f"{ld_sym}{g_sym}H"], [f"{ld_sub}{g_sym}{h}"]
    if gates == 4:
        s_sym.append(f"{ld_sym}H")
        s_sub.append(f"{ld_sub}{h}")
    if nl > 1:
        s_sym.insert(0, f"(L - 1)*{'D*' if d > 1 else ''}{hr_sym}")
        s_sub.insert(0, f"({nl} - 1)*{f'{d}*' if d > 1 else ''}{hr}")
    saved = Term(
        "saved_extra_elements",
        n * t * per_step_saved,
        f"N*T*({' + '.join(s_sym)})",
        f"{n}*{t}*({' + '.join(s_sub)})",
    )
    mask_bytes = (nl - 1) * n * t * d * hr if layer.dropout > 0 else 0

    return Analysis(
        outputs=(out, *states),
        shape_terms=shape_terms,
        weights=weights,
        biases=biases,
        multiply_adds=macs,
        other_ops=other,
        memory=MemoryContract(
            saved_inputs=None,
            saved_outputs=(0,),
            saved_extra_elements=saved.value,
            saved_extra_bytes=mask_bytes,
        ),
        extra_terms=(per_step, saved),
    )


@register_layer("rnn", "simple_rnn")
@record
class RNN(Layer):
    """Elman RNN, ``h_t = act(W_ih x_t + b_ih + W_hh h_(t-1) + b_hh)``, ``act`` tanh or relu.

    Also registered as Keras' ``SimpleRNN``. Outputs ``(output, h_n)``. Weights per layer and
    direction ``H*(I_l + H)``; biases ``2*H`` (torch) or ``H`` (Keras). Multiply-adds
    ``N*T*weights``; other ops per step and sample: ``2*H`` (matmul sum, nonlinearity) plus one
    add per bias element. See the module docstring for the symbols and the saved-for-backward rule.

    >>> from netsize import analyze_layer
    >>> r = analyze_layer("rnn", RNN(hidden_size=20), ((3, 5, 10),))
    >>> r.output_shapes, r.params
    (((3, 5, 20), (1, 3, 20)), 640)
    """

    input_size: int | None = None
    hidden_size: int = required()
    num_layers: int = 1
    nonlinearity: str = "tanh"
    bias: bool = True
    batch_first: bool = True
    dropout: float = 0.0
    bidirectional: bool = False

    kind = "RNN"

    def __post_init__(self) -> None:
        _check(self)
        if self.nonlinearity not in ("tanh", "relu"):
            raise NetsizeError(f"RNN nonlinearity must be 'tanh' or 'relu' (got {self.nonlinearity!r})")

    def analyze(self, inputs: tuple[Shape, ...], ctx: Context) -> Analysis:
        return _analyze(self, inputs, ctx, gates=1, elementwise=2)


@register_layer("lstm")
@record
class LSTM(Layer):
    """Long short-term memory with input, forget, cell and output gates (``G = 4``).

    Outputs ``(output, h_n, c_n)``; ``proj_size > 0`` projects ``h`` to ``P`` features
    (``weight_hr``, ``P*H`` per layer and direction) and the recurrent width becomes ``P``.
    Weights per layer and direction ``4*H*(I_l + H_r)`` (+ ``P*H``); biases ``2*4*H`` (torch)
    or ``4*H`` (Keras). Multiply-adds ``N*T*weights``; other ops per step and sample ``13*H``
    plus one add per bias element (module docstring).

    >>> from netsize import analyze_layer
    >>> r = analyze_layer("lstm", LSTM(hidden_size=64), ((1, 10, 32),))
    >>> r.output_shapes, r.weights, r.biases
    (((1, 10, 64), (1, 1, 64), (1, 1, 64)), 24576, 512)
    """

    input_size: int | None = None
    hidden_size: int = required()
    num_layers: int = 1
    bias: bool = True
    batch_first: bool = True
    dropout: float = 0.0
    bidirectional: bool = False
    proj_size: int = 0

    kind = "LSTM"

    def __post_init__(self) -> None:
        _check(self)
        if not isinstance(self.proj_size, int) or self.proj_size < 0:
            raise NetsizeError(f"LSTM proj_size must be a non-negative integer (got {self.proj_size!r})")
        if self.proj_size >= self.hidden_size:
            raise NetsizeError(
                f"LSTM proj_size ({self.proj_size}) must be smaller than hidden_size ({self.hidden_size}), "
                "as in torch; use 0 for no projection"
            )

    def analyze(self, inputs: tuple[Shape, ...], ctx: Context) -> Analysis:
        return _analyze(self, inputs, ctx, gates=4, elementwise=13, proj=self.proj_size)


@register_layer("gru")
@record
class GRU(Layer):
    """Gated recurrent unit with reset, update and new gates (``G = 3``), as ``torch.nn.GRU``.

    Outputs ``(output, h_n)``. Weights per layer and direction ``3*H*(I_l + H)``; biases
    ``2*3*H`` (torch). Under the Keras convention ``reset_after=True`` (Keras' default, the
    same arithmetic as torch) has two bias vectors ``2*3*H`` and ``reset_after=False`` one,
    ``3*H``; the field matters only there. Multiply-adds ``N*T*weights``; other ops per step and
    sample ``11*H`` plus one add per bias element (module docstring).

    >>> from netsize import analyze_layer
    >>> from netsize._layer import Context
    >>> analyze_layer("gru", GRU(hidden_size=64, reset_after=False), ((1, 10, 32),), Context("keras")).params
    18624
    """

    input_size: int | None = None
    hidden_size: int = required()
    num_layers: int = 1
    bias: bool = True
    batch_first: bool = True
    dropout: float = 0.0
    bidirectional: bool = False
    reset_after: bool = True

    kind = "GRU"

    def __post_init__(self) -> None:
        _check(self)

    def analyze(self, inputs: tuple[Shape, ...], ctx: Context) -> Analysis:
        return _analyze(self, inputs, ctx, gates=3, elementwise=11, keras_bias_vectors=2 if self.reset_after else 1)
