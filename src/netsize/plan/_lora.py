"""LoRA adapters as peft adds them: which layers a config targets and how many parameters it trains.

peft's rules (``peft.tuners.tuners_utils.check_target_module_exists``): a list of names matches a
module whose full name equals a name or ends with ``"." + name``; a single string is a regular
expression that must match the whole name; ``"all-linear"`` is every linear layer but the output
layer. A targeted ``Linear(K -> N)`` gains ``A`` (``r x K``) and ``B`` (``N x r``): ``r*(K + N)``
trainable parameters; an ``Embedding(V, D)`` gains ``r*(V + D)``. ``bias="all"`` also trains every
bias of the model, ``"lora_only"`` the biases of the targeted layers. ``modules_to_save`` layers
are copied and the copy is trained in full (peft keeps the frozen original too).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from netsize._errors import NetsizeError
from netsize._summary import LayerRecord, Summary
from netsize._term import Term

BIAS_SETTINGS = ("none", "all", "lora_only")


@dataclass(frozen=True)
class LoRA:
    """A LoRA setup: rank ``r``, ``alpha``, ``dropout`` (peft's ``lora_dropout``), ``targets``
    (names, a regex string, or ``"all-linear"``; None: peft's default for the model's
    architecture, :mod:`netsize.plan._peft_targets`).

    >>> LoRA(r=16, targets=("q_proj", "v_proj")).r
    16
    """

    r: int = 16
    alpha: int = 32
    targets: tuple[str, ...] | str | None = None
    bias: str = "none"
    modules_to_save: tuple[str, ...] = field(default=())
    dropout: float = 0.0  # peft's lora_dropout (its default 0)

    def __post_init__(self) -> None:
        if not isinstance(self.r, int) or self.r <= 0:
            raise NetsizeError(f"LoRA rank r must be a positive integer (got {self.r!r})")
        if not isinstance(self.dropout, (int, float)) or not 0 <= self.dropout < 1:
            raise NetsizeError(f"LoRA dropout must be in [0, 1) (got {self.dropout!r})")
        if self.bias not in BIAS_SETTINGS:
            raise NetsizeError(f"LoRA bias must be one of {', '.join(BIAS_SETTINGS)} (got {self.bias!r})")
        if isinstance(self.targets, str) and self.targets != "all-linear":
            try:
                re.compile(self.targets)
            except re.error as e:
                raise NetsizeError(f"LoRA targets {self.targets!r} is not a valid regular expression: {e}") from None


@dataclass(frozen=True)
class LoRACount:
    """What a LoRA setup adds to and trains in a model."""

    targeted: tuple[str, ...]
    adapter_params: int
    trainable_bias_params: int
    saved_module_params: int
    terms: tuple[Term, ...]

    @property
    def trainable_params(self) -> int:
        return self.adapter_params + self.trainable_bias_params + self.saved_module_params


def matches(name: str, targets: Sequence[str] | str) -> bool:
    """Whether peft's rule picks the module ``name`` for ``targets`` (names or a regex)."""
    if isinstance(targets, str):
        return re.fullmatch(targets, name) is not None
    return any(name == t or name.endswith("." + t) for t in targets)


def output_layer(summary: Summary) -> str | None:
    """The last linear layer (the LM or classifier head): what peft's ``all-linear`` leaves out and
    what quantisers keep in the compute dtype."""
    linears = [r.name for r in summary.layers if r.kind == "Linear"]
    return linears[-1] if linears else None


def lora_count(summary: Summary, lora: LoRA) -> LoRACount:
    """LoRA's adapters and trainable parameters on an analysed model.

    Raises when no layer matches the targets, naming the linear layers it could have matched.
    """
    if lora.targets is None:
        raise NetsizeError("LoRA targets not given and the model's architecture has no peft default: "
                           "name them (e.g. --lora targets=q_proj,v_proj or targets=all-linear)")
    targeted: list[LayerRecord] = []
    skip = output_layer(summary) if lora.targets == "all-linear" else None
    for rec in summary.layers:
        if rec.kind not in ("Linear", "Embedding"):
            continue
        if lora.targets == "all-linear":
            if rec.kind == "Linear" and rec.name != skip:
                targeted.append(rec)
        elif matches(rec.name, lora.targets):
            targeted.append(rec)
    if not targeted:
        names = sorted({r.name.rsplit(".", 1)[-1] for r in summary.layers if r.kind == "Linear"})
        raise NetsizeError(
            f"LoRA targets {lora.targets!r} match no linear or embedding layer; this model's linear layers "
            f"end in: {', '.join(names[:20])}"
        )
    r = lora.r
    adapter = 0
    parts: list[str] = []
    for rec in targeted:
        k, n = rec.input_shapes[0][-1], rec.output_shape[-1]
        if rec.kind == "Embedding":
            analysis = rec.analysis
            k = getattr(analysis, "num_embeddings", None) or rec.weights // n
        adapter += r * (k + n)
        if len(parts) < 3:
            parts.append(f"{r}*({k} + {n})")
    sub = " + ".join(parts) + (f" + ... ({len(targeted)} layers)" if len(targeted) > 3 else "")
    terms = [Term("lora_adapter_params", adapter, "sum over targeted layers of r*(K + N)", sub)]
    bias = 0
    if lora.bias == "all":
        bias = sum(rec.biases for rec in summary.layers if rec.trainable_params or rec.params)
        terms.append(Term("lora_bias_params", bias, "every bias of the model"))
    elif lora.bias == "lora_only":
        bias = sum(rec.biases for rec in targeted)
        terms.append(Term("lora_bias_params", bias, "biases of the targeted layers"))
    saved = 0
    if lora.modules_to_save:
        saved_recs = [rec for rec in summary.layers if matches(rec.name, lora.modules_to_save)]
        if not saved_recs:
            raise NetsizeError(f"modules_to_save {list(lora.modules_to_save)} match no layer of this model")
        saved = sum(rec.params for rec in saved_recs)
        terms.append(Term("lora_saved_module_params", saved, "params of the modules_to_save copies"))
    return LoRACount(tuple(rec.name for rec in targeted), adapter, bias, saved, tuple(terms))
