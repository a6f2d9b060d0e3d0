"""Keras models -> netsize, read from their JSON config without importing keras or tensorflow.

Sources: a ``.keras`` file (a zip holding ``config.json``), a folder holding ``config.json``, a
file written from ``model.to_json()``, or the parsed dict. Sequential and Functional models,
nested models (inlined under their name), shared layers (each further call is tied to the
first: counted once). Channels-last layout and the Keras convention (BatchNormalization: its
moving mean and variance are 2 non-trainable params per channel; one GRU bias set unless
``reset_after``). ``input_size`` fills the ``None`` axes of an ``Input`` (a fully convolutional
``keras.Input((None, None, 3))``).

A Keras layer that is several core ops (SeparableConv2D, MultiHeadAttention, an LSTM with
``return_sequences=False``, a Dense with an activation) becomes a block ``name.*``;
``summary.rows(depth=1)`` has one row per Keras layer, as ``model.summary()``.

The package face: the reader (bounded against hostile zips) is ``_read``, the translation
``_graph``.

>>> cfg = {"class_name": "Sequential", "config": {"name": "s", "layers": [
...     {"class_name": "InputLayer", "config": {"batch_shape": [None, 8]}},
...     {"class_name": "Dense", "config": {"name": "fc", "units": 4, "activation": "relu"}}]}}
>>> s = summary(cfg)
>>> s.totals.params, [(r.name, r.output_shape) for r in s.rows(depth=1)]
(36, [('fc', (1, 4))])
"""

from __future__ import annotations

from netsize.frontends.keras._graph import InputSize, KerasModel, network_from_keras, summary
from netsize.frontends.keras._read import MAX_ZIP_MEMBERS, load_config

__all__ = ["MAX_ZIP_MEMBERS", "InputSize", "KerasModel", "load_config", "network_from_keras", "summary"]
