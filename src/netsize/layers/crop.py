"""Center crop: cut the spatial grid down to a given size, or to the size of another map.

U-Net's skip connections crop the encoder's map to the decoder's before concatenating them
(``copy and crop`` in the paper): ``CenterCrop()`` with two inputs does that.
"""

from __future__ import annotations

from netsize._errors import NetsizeError
from netsize._i18n import register_messages
from netsize._layer import Analysis, Context, Layer, MemoryContract, Window
from netsize._record import record
from netsize._registry import register_layer
from netsize._shape import Shape, join_channels, shape_str, split_channels
from netsize._term import Term, message

__all__ = ["CenterCrop"]

_AXES = {1: ("L",), 2: ("H", "W"), 3: ("D", "H", "W")}

register_messages(
    {
        "note.crop_split": {
            "en": "{removed} removed: {before} before, {after} after",
            "zh": "裁去 {removed}：前 {before}，后 {after}",
        },
    }
)


@register_layer("center_crop", "crop", "crop_to_match")
@record
class CenterCrop(Layer):
    """Keep the central ``size`` of each spatial axis of input 0.

    With one input, ``size`` (an int for every axis, or one int per axis) is the target. With
    two inputs and no ``size``, input 0 is cropped to input 1's spatial size (channels and
    batch are input 0's). The crop removes ``floor((I - O) / 2)`` before and the rest after.

    No parameters and no arithmetic: ``other_ops`` is 0 (a crop is a strided view in PyTorch,
    so nothing is saved for backward either).
    """

    size: int | tuple[int, ...] | None = None

    kind = "CenterCrop"
    arity = None  # 1 (crop to size) or 2 (crop to match input 1)

    def __post_init__(self) -> None:
        sizes = (self.size,) if isinstance(self.size, int) else (self.size or ())
        if any((not isinstance(s, int)) or s <= 0 for s in sizes):
            raise NetsizeError(f"CenterCrop size must be positive integers (got {self.size!r})")

    def analyze(self, inputs: tuple[Shape, ...], ctx: Context) -> Analysis:
        if len(inputs) > 2:
            raise NetsizeError(f"takes 1 input (with size) or 2 (crop to match), but is given {len(inputs)}")
        x = inputs[0]
        rank = len(x) - 2
        if rank not in _AXES:
            raise NetsizeError(f"needs an input with 1-3 spatial axes (N, C, ...), but receives {shape_str(x)}")
        batch, channels, spatial = split_channels(x, ctx.layout, rank, self.kind)
        target, source = self._target(inputs, rank, ctx)
        terms: list[Term] = []
        extra: list[Term] = []
        windows: list[Window] = []
        for axis, size_in, size_out in zip(_AXES[rank], spatial, target, strict=True):
            if size_out > size_in:
                raise NetsizeError(
                    f"cannot crop axis {axis} of size {size_in} to {size_out}: the target is larger than "
                    "the input. Crop the larger map, or pad the smaller one instead"
                )
            removed = size_in - size_out
            before = removed // 2
            terms.append(Term(f"O_{axis}", size_out, source, str(size_out)))
            note = message("note.crop_split", removed=removed, before=before, after=removed - before)
            extra.append(Term(f"crop_{axis}", removed, f"I_{axis} - O_{axis}", f"{size_in} - {size_out}", (note,)))
            windows.append(Window(kernel=1, stride=1, padding=-before))
        out = join_channels(batch, channels, tuple(target), ctx.layout)
        return Analysis(
            outputs=(out,),
            shape_terms=tuple(terms),
            memory=MemoryContract(saved_inputs=()),
            windows=tuple(windows),
            extra_terms=tuple(extra),
        )

    def _target(self, inputs: tuple[Shape, ...], rank: int, ctx: Context) -> tuple[tuple[int, ...], str]:
        if len(inputs) == 2:
            if self.size is not None:
                raise NetsizeError("give either size or a second input to crop to, not both")
            ref = inputs[1]
            if len(ref) != len(inputs[0]):
                raise NetsizeError(
                    f"crops to match input 1, which must have the same rank: {shape_str(inputs[0])} vs {shape_str(ref)}"
                )
            _, _, spatial = split_channels(ref, ctx.layout, rank, self.kind)
            return tuple(spatial), "size of input 1"
        if self.size is None:
            raise NetsizeError("needs a size, or a second input whose spatial size to crop to")
        if isinstance(self.size, int):
            return (self.size,) * rank, "size"
        if len(self.size) != rank:
            raise NetsizeError(
                f"size {list(self.size)} has {len(self.size)} axes but the input has {rank} spatial axes"
            )
        return tuple(self.size), "size"
