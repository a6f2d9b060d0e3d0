"""DeBERTa's disentangled self-attention core: content-to-content scores plus content-to-position
(``c2p``) and position-to-content (``p2c``) scores against a table of relative positions.

Work rule, as transformers' ``DisentangledSelfAttention`` runs it (eager ``torch.bmm`` calls,
which is what ``FlopCounterMode`` counts), with ``N`` batch, ``H`` heads, ``L`` queries, ``S``
keys, ``d`` head size, ``P`` rows of the relative-position table (``2 * att_span``):

- ``multiply_adds``: ``QK^T = N*H*L*S*d`` and ``AV = N*H*L*S*d_v``; ``c2p`` multiplies every
  query with every position key, ``N*H*L*P*d``, then *gathers* the ``L x S`` entries its
  relative positions pick; ``p2c`` multiplies every key with every position query,
  ``N*H*S*P*d``, then gathers. The products run over all ``P`` table rows whatever ``S``: with
  ``P > S`` (DeBERTa-v3: ``P = 512``) most of them are thrown away by the gather, and that is
  what the kernel does. Gathers are lookups (no arithmetic, uncounted by ``FlopCounterMode``).
  The projections of the table (``pos_key_proj``, ``pos_query_proj`` or the shared
  ``key_proj``/``query_proj``) are separate :class:`~netsize.layers.linear.Linear` layers.
- ``other_ops``: the key scaling ``k / sqrt(d * scale_factor)`` (``N*H*S*d``), per score: for
  each of ``c2p``/``p2c`` a division and an add (2), adding the relative bias to the scores (1,
  when there is one), the mask fill (1) and softmax (5).
- Saved for backward (eager; equal to what autograd keeps, a test checks it with
  ``saved_tensors_hooks``): the query heads, the scaled keys, the value heads, the key heads
  again with ``p2c``, the repeated position keys/queries (``N*H*P*d`` each), the un-gathered
  products (``N*H*L*P`` for ``c2p``, ``N*H*S*P`` for ``p2c``: ``gather`` keeps its input), the
  softmax probabilities ``N*H*L*S`` (and the dropped ones with their mask when ``dropout > 0``),
  the scalar scales; in bytes the int64 gather indices (``L*S`` each, shared by the batch) and
  the mask fill's bool mask (``N*L*S``).
- Working memory: two ``N*H*L*S`` score tensors at once plus the widest un-gathered product
  (``N*H*max(L, S)*P``).
"""

from __future__ import annotations

from netsize._errors import NetsizeError
from netsize._layer import Analysis, Context, Layer, MemoryContract
from netsize._record import record
from netsize._registry import register_layer
from netsize._shape import Shape, shape_str
from netsize._term import Term, prod_str

__all__ = ["DisentangledSelfAttention"]

_INDEX_BYTES = 8  # int64 gather indices


def _seq(x: Shape, what: str) -> tuple[int, int, int]:
    if len(x) != 3:
        raise NetsizeError(f"{what} must be 3-d (N, sequence, features) but is {shape_str(x)}")
    return x[0], x[1], x[2]


@register_layer("disentangled_self_attention", "disentangled_attention", "deberta_attention")
@record
class DisentangledSelfAttention(Layer):
    """DeBERTa's attention core from projected inputs: ``q (N, L, H*d)``, ``k (N, S, H*d)``,
    ``v (N, S, H*d_v)``, then the projected relative-position table ``(1, P, H*d)`` once as
    position keys when ``c2p`` and once as position queries when ``p2c`` (in that order).
    Output ``(N, L, H*d_v)``. No parameters. See the module docstring for the work rule.

    >>> from netsize import analyze_layer
    >>> core = DisentangledSelfAttention(num_heads=2, c2p=True, p2c=True)
    >>> q = (1, 4, 8)
    >>> analyze_layer("a", core, (q, q, q, (1, 6, 8), (1, 6, 8))).multiply_adds  # 256 + c2p 192 + p2c 192
    640
    """

    num_heads: int = 1
    c2p: bool = False
    p2c: bool = False
    dropout: float = 0.0

    kind = "DisentangledSelfAttention"
    arity = None

    def __post_init__(self) -> None:
        if self.num_heads <= 0:
            raise NetsizeError(f"attention num_heads must be positive (got {self.num_heads})")
        if not 0 <= self.dropout < 1:
            raise NetsizeError(f"attention dropout must be in [0, 1) (got {self.dropout})")

    def analyze(self, inputs: tuple[Shape, ...], ctx: Context) -> Analysis:
        want = 3 + self.c2p + self.p2c
        if len(inputs) != want:
            raise NetsizeError(f"takes {want} inputs (q, k, v{', position keys' if self.c2p else ''}"
                               f"{', position queries' if self.p2c else ''}), not {len(inputs)}")
        n, q_len, qf = _seq(inputs[0], "query")
        nk, k_len, kf = _seq(inputs[1], "key")
        nv, v_len, vf = _seq(inputs[2], "value")
        if not n == nk == nv:
            raise NetsizeError(f"query, key and value batch sizes differ ({n}, {nk}, {nv})")
        if k_len != v_len:
            raise NetsizeError(f"key and value lengths differ ({k_len} vs {v_len})")
        h = self.num_heads
        for what, feats in (("query", qf), ("key", kf), ("value", vf)):
            if feats % h:
                raise NetsizeError(f"{what} features {feats} do not split into {h} heads")
        d, dv = qf // h, vf // h
        if kf != qf:
            raise NetsizeError(f"query features {qf} differ from key features {kf}")
        rows = 0
        for x in inputs[3:]:
            one, rows_x, feats = _seq(x, "relative positions")
            if one != 1 or feats != qf or (rows and rows_x != rows):
                raise NetsizeError(f"relative positions must be (1, P, {qf}) for every table input, got {shape_str(x)}")
            rows = rows_x
        p = rows
        scores = n * h * q_len * k_len
        macs = [Term("multiply_adds", scores * (d + dv), "N*H*L*S*d (QK^T) + N*H*L*S*d_v (AV)",
                     f"{prod_str(n, h, q_len, k_len, d)} + {prod_str(n, h, q_len, k_len, dv)}")]
        if self.c2p:
            macs.append(Term("multiply_adds", n * h * q_len * p * d, "N*H*L*P*d (c2p)", prod_str(n, h, q_len, p, d)))
        if self.p2c:
            macs.append(Term("multiply_adds", n * h * k_len * p * d, "N*H*S*P*d (p2c)", prod_str(n, h, k_len, p, d)))
        relative = self.c2p + self.p2c
        per_score = 2 * relative + (1 if relative else 0) + 1 + 5
        ops_value = n * h * k_len * d + per_score * scores
        rule = f"N*H*S*d (key scaling) + {per_score}*N*H*L*S (relative terms, mask, softmax)"
        sub = f"{prod_str(n, h, k_len, d)} + {per_score}*{prod_str(n, h, q_len, k_len)}"
        ops = Term("other_ops", ops_value, rule, sub)
        dropped = scores if self.dropout > 0 else 0
        # q heads, scaled k^T, v heads (+ the k heads p2c multiplies), the repeated position keys and
        # queries, the un-gathered c2p/p2c products (gather keeps its input), the probabilities, and
        # the scalar scales (one for the keys, one per relative term)
        ungathered = n * h * p * ((q_len if self.c2p else 0) + (k_len if self.p2c else 0))
        heads_saved = n * h * (q_len * d + k_len * d + (k_len * d if self.p2c else 0) + k_len * dv)
        saved = heads_saved + relative * n * h * p * d + ungathered + scores + dropped + 1 + relative
        widest = max(q_len if self.c2p else 0, k_len if self.p2c else 0)
        workspace = 2 * scores + n * h * widest * p
        extra = (
            Term("saved_float32_elements", scores, "N*H*L*S (softmax)", prod_str(n, h, q_len, k_len)),
            Term("workspace_elements", workspace, "2*N*H*L*S + N*H*max(L, S)*P (un-gathered product)",
                 f"2*{prod_str(n, h, q_len, k_len)} + {prod_str(n, h, widest, p)}"),
        )
        return Analysis(
            outputs=((n, q_len, h * dv),),
            shape_terms=(Term("d", d, "E_q/H", f"{qf}/{h}"), Term("O_F", h * dv, "H*d_v", prod_str(h, dv))),
            multiply_adds=_total(macs),
            other_ops=ops,
            memory=MemoryContract(
                saved_inputs=(),
                saved_extra_elements=saved,
                # dropout's mask, the gather indices (shared by the batch), masked_fill's bool mask
                saved_extra_bytes=dropped + relative * _INDEX_BYTES * q_len * k_len + n * q_len * k_len,
                saved_float32_elements=scores,
                workspace_elements=workspace,
                workspace_float32_elements=2 * scores,
            ),
            extra_terms=extra,
        )


def _total(parts: list[Term]) -> Term:
    if len(parts) == 1:
        return parts[0]
    return Term("multiply_adds", sum(t.value for t in parts), " + ".join(t.symbolic for t in parts),
                " + ".join(t.substituted or str(t.value) for t in parts))
