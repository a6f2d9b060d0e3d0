"""Writes every keras.applications model's config and Keras' own counts, for
tests/frontends/test_keras_applications.py (run as a script, in a subprocess of the test).

``python keras_applications.py OUT NAME...``: for each NAME, ``keras.applications.NAME(weights=None)``
on the torch backend, built on torch's meta device (shapes without memory: 350M parameters
would take 1.4 GB), writes ``OUT/NAME.json`` (``model.to_json()``) and ``OUT/NAME.ref.json``
(count_params, the trainable and non-trainable counts, every layer's output shapes and
count_params), or ``OUT/NAME.refused.json`` with Keras' own error when Keras cannot build it on
this backend. A model whose input has None axes is built a second time at 224x224 (its
``sized`` reference). ``--save`` builds on the CPU and also writes ``OUT/NAME.keras``.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any


def _size(w: Any) -> int:
    n = 1
    for d in w.shape:
        n *= int(d)
    return n


def _reference(model: Any) -> dict[str, Any]:
    def shapes(layer: Any) -> list[list[int | None]]:
        out = layer.output
        outs = out if isinstance(out, list | tuple) else [out]
        return [[None if d is None else int(d) for d in o.shape] for o in outs]

    return {
        "params": int(model.count_params()),
        "trainable": sum(_size(w) for w in model.trainable_weights),
        "non_trainable": sum(_size(w) for w in model.non_trainable_weights),
        "layers": [{"name": layer.name, "class": type(layer).__name__, "shapes": shapes(layer),
                    "params": int(layer.count_params())} for layer in model.layers],
    }


def main(argv: list[str]) -> None:
    save = "--save" in argv
    args = [a for a in argv if a != "--save"]
    os.environ["KERAS_BACKEND"] = "torch"
    if not save:
        os.environ["KERAS_TORCH_DEVICE"] = "meta"
    import keras

    out = Path(args[0])
    for name in args[1:]:
        build = getattr(keras.applications, name)
        keras.backend.clear_session()  # layer names start afresh, as in a user's own session
        try:
            model = build(weights=None)
        except ValueError as err:  # Keras' own refusal (NASNetMobile on torch)
            (out / f"{name}.refused.json").write_text(json.dumps({"error": str(err)}))
            continue
        ref = _reference(model)
        if any(d is None for d in model.inputs[0].shape[1:]):
            keras.backend.clear_session()  # the same layer names again
            ref["sized"] = _reference(build(weights=None, input_shape=(224, 224, 3)))
        (out / f"{name}.json").write_text(model.to_json())
        if save:
            model.save(out / f"{name}.keras")
        (out / f"{name}.ref.json").write_text(json.dumps(ref))
        print(name, flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
