"""State-space layers: Mamba's selective scan (S6).

``SelectiveScan`` is ``selective_scan_fn(u, delta, A, B, C, D, z)`` of the Mamba paper
(Gu & Dao 2023, Algorithm 2) as transformers' reference PyTorch path computes it
(``mamba_selective_scan``, the path taken without the CUDA kernels): per sample, time step
``t``, channel ``d`` and state ``s``

    dA = exp(delta*A)            dB_u = delta*B*u
    h_t = dA*h_(t-1) + dB_u      (the recurrence)
    y_t = sum_s C*h_t + D*u_t    (the readout, and the skip)
    y_t = y_t*silu(z_t)          (the gate, when z is given)

Inputs, batch first: ``u`` and ``delta`` ``(N, L, D)``, ``B`` and ``C`` ``(N, L, S)``, and
``z`` ``(N, L, D)`` when ``gated``. Output ``(N, L, D)``. Symbols: ``N`` batch, ``L`` length,
``D`` channels (Mamba's ``d_inner``), ``S`` state size.

Counts:

- weights: ``A_log`` (``D*S``, ``A = -exp(A_log)``) and the skip ``D`` (``D``, with ``skip``).
- multiply-adds: ``2*N*L*D*S``, the recurrence (one multiply-add ``dA*h + dB_u`` per state
  element and step) and the readout (``C . h``, a contraction over ``S``). FlopCounterMode sees
  only the readout, ``N*L*D*S`` (transformers runs it as ``bmm``); the recurrence is an
  elementwise ``mul`` then ``add`` in a Python loop, which FlopCounterMode does not count. netsize
  counts it because it is the scan's own work, as large as the readout: the fused CUDA kernel
  does it as one fused multiply-add per element, and the Mamba paper counts it too.
- other ops: ``4*N*L*D*S`` (``delta*A``, ``exp``, ``delta*B``, ``*u``) plus per ``N*L*D``:
  softplus of ``delta`` (5, with ``delta_softplus``), the skip (2: ``D*u`` and its add) and the
  gate (silu 4 + multiply 1), plus ``2*D*S`` for ``A = -exp(A_log)``.
- working memory (under no_grad, beyond inputs and output): ``3*N*L*D*S`` (``dA``, ``delta*B``,
  ``delta*B*u``, which the reference path keeps to its end) plus the last state ``N*D*S`` and ``A``
  (``D*S``), float32; plus ``4*N*L*D`` (softplus output, the list of per-step outputs, the stacked
  outputs and the skip's or gate's product).
- saved for backward (the reference path under autograd): the inputs; ``dA`` and ``delta*B``
  (``N*L*D*S`` each) and every state ``h_0..h_L`` (``(L + 1)*N*D*S``), all float32 whatever the
  activation dtype; ``exp(A_log)`` and ``A = -exp(A_log)`` (``D*S`` each); and per ``N*L*D``
  the softplus output, the pre-gate sum and ``silu(z)``.
"""

from __future__ import annotations

from typing import ClassVar

from netsize._errors import NetsizeError
from netsize._i18n import register_messages
from netsize._layer import Analysis, Context, Layer, MemoryContract, required
from netsize._record import record
from netsize._registry import register_layer
from netsize._shape import Shape, shape_str
from netsize._term import Term, message, prod_str

__all__ = ["SelectiveScan"]

register_messages(
    {
        "multiply_adds_recurrence": {"en": "multiply-adds of the recurrence", "zh": "递推的乘加次数"},
        "multiply_adds_readout": {"en": "multiply-adds of the readout", "zh": "读出的乘加次数"},
        "multiply_adds_flop_counter": {
            "en": "multiply-adds FlopCounterMode sees (FLOPs / 2)",
            "zh": "FlopCounterMode 统计到的乘加次数（浮点运算次数 / 2）",
        },
        "recurrent_state_elements": {"en": "recurrent state elements", "zh": "循环状态元素个数"},
        "note.scan_state": {
            "en": "fixed per sequence: it does not grow with the context length (no KV cache)",
            "zh": "每个序列固定：不随上下文长度增长（没有 KV 缓存）",
        },
        "note.scan_recurrence": {
            "en": "the recurrence h = exp(delta*A)*h + delta*B*u is one multiply-add per state element and "
            "step; FlopCounterMode misses it (elementwise mul and add), it sees only the readout C.h ({seen})",
            "zh": "递推 h = exp(Δ*A)*h + Δ*B*u 每个状态元素每步贡献 1 次乘加次数；FlopCounterMode 看不到它"
            "（逐元素的乘和加），只统计读出 C.h（{seen}）",
        },
    }
)


@register_layer("selective_scan", "selectivescan", "s6")
@record
class SelectiveScan(Layer):
    """Mamba's selective scan over ``(u, delta, B, C[, z])``, each ``(N, L, ...)`` batch first.

    ``state_size`` is ``S``; ``d_inner`` (``D``) is inferred from ``u``. ``skip``: the ``D*u``
    skip with its ``D`` parameters; ``gated``: a fifth input ``z`` gates the output by
    ``silu(z)``; ``delta_softplus``: ``softplus(delta)`` first. ``conv_kernel``: the width
    ``K`` of the causal convolution before the scan (Mamba's ``conv1d``), whose last ``K``
    inputs decoding keeps beside the state (0: none). The state a sequence carries from token
    to token, ``recurrent_state_elements``, is ``N*D*(K + S)`` (transformers' ``conv_state``
    and ``ssm_state``), fixed whatever the context length; ``cache``: the forward keeps it until
    it returns (``use_cache``), as a KV cache is kept. Weights ``D*S + D``;
    multiply-adds ``2*N*L*D*S`` (recurrence and readout; see the module docstring for why
    FlopCounterMode reports half).

    >>> from netsize import analyze_layer
    >>> r = analyze_layer("scan", SelectiveScan(state_size=16), ((1, 8, 32), (1, 8, 32), (1, 8, 16),
    ...                   (1, 8, 16), (1, 8, 32)))
    >>> r.output_shape, r.params, r.multiply_adds
    ((1, 8, 32), 544, 8192)
    """

    d_inner: int | None = None
    state_size: int = required()
    skip: bool = True
    gated: bool = True
    delta_softplus: bool = True
    conv_kernel: int = 0
    cache: bool = False

    kind: ClassVar[str] = "SelectiveScan"
    arity: ClassVar[int | None] = None

    def __post_init__(self) -> None:
        if type(self.state_size) is not int or self.state_size <= 0:
            raise NetsizeError(f"SelectiveScan state_size must be a positive integer (got {self.state_size!r})")
        if self.d_inner is not None and (type(self.d_inner) is not int or self.d_inner <= 0):
            raise NetsizeError(f"SelectiveScan d_inner must be a positive integer or left out (got {self.d_inner!r})")
        if type(self.conv_kernel) is not int or self.conv_kernel < 0:
            raise NetsizeError(f"SelectiveScan conv_kernel must be a non-negative integer (got {self.conv_kernel!r})")

    def analyze(self, inputs: tuple[Shape, ...], ctx: Context) -> Analysis:
        want = 5 if self.gated else 4
        names = "u, delta, B, C" + (", z" if self.gated else "")
        if len(inputs) != want:
            raise NetsizeError(f"takes {want} inputs ({names}) but receives {len(inputs)}")
        u = inputs[0]
        if len(u) != 3:
            raise NetsizeError(f"needs u as (N, L, D) but receives {len(u)}-d {shape_str(u)}")
        n, length, d = u
        s = self.state_size
        if self.d_inner is not None and self.d_inner != d:
            raise NetsizeError(f"expects d_inner {self.d_inner:,} but u has {d:,} channels ({shape_str(u)}). "
                               f"Set d_inner to {d}, or leave it out to infer it.")
        expected = {"delta": (n, length, d), "B": (n, length, s), "C": (n, length, s)}
        if self.gated:
            expected["z"] = (n, length, d)
        for (name, shape), got in zip(expected.items(), inputs[1:], strict=True):
            if tuple(got) != shape:
                raise NetsizeError(f"input {name} must be {shape_str(shape)} (N, L, {'S' if name in 'BC' else 'D'}) "
                                   f"to match u {shape_str(u)} and state_size {s}, but is {shape_str(got)}")
        states = n * length * d * s
        weights = Term("weights", d * s + (d if self.skip else 0), "D*S (A_log) + D (skip)" if self.skip
                       else "D*S (A_log)", f"{d}*{s} + {d}" if self.skip else f"{d}*{s}")
        readout = Term("multiply_adds_readout", states, "N*L*D*S", prod_str(n, length, d, s))
        recurrence = Term("multiply_adds_recurrence", states, "N*L*D*S", prod_str(n, length, d, s))
        macs = Term("multiply_adds", 2 * states, "2*N*L*D*S", prod_str(2, n, length, d, s),
                    (message("note.scan_recurrence", seen=f"{states:,}"),))
        seen = Term("multiply_adds_flop_counter", states, "N*L*D*S", prod_str(n, length, d, s))
        per_channel = (5 if self.delta_softplus else 0) + (2 if self.skip else 0) + (5 if self.gated else 0)
        rows = n * length * d
        ops = 4 * states + per_channel * rows + 2 * d * s
        flags = (("delta_softplus 5", self.delta_softplus), ("skip 2", self.skip), ("gate 5", self.gated))
        parts = [w for w, on in flags if on]
        other = Term("other_ops", ops, f"4*N*L*D*S + c*N*L*D (c = {' + '.join(parts) or '0'}) + 2*D*S",
                     f"4*{prod_str(n, length, d, s)} + {per_channel}*{prod_str(n, length, d)} + 2*{d}*{s}")
        float32 = 2 * states + (length + 1) * n * d * s
        per_row = (1 if self.delta_softplus else 0) + (2 if self.gated else 0)
        saved = float32 + 2 * d * s + per_row * rows
        # Alive at the forward's peak under no_grad: dA, delta*B and delta*B*u (the reference path
        # keeps all three to the end), the last state, A; per N*L*D the softplus output, the list of
        # per-step outputs, and, as the skip or the gate is applied, the stacked outputs and one product.
        workspace_float32 = 3 * states + n * d * s + d * s
        per_row_work = (1 if self.delta_softplus else 0) + 1 + (2 if self.skip or self.gated else 0)
        workspace = workspace_float32 + per_row_work * rows
        k = self.conv_kernel
        state = Term("recurrent_state_elements", n * d * (k + s), "N*D*(K + S) (conv_state N*D*K, ssm_state N*D*S)",
                     f"{n}*{d}*({k} + {s})", (message("note.scan_state"),))
        return Analysis(
            outputs=((n, length, d),),
            shape_terms=(Term("S", s, "state_size", str(s)),),
            weights=weights,
            multiply_adds=macs,
            other_ops=other,
            memory=MemoryContract(saved_extra_elements=saved, saved_float32_elements=float32,
                                  workspace_elements=workspace, workspace_float32_elements=workspace_float32,
                                  retained_elements=state.value if self.cache else 0),
            extra_terms=(recurrence, readout, seen, state),
        )
