"""Attention: the scaled dot-product core, PyTorch's ``nn.MultiheadAttention``, and
grouped-query / multi-query attention with optional rotary positions.

Shapes are batch first: query ``(N, L, E)``, key/value ``(N, S, E_k)``.

Work rule (stated once, used by every attention layer here):

- ``multiply_adds``: the projections (``rows*F_in*F_out`` each, as :class:`Linear`) plus the two
  products of every query head with every key position, ``QK^T = N*H*L*S*d`` and
  ``AV = N*H*L*S*d_v``. Grouped-query attention repeats each key/value head for its group of
  query heads, so both products use the *query* head count ``H``. For causal attention this is
  what the kernel computes (the full ``L x S`` score matrix, then masked), which is what
  ``FlopCounterMode`` sees; the explanation also shows what is *needed*: with causal masking
  query ``i`` sees ``i + 1 + (S - L)`` keys (``L(L+1)/2`` pairs when ``L = S``), at most
  ``sliding_window`` of them.
- ``other_ops``: score scaling (1 per score), mask add (1 per score, causal or windowed only),
  softmax (5 per score: max, subtract, exp, sum, divide), rotary positions (3 per rotated
  query/key element: two multiplies and an add), bias adds of the projections.
- Saved for backward: the query, key and value and the softmax probabilities ``N*H*L*S``.
  :class:`ScaledDotProductAttention` states it per ``implementation``, as PyTorch saves it:

  * ``"eager"`` (transformers' ``eager_attention_forward``, PyTorch's math path: matmul,
    softmax, dropout, matmul): contiguous copies of the query ``N*H*L*d``, key ``N*H*S*d`` and
    value ``N*H*S*d_v`` heads (grouped-query: keys and values repeated to ``H`` heads), the
    softmax probabilities ``N*H*L*S`` (float32 under autocast) and, with ``dropout > 0``, the
    dropped probabilities ``N*H*L*S`` and their 1-byte mask. The layer's inputs are not kept.
  * ``"sdpa"`` (``F.scaled_dot_product_attention``'s fused flash / memory-efficient kernels):
    the inputs (q, k, v), the kernel's output ``N*H*L*d_v`` and its log-sum-exp ``N*H*L``
    (float32).

  ``MemoryContract.saved_float32_elements`` is the part of ``saved_extra_elements`` that stays float32
  under autocast (eager: the probabilities; sdpa: the log-sum-exp); an extra term of the same
  name shows it in the explanation.
- Working memory (``MemoryContract.workspace_elements``), eager only: the op sequence of
  ``eager_attention_forward`` for a causal layer is ``A = q @ k^T``, ``B = A * scaling``,
  ``C = B + mask``, ``D = softmax(C)``, ``E = D.to(v.dtype)``, dropout, ``E @ v``; each
  ``N*H*L*S`` result is made while its operand is still alive, so two of them coexist at every
  step and never three: the workspace is ``2*N*H*L*S``. Under autocast ``A``, ``B`` are in the
  low dtype but ``C`` (the float32 mask promotes the sum) and ``D`` (softmax runs in float32)
  are float32, and the ``C, D`` moment is the peak: all of it is ``workspace_float32_elements``.
  Not counted: the contiguous head copies inside the matmuls (``N*H*(L + S)*d``, smaller when
  ``S > 2d``) and, non-causal under autocast, softmax's float32 copy of ``B`` (one more
  ``N*H*L*S`` in the low dtype). ``sdpa``'s fused kernels hold no ``N*H*L*S`` tensor.
- KV cache (``ScaledDotProductAttention(kv_cache=True)``: transformers' ``use_cache``, on by
  default for causal LMs in ``eval()`` *and* ``train()``): the layer's keys and values are
  concatenated into a ``DynamicCache`` (``torch.cat``: contiguous copies, ``H_kv`` heads, before
  any grouped-query repetition), ``2*N*S*H_kv*d`` elements with ``d_v = d``
  (:func:`kv_cache_elements`), alive until the model's output is dropped:
  ``MemoryContract.retained_elements``. Eager attention's matmuls then read (and autograd saves) the
  cached tensors themselves when ``H_kv = H`` (``repeat_kv`` is a no-op), so the cache is the
  saved key and value copies (``retained_saved_elements``); with ``H_kv < H`` the saved copies
  are the repeated ones and the cache is apart. No change to parameters or work.
"""

from __future__ import annotations

from netsize._errors import NetsizeError
from netsize._i18n import register_messages
from netsize._layer import Analysis, AttentionCall, Context, Layer, MemoryContract, required
from netsize._record import record
from netsize._registry import register_layer
from netsize._shape import Shape, shape_str
from netsize._term import Term, prod_str

__all__ = ["GroupedQueryAttention", "MultiheadAttention", "ScaledDotProductAttention"]

IMPLEMENTATIONS = ("eager", "sdpa")

register_messages(
    {
        "multiply_adds_needed": {
            "en": "multiply-adds needed (masked scores skipped)",
            "zh": "实际需要的乘加次数（跳过被掩码的分数）",
        },
        "attention_pairs": {"en": "query-key pairs computed", "zh": "计算的查询-键对数"},
        "attention_pairs_needed": {"en": "query-key pairs needed", "zh": "实际需要的查询-键对数"},
        "saved_float32_elements": {
            "en": "elements saved for backward that stay float32 under autocast",
            "zh": "自动混合精度下仍以 float32 保存的反向所需元素个数",
        },
        "workspace_elements": {
            "en": "elements the forward holds internally at its peak, beyond its inputs and outputs",
            "zh": "前向计算在峰值时内部占用的元素个数（不含输入和输出）",
        },
        "kv_cache_elements": {
            "en": "KV-cache elements (keys and values kept for decoding)",
            "zh": "KV 缓存元素个数（解码时保存的键和值）",
        },
    }
)


def attention_pairs(q_len: int, k_len: int, causal: bool, sliding_window: int | None = None) -> int:
    """Query-key pairs a mask leaves: all ``L*S`` unless causal; causal: query ``i`` (of ``L``, the last ``L`` of
    ``S`` positions) sees keys ``0 .. i + S - L``, at most ``sliding_window`` of them.

    >>> attention_pairs(4, 4, causal=True)
    10
    >>> attention_pairs(4, 4, causal=True, sliding_window=2)
    7
    """
    if not causal:
        return q_len * k_len
    window = k_len if sliding_window is None else min(sliding_window, k_len)
    # Query i sees t = i + 1 + (S - L) keys (capped at S); count min(t, W) for t = a..b.
    a, b = max(k_len - q_len + 1, 1), k_len
    if b < a:
        return 0
    total = 0
    low_end = min(b, window - 1)
    if low_end >= a:
        total += (a + low_end) * (low_end - a + 1) // 2
    high_start = max(a, window)
    if b >= high_start:
        total += (b - high_start + 1) * window
    return total


def _core(
    n: int,
    q_len: int,
    k_len: int,
    heads: int,
    kv_heads: int,
    d: int,
    d_v: int,
    causal: bool,
    sliding_window: int | None,
    rotary: bool,
) -> tuple[Term, list[Term], list[Term], int]:
    """The s^2 part: (multiply_adds, other_ops parts, extra terms, saved probabilities)."""
    scores = n * heads * q_len * k_len
    macs = Term(
        "multiply_adds",
        n * heads * q_len * k_len * (d + d_v),
        "N*H*L*S*d (QK^T) + N*H*L*S*d_v (AV)",
        f"{prod_str(n, heads, q_len, k_len, d)} + {prod_str(n, heads, q_len, k_len, d_v)}",
    )
    masked = causal or sliding_window is not None
    ops = [Term("other_ops", scores, "N*H*L*S (scale)", prod_str(n, heads, q_len, k_len))]
    if masked:
        ops.append(Term("other_ops", scores, "N*H*L*S (mask add)", prod_str(n, heads, q_len, k_len)))
    ops.append(Term("other_ops", 5 * scores, "5*N*H*L*S (softmax)", prod_str(5, n, heads, q_len, k_len)))
    if rotary:
        rot = 3 * n * (q_len * heads * d + k_len * kv_heads * d)
        ops.append(
            Term(
                "other_ops",
                rot,
                "3*N*(L*H*d + S*H_kv*d) (rotary)",
                f"3*{n}*({prod_str(q_len, heads, d)} + {prod_str(k_len, kv_heads, d)})",
            )
        )
    extra: list[Term] = []
    if masked:
        pairs = attention_pairs(q_len, k_len, causal, sliding_window)
        rule = "L(L+1)/2" if causal and q_len == k_len and sliding_window is None else "sum_i min(i+1+S-L, W)"
        extra.append(Term("attention_pairs", q_len * k_len, "L*S", prod_str(q_len, k_len)))
        extra.append(Term("attention_pairs_needed", pairs, rule, ""))
        extra.append(
            Term(
                "multiply_adds_needed",
                n * heads * pairs * (d + d_v),
                "N*H*pairs*(d + d_v)",
                f"{prod_str(n, heads, pairs)}*({d} + {d_v})",
            )
        )
    return macs, ops, extra, scores


def _sum_ops(parts: list[Term]) -> Term | None:
    parts = [p for p in parts if p.value]
    if not parts:
        return None
    if len(parts) == 1:
        return parts[0]
    return Term(
        "other_ops",
        sum(p.value for p in parts),
        " + ".join(p.symbolic for p in parts),
        " + ".join(f"{p.value}" for p in parts),
    )


def _sum_terms(name: str, parts: list[Term]) -> Term | None:
    parts = [p for p in parts if p.value]
    if not parts:
        return None
    if len(parts) == 1:
        return Term(name, parts[0].value, parts[0].symbolic, parts[0].substituted)
    return Term(
        name,
        sum(p.value for p in parts),
        " + ".join(p.symbolic for p in parts),
        " + ".join(p.substituted or str(p.value) for p in parts),
    )


def kv_cache_elements(batch: int, seq_len: int, key_features: int, value_features: int) -> int:
    """Elements of the keys and values one attention layer caches: ``N*S*(H_kv*d_k + H_kv*d_v)``
    (``2*N*S*H_kv*d`` when ``d_v = d_k``). The one formula of the KV cache: the layers' retained
    tensors and :mod:`netsize.llm`'s KV-cache figures (per token: ``batch = seq_len = 1``) use it.

    >>> kv_cache_elements(8, 1024, 768, 768)   # GPT-2 small, one layer
    12582912
    """
    return batch * seq_len * (key_features + value_features)


def _check_positive(kind: str, **sizes: int | None) -> None:
    for name, v in sizes.items():
        if v is not None and v <= 0:
            raise NetsizeError(f"{kind} {name} must be positive (got {v})")


def _seq(x: Shape, what: str) -> tuple[int, int, int]:
    if len(x) != 3:
        raise NetsizeError(f"{what} must be 3-d (N, sequence, features) but is {shape_str(x)}")
    return x[0], x[1], x[2]


@register_layer("scaled_dot_product_attention", "sdpa", "attention_core")
@record
class ScaledDotProductAttention(Layer):
    """``softmax(Q K^T / sqrt(d) + mask) V`` over heads, from projected ``q, k, v``.

    Inputs ``q (N, L, H*d)``, ``k (N, S, H_kv*d)``, ``v (N, S, H_kv*d_v)``; output
    ``(N, L, H*d_v)``; or one packed input ``(N, L, 3*H*d)`` (q, k, v side by side, GPT-2's
    ``c_attn``). ``num_kv_heads`` < ``num_heads`` is grouped-query attention (1: multi-query);
    each key/value head serves ``H / H_kv`` query heads. No parameters. See the module docstring
    for the work rule (causal: computed vs needed).

    ``dropout``: the attention-probability dropout of training (``attn_pdrop``).
    ``implementation``: what backward keeps, ``"eager"`` (matmul, softmax, dropout, matmul:
    transformers' eager attention; the default) or ``"sdpa"`` (PyTorch's fused
    ``scaled_dot_product_attention`` kernels); see the module docstring. Counts of work do not
    depend on it.
    ``kv_cache``: the keys and values are kept in a KV cache until the forward returns
    (transformers' ``use_cache``): ``MemoryContract.retained_elements = 2*N*S*H_kv*d``; counts of work
    and parameters do not depend on it.
    """

    num_heads: int = 1
    num_kv_heads: int | None = None
    causal: bool = False
    sliding_window: int | None = None
    rotary: bool = False
    dropout: float = 0.0
    implementation: str = "eager"
    kv_cache: bool = False

    kind = "ScaledDotProductAttention"
    arity = None  # 3 inputs (q, k, v), or 1 packed (N, L, 3*H*d) as GPT-2's c_attn makes

    def __post_init__(self) -> None:
        _check_positive("attention", num_heads=self.num_heads, num_kv_heads=self.num_kv_heads,
                        sliding_window=self.sliding_window)
        kv = self.num_kv_heads or self.num_heads
        if self.num_heads % kv:
            raise NetsizeError(
                f"num_heads={self.num_heads} is not a multiple of num_kv_heads={kv}; "
                "each key/value head must serve a whole group of query heads"
            )
        if not 0 <= self.dropout < 1:
            raise NetsizeError(f"attention dropout must be in [0, 1) (got {self.dropout})")
        if self.implementation not in IMPLEMENTATIONS:
            raise NetsizeError(
                f"attention implementation {self.implementation!r} is not one of {', '.join(IMPLEMENTATIONS)}"
            )

    def analyze(self, inputs: tuple[Shape, ...], ctx: Context) -> Analysis:
        if len(inputs) == 1:
            n0, l0, f0 = _seq(inputs[0], "packed q, k, v")
            if f0 % 3 or (self.num_kv_heads or self.num_heads) != self.num_heads:
                raise NetsizeError(
                    f"a packed input holds q, k, v of equal size: its {f0} features must split in 3 "
                    "and num_kv_heads must equal num_heads"
                )
            q: Shape = (n0, l0, f0 // 3)
            k = v = q
        elif len(inputs) == 3:
            q, k, v = inputs
        else:
            raise NetsizeError(f"takes 3 inputs (q, k, v) or 1 packed, not {len(inputs)}")
        n, q_len, qf = _seq(q, "query")
        nk, k_len, kf = _seq(k, "key")
        nv, v_len, vf = _seq(v, "value")
        if not n == nk == nv:
            raise NetsizeError(f"query, key and value batch sizes differ ({n}, {nk}, {nv})")
        if k_len != v_len:
            raise NetsizeError(f"key and value lengths differ ({k_len} vs {v_len})")
        h, kvh = self.num_heads, self.num_kv_heads or self.num_heads
        for what, feats, heads in (("query", qf, h), ("key", kf, kvh), ("value", vf, kvh)):
            if feats % heads:
                raise NetsizeError(f"{what} features {feats} do not split into {heads} heads")
        d, dk, dv = qf // h, kf // kvh, vf // kvh
        if d != dk:
            raise NetsizeError(f"query head size {d} (= {qf}/{h}) differs from key head size {dk} (= {kf}/{kvh})")
        if self.causal and q_len > k_len:
            raise NetsizeError(f"causal attention needs query length {q_len} <= key length {k_len}")
        macs, ops, extra, scores = _core(n, q_len, k_len, h, kvh, d, dv, self.causal, self.sliding_window,
                                         self.rotary)
        shape_terms = (
            Term("d", d, "E_q/H", f"{qf}/{h}"),
            Term("O_F", h * dv, "H*d_v", prod_str(h, dv)),
        )
        if self.implementation == "eager":
            # q, k, v head copies (keys/values repeated to H heads), probabilities, dropped probabilities
            dropped = scores if self.dropout > 0 else 0
            saved_inputs: tuple[int, ...] | None = ()
            saved = n * h * (q_len * d + k_len * d + k_len * dv) + scores + dropped
            mask_bytes = dropped  # native_dropout's bool mask
            fp32 = scores  # softmax runs in float32 under autocast
        else:
            saved_inputs = None  # the fused kernel keeps q, k, v (views of the inputs)
            saved = n * h * q_len * dv + n * h * q_len  # its output and log-sum-exp
            mask_bytes = 0
            fp32 = n * h * q_len
        eager = self.implementation == "eager"
        extra.append(Term("saved_float32_elements", fp32, "N*H*L*S (softmax)" if eager else "N*H*L (log-sum-exp)",
                          prod_str(n, h, q_len, k_len) if eager else prod_str(n, h, q_len)))
        workspace = 2 * scores if eager else 0  # two N*H*L*S results alive at once (scores -> ... -> softmax)
        if workspace:
            extra.append(Term("workspace_elements", workspace, "2*N*H*L*S (two score tensors at once)",
                              prod_str(2, n, h, q_len, k_len)))
        retained = retained_saved = 0
        if self.kv_cache:
            retained = kv_cache_elements(n, k_len, kvh * d, kvh * dv)
            # eager's matmuls read (and save) the cached K and V themselves unless repeated to H heads
            retained_saved = retained if eager and kvh == h else 0
            extra.append(Term("kv_cache_elements", retained, "N*S*(H_kv*d + H_kv*d_v)",
                              f"{n}*{k_len}*({kvh}*{d} + {kvh}*{dv})"))
        return Analysis(
            outputs=((n, q_len, h * dv),),
            shape_terms=shape_terms,
            multiply_adds=macs,
            other_ops=_sum_ops(ops),
            memory=MemoryContract(
                saved_inputs=saved_inputs,
                saved_extra_elements=saved,
                saved_extra_bytes=mask_bytes,
                saved_float32_elements=fp32,
                workspace_elements=workspace,
                workspace_float32_elements=workspace,  # the C, D (mask add, softmax) moment: float32 under autocast
                retained_elements=retained,
                retained_saved_elements=retained_saved,
                attention=None if eager else AttentionCall(
                    n, h, kvh, q_len, k_len, d, dv, causal=self.causal, dropout=self.dropout,
                    has_mask=self.sliding_window is not None, enable_gqa=kvh != h,
                ),
            ),
            extra_terms=tuple(extra),
        )


@register_layer("multiheadattention", "mha", "multi_head_attention")
@record
class MultiheadAttention(Layer):
    """``torch.nn.MultiheadAttention`` (batch first): in-projections, attention, out-projection.

    One input (self-attention) or three (query, key, value). Parameters as PyTorch holds them:
    ``in_proj_weight 3*E*E`` when ``kdim = vdim = E`` (else ``q/k/v_proj_weight``
    ``E*E + E*kdim + E*vdim``), ``in_proj_bias 3*E`` and ``out_proj`` ``E*E + E`` with ``bias``;
    ``add_bias_kv`` adds ``bias_k``, ``bias_v`` (``E`` each) and one key position;
    ``add_zero_attn`` adds one zero key position. ``causal`` is ``is_causal`` at call time.
    ``need_weights`` is the call's flag (PyTorch's default ``True``: matmul, softmax, matmul,
    keeping the ``N*H*L*S`` probabilities); ``False`` (torchvision's ViT) runs
    ``scaled_dot_product_attention``, whose fused kernels keep the projected q, k, v
    ``N*(L + 2*S)*E``, their output ``N*L*E``, a float32 log-sum-exp ``N*H*L``; also kept: the
    in-projections' inputs (batch first: copies of the transposed inputs, ``N*L*E`` for
    self-attention; not the inputs themselves) and the output projection's input (heads merged:
    a view of flash's output, a copy ``N*L*E`` of the memory-efficient kernel's,
    ``AttentionCall.seq_first_output``).
    """

    embed_dim: int = required()
    num_heads: int = 1
    bias: bool = True
    add_bias_kv: bool = False
    add_zero_attn: bool = False
    kdim: int | None = None
    vdim: int | None = None
    causal: bool = False
    need_weights: bool = True

    kind = "MultiheadAttention"
    arity = None

    def __post_init__(self) -> None:
        _check_positive("MultiheadAttention", embed_dim=self.embed_dim, num_heads=self.num_heads,
                        kdim=self.kdim, vdim=self.vdim)
        if self.embed_dim % self.num_heads:
            raise NetsizeError(
                f"MultiheadAttention embed_dim={self.embed_dim} is not divisible by num_heads={self.num_heads}"
            )

    def analyze(self, inputs: tuple[Shape, ...], ctx: Context) -> Analysis:
        if len(inputs) not in (1, 3):
            raise NetsizeError(f"takes 1 input (self-attention) or 3 (query, key, value), not {len(inputs)}")
        q, k, v = (inputs[0],) * 3 if len(inputs) == 1 else inputs
        e, h = self.embed_dim, self.num_heads
        kd, vd = self.kdim or e, self.vdim or e
        n, q_len, qf = _seq(q, "query")
        _, k_len, kf = _seq(k, "key")
        _, v_len, vf = _seq(v, "value")
        for what, got, want, fix in (("query", qf, e, "embed_dim"), ("key", kf, kd, "kdim"), ("value", vf, vd, "vdim")):
            if got != want:
                raise NetsizeError(f"{what} has {got} features but {fix} is {want}; set {fix}={got}")
        if k_len != v_len:
            raise NetsizeError(f"key and value lengths differ ({k_len} vs {v_len})")
        d = e // h
        s_eff = k_len + int(self.add_bias_kv) + int(self.add_zero_attn)
        if kd == e and vd == e:
            weights = [Term("weights", 3 * e * e, "3*E*E (in_proj)", prod_str(3, e, e))]
        else:
            weights = [
                Term("weights", e * (e + kd + vd), "E*(E + kdim + vdim) (q/k/v_proj)", f"{e}*({e} + {kd} + {vd})")
            ]
        weights.append(Term("weights", e * e, "E*E (out_proj)", prod_str(e, e)))
        biases: list[Term] = []
        if self.bias:
            biases.append(Term("biases", 4 * e, "3*E + E (in_proj, out_proj)", f"3*{e} + {e}"))
        if self.add_bias_kv:
            biases.append(Term("biases", 2 * e, "2*E (bias_k, bias_v)", f"2*{e}"))
        proj = Term(
            "multiply_adds",
            n * (q_len * e * e + k_len * kd * e + v_len * vd * e + q_len * e * e),
            "N*(L*E*E + S*kdim*E + S*vdim*E + L*E*E) (projections)",
            f"{n}*({prod_str(q_len, e, e)} + {prod_str(k_len, kd, e)} + {prod_str(v_len, vd, e)} + "
            f"{prod_str(q_len, e, e)})",
        )
        core, ops, extra, scores = _core(n, q_len, s_eff, h, h, d, d, self.causal, None, False)
        if self.bias:
            ops.append(Term("other_ops", n * (2 * q_len + 2 * k_len) * e, "N*(2*L + 2*S)*E (bias adds)",
                            f"{n}*(2*{q_len} + 2*{k_len})*{e}"))
        memory = MemoryContract(saved_extra_elements=scores + 3 * n * max(q_len, s_eff) * e)
        if not self.need_weights:  # scaled_dot_product_attention: the fused kernels' saved set
            lse = n * h * q_len
            # batch first: the in-projections read transposed views, and the matmul copies them
            copies = n * q_len * e if len(inputs) == 1 else n * (q_len * e + k_len * kd + v_len * vd)
            memory = MemoryContract(
                saved_inputs=(),
                saved_extra_elements=copies + n * (q_len + 2 * s_eff) * e + n * q_len * e + lse,
                saved_float32_elements=lse,
                attention=AttentionCall(n, h, h, q_len, s_eff, d, d, causal=self.causal, seq_first_output=True),
            )
            extra.append(Term("saved_float32_elements", lse, "N*H*L (log-sum-exp)", prod_str(n, h, q_len)))
        shape_terms: tuple[Term, ...] = (Term("d", d, "E/H", f"{e}/{h}"),)
        if s_eff != k_len:
            shape_terms += (Term("S", s_eff, "S + add_bias_kv + add_zero_attn", f"{k_len} + {int(self.add_bias_kv)} + "
                                                                                   f"{int(self.add_zero_attn)}"),)
        return Analysis(
            outputs=((n, q_len, e),),
            shape_terms=shape_terms,
            weights=_sum_terms("weights", weights),
            biases=_sum_terms("biases", biases),
            multiply_adds=_sum_terms("multiply_adds", [proj, core]),
            other_ops=_sum_ops(ops),
            memory=memory,
            extra_terms=tuple(extra),
        )


@register_layer("groupedqueryattention", "gqa", "multi_query_attention", "mqa")
@record
class GroupedQueryAttention(Layer):
    """Attention with ``num_kv_heads`` key/value heads shared by groups of ``num_heads`` query
    heads (``num_kv_heads = num_heads``: multi-head; ``1``: multi-query), as in LLaMA/Mistral.

    Projections ``q (E -> H*d)``, ``k, v (E_kv -> H_kv*d)``, ``o (H*d -> E)``; ``head_dim``
    defaults to ``E/H``. ``bias`` puts biases on q, k, v (Qwen2), ``out_bias`` on o.
    One input (self-attention) or two (query stream, memory for cross-attention).
    """

    embed_dim: int = required()
    num_heads: int = 1
    num_kv_heads: int | None = None
    head_dim: int | None = None
    bias: bool = False
    out_bias: bool = False
    causal: bool = False
    rotary: bool = False
    sliding_window: int | None = None

    kind = "GroupedQueryAttention"
    arity = None

    def __post_init__(self) -> None:
        _check_positive("GroupedQueryAttention", embed_dim=self.embed_dim, num_heads=self.num_heads,
                        num_kv_heads=self.num_kv_heads, head_dim=self.head_dim)
        kv = self.num_kv_heads or self.num_heads
        if self.num_heads % kv:
            raise NetsizeError(f"num_heads={self.num_heads} is not a multiple of num_kv_heads={kv}")
        if self.head_dim is None and self.embed_dim % self.num_heads:
            raise NetsizeError(
                f"embed_dim={self.embed_dim} is not divisible by num_heads={self.num_heads}; set head_dim"
            )

    def analyze(self, inputs: tuple[Shape, ...], ctx: Context) -> Analysis:
        if len(inputs) not in (1, 2):
            raise NetsizeError(f"takes 1 input (self-attention) or 2 (query, memory), not {len(inputs)}")
        x = inputs[0]
        mem = inputs[-1]
        n, q_len, e = _seq(x, "query")
        nm, k_len, em = _seq(mem, "memory")
        if e != self.embed_dim:
            raise NetsizeError(f"query has {e} features but embed_dim is {self.embed_dim}; set embed_dim={e}")
        if nm != n:
            raise NetsizeError(f"query and memory batch sizes differ ({n} vs {nm})")
        h, kvh = self.num_heads, self.num_kv_heads or self.num_heads
        d = self.head_dim or e // h
        weights = Term(
            "weights",
            e * h * d + 2 * em * kvh * d + h * d * e,
            "E*H*d (q) + 2*E_kv*H_kv*d (k, v) + H*d*E (o)",
            f"{prod_str(e, h, d)} + 2*{prod_str(em, kvh, d)} + {prod_str(h, d, e)}",
        )
        bias_parts = []
        if self.bias:
            bias_parts.append(Term("biases", h * d + 2 * kvh * d, "H*d + 2*H_kv*d (q, k, v)",
                                   f"{h}*{d} + 2*{kvh}*{d}"))
        if self.out_bias:
            bias_parts.append(Term("biases", e, "E (o)", str(e)))
        proj = Term(
            "multiply_adds",
            n * (q_len * e * h * d + 2 * k_len * em * kvh * d + q_len * h * d * e),
            "N*(L*E*H*d + 2*S*E_kv*H_kv*d + L*H*d*E) (projections)",
            f"{n}*({prod_str(q_len, e, h, d)} + 2*{prod_str(k_len, em, kvh, d)} + {prod_str(q_len, h, d, e)})",
        )
        core, ops, extra, scores = _core(n, q_len, k_len, h, kvh, d, d, self.causal, self.sliding_window,
                                         self.rotary)
        if self.bias:
            ops.append(Term("other_ops", n * (q_len * h * d + 2 * k_len * kvh * d),
                            "N*(L*H*d + 2*S*H_kv*d) (bias adds)",
                            f"{n}*({prod_str(q_len, h, d)} + 2*{prod_str(k_len, kvh, d)})"))
        if self.out_bias:
            ops.append(Term("other_ops", n * q_len * e, "N*L*E (bias adds)", prod_str(n, q_len, e)))
        extra.append(
            Term("kv_cache_elements", kv_cache_elements(n, k_len, kvh * d, kvh * d), "2*N*S*H_kv*d",
                 prod_str(2, n, k_len, kvh, d))
        )
        return Analysis(
            outputs=((n, q_len, e),),
            shape_terms=(
                Term("d", d, "head_dim" if self.head_dim else "E/H", str(d) if self.head_dim else f"{e}/{h}"),
            ),
            weights=weights,
            biases=_sum_terms("biases", bias_parts),
            multiply_adds=_sum_terms("multiply_adds", [proj, core]),
            other_ops=_sum_ops(ops),
            memory=MemoryContract(
                saved_extra_elements=scores + n * (q_len * h * d + 2 * k_len * kvh * d + q_len * h * d),
            ),
            extra_terms=tuple(extra),
        )
