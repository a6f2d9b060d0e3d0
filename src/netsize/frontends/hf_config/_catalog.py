"""Every family netsize builds natively, by ``model_type``. Each family module owns its
families; this is the one place that gathers them."""

from __future__ import annotations

from netsize.frontends.hf_config import _classic_decoders, _encoders, _mamba, _seq2seq, _vision
from netsize.frontends.hf_config._families import CORE_FAMILIES, Family

FAMILIES: dict[str, Family] = {
    f.model_type: f
    for f in (
        *CORE_FAMILIES,
        *_classic_decoders.FAMILIES,
        *_encoders.FAMILIES,
        *_seq2seq.FAMILIES,
        *_vision.FAMILIES,
        *_mamba.FAMILIES,
    )
}
