"""DistilBERT, ALBERT, ELECTRA and DeBERTa-v2, built natively from config fields.

Builders follow the rules in :mod:`._families`."""

from __future__ import annotations

from netsize.frontends.hf_config._families import Family

FAMILIES: tuple[Family, ...] = ()
