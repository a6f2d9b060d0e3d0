"""The spec format: describe a network in YAML, without any framework (see docs/spec.md).

>>> from netsize.spec import load_spec
>>> net = load_spec("name: tiny\\ninput: [8]\\nlayers:\\n  - fc: {type: linear, out_features: 4}\\n")
>>> net.nodes[0].name, net.nodes[0].layer.out_features
('fc', 4)
"""

from __future__ import annotations

from netsize.spec._fields import describe, layer_fields
from netsize.spec._loader import Spec, load_spec, read_spec
from netsize.spec._nodes import Issue, SpecError, parse_value

__all__ = ["Issue", "Spec", "SpecError", "describe", "layer_fields", "load_spec", "parse_value", "read_spec"]
