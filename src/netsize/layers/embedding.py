"""Token and position embeddings: lookup tables, learned and sinusoidal positions, T5's
relative position bias.

A lookup is not arithmetic: embeddings have no multiply-adds and no other ops (adding a
sinusoidal encoding costs one add per element). Autograd keeps the int64 indices of a lookup
(8 bytes each), not the table. Rotary positions have no parameters and live inside attention
(``rotary=True`` on the attention layers).
"""

from __future__ import annotations

from netsize._errors import NetsizeError
from netsize._layer import Analysis, Context, Layer, MemoryContract, required
from netsize._record import record
from netsize._registry import register_layer
from netsize._shape import Shape, elements, shape_str
from netsize._term import Term, prod_str

__all__ = ["Embedding", "PositionalEmbedding", "RelativePositionBias", "SinusoidalPositionalEncoding"]

_INDEX_BYTES = 8  # torch.long indices saved for the backward pass of a lookup


@register_layer("embedding")
@record
class Embedding(Layer):
    """``torch.nn.Embedding``: integer ids ``(N, *)`` -> vectors ``(N, *, D)``.

    Weights ``V*D`` (``padding_idx`` is a row like the others: it is still a parameter).
    """

    num_embeddings: int = required()
    embedding_dim: int = required()
    padding_idx: int | None = None

    kind = "Embedding"

    def __post_init__(self) -> None:
        if self.num_embeddings <= 0 or self.embedding_dim <= 0:
            raise NetsizeError(
                f"Embedding sizes must be positive (num_embeddings={self.num_embeddings}, "
                f"embedding_dim={self.embedding_dim})"
            )
        if self.padding_idx is not None and not -self.num_embeddings <= self.padding_idx < self.num_embeddings:
            raise NetsizeError(f"padding_idx={self.padding_idx} is outside 0..{self.num_embeddings - 1}")

    def analyze(self, inputs: tuple[Shape, ...], ctx: Context) -> Analysis:
        (x,) = inputs
        v, d = self.num_embeddings, self.embedding_dim
        return Analysis(
            outputs=((*x, d),),
            shape_terms=(Term("O_D", d, "D", str(d)),),
            weights=Term("weights", v * d, "V*D", prod_str(v, d)),
            memory=MemoryContract(saved_inputs=(), saved_extra_bytes=_INDEX_BYTES * elements(x)),
        )


@register_layer("positional_embedding", "learned_positional_embedding", "position_embedding")
@record
class PositionalEmbedding(Layer):
    """Learned absolute positions (GPT-2 ``wpe``, BERT ``position_embeddings``): a table of
    ``num_embeddings`` positions looked up at ``0 .. S-1`` for an input ``(N, S, ...)``.

    Output ``(N, S, D)``; weights ``P*D``. A sequence longer than the table is an error.
    """

    num_embeddings: int = required()
    embedding_dim: int = required()

    kind = "PositionalEmbedding"

    def __post_init__(self) -> None:
        if self.num_embeddings <= 0 or self.embedding_dim <= 0:
            raise NetsizeError(
                f"PositionalEmbedding sizes must be positive (num_embeddings={self.num_embeddings}, "
                f"embedding_dim={self.embedding_dim})"
            )

    def analyze(self, inputs: tuple[Shape, ...], ctx: Context) -> Analysis:
        (x,) = inputs
        if len(x) < 2:
            raise NetsizeError(f"needs an input (N, S, ...) with a sequence axis, got {shape_str(x)}")
        n, s = x[0], x[1]
        p, d = self.num_embeddings, self.embedding_dim
        if s > p:
            raise NetsizeError(
                f"sequence length {s} exceeds the {p} learned positions; use a sequence of at most {p}"
            )
        return Analysis(
            outputs=((n, s, d),),
            shape_terms=(Term("O_D", d, "D", str(d)),),
            weights=Term("weights", p * d, "P*D", prod_str(p, d)),
            memory=MemoryContract(saved_inputs=(), saved_extra_bytes=_INDEX_BYTES * n * s),
        )


@register_layer("sinusoidal_positional_encoding", "sinusoidal_positions", "positional_encoding")
@record
class SinusoidalPositionalEncoding(Layer):
    """Fixed sine/cosine positions added to ``(N, S, D)`` ("Attention Is All You Need").

    No parameters. ``max_len`` (optional) is the length of a precomputed table kept as a buffer
    (``max_len*D``, as the PyTorch tutorial's ``register_buffer('pe', ...)``); a longer input is
    an error. Other ops: one add per element.
    """

    embedding_dim: int = required()
    max_len: int | None = None

    kind = "SinusoidalPositionalEncoding"
    preserves_spatial = True

    def __post_init__(self) -> None:
        if self.embedding_dim <= 0 or (self.max_len is not None and self.max_len <= 0):
            raise NetsizeError(
                f"SinusoidalPositionalEncoding sizes must be positive (embedding_dim={self.embedding_dim}, "
                f"max_len={self.max_len})"
            )

    def analyze(self, inputs: tuple[Shape, ...], ctx: Context) -> Analysis:
        (x,) = inputs
        if len(x) != 3 or x[2] != self.embedding_dim:
            raise NetsizeError(f"needs an input (N, S, {self.embedding_dim}), got {shape_str(x)}")
        if self.max_len is not None and x[1] > self.max_len:
            raise NetsizeError(f"sequence length {x[1]} exceeds max_len={self.max_len}; raise max_len")
        buffers = None
        if self.max_len is not None:
            buffers = Term("buffers", self.max_len * x[2], "max_len*D", prod_str(self.max_len, x[2]))
        return Analysis(
            outputs=(x,),
            buffers=buffers,
            other_ops=Term("other_ops", elements(x), "N*S*D (adds)", prod_str(*x)),
            memory=MemoryContract(saved_inputs=()),
        )


@register_layer("relative_position_bias", "t5_relative_position_bias")
@record
class RelativePositionBias(Layer):
    """T5's bucketed relative position bias: a ``num_buckets x H`` table looked up for every
    query-key offset, giving a ``(1, H, L, S)`` bias added to the attention scores.

    One input (self-attention, ``S = L``) or two (query stream, key stream).
    Weights ``B*H``; no multiply-adds.
    """

    num_buckets: int = 32
    num_heads: int = 1
    bidirectional: bool = True
    max_distance: int = 128

    kind = "RelativePositionBias"
    arity = None

    def __post_init__(self) -> None:
        if self.num_buckets <= 0 or self.num_heads <= 0:
            raise NetsizeError(
                f"RelativePositionBias sizes must be positive (num_buckets={self.num_buckets}, "
                f"num_heads={self.num_heads})"
            )

    def analyze(self, inputs: tuple[Shape, ...], ctx: Context) -> Analysis:
        if len(inputs) not in (1, 2):
            raise NetsizeError(f"takes 1 or 2 inputs, not {len(inputs)}")
        q_len, k_len = inputs[0][1], inputs[-1][1]
        b, h = self.num_buckets, self.num_heads
        return Analysis(
            outputs=((1, h, q_len, k_len),),
            weights=Term("weights", b * h, "B*H", prod_str(b, h)),
            memory=MemoryContract(saved_inputs=(), saved_extra_bytes=_INDEX_BYTES * q_len * k_len),
        )
