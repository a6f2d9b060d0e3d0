"""The Keras frontend against Keras 3 itself (PyTorch backend, no TensorFlow).

Each model is built with keras, written with ``model.save("m.keras")`` and ``model.to_json()``;
netsize reads both without keras and must give ``count_params()``, the trainable and
non-trainable counts, and every layer's output shape (batch 1 for Keras' None).
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras")

from keras import layers  # noqa: E402

from netsize import NetsizeError  # noqa: E402
from netsize.frontends.keras import summary  # noqa: E402


def _count(weights) -> int:
    return sum(int(w.numpy().size) if hasattr(w, "numpy") else int(w.shape.num_elements()) for w in weights)


def _size(w) -> int:
    n = 1
    for d in w.shape:
        n *= int(d)
    return n


def keras_example():
    return keras.Sequential(
        [keras.Input((224, 224, 3)), layers.Conv2D(16, (2, 2)), layers.MaxPooling2D((2, 2)), layers.Dense(133)]
    )


def unet():
    def block(x, f):
        x = layers.Conv2D(f, 3, padding="same")(x)
        x = layers.BatchNormalization()(x)
        return layers.Activation("relu")(x)

    inp = keras.Input((32, 32, 3))
    e1 = block(inp, 8)
    e2 = block(layers.MaxPooling2D()(e1), 16)
    m = block(layers.MaxPooling2D()(e2), 32)
    u2 = layers.Conv2DTranspose(16, 2, strides=2, padding="same")(m)
    d2 = block(layers.Concatenate()([u2, e2]), 16)
    u1 = layers.UpSampling2D()(d2)
    d1 = block(layers.Concatenate()([u1, e1]), 8)
    d1 = layers.ZeroPadding2D(1)(d1)
    d1 = layers.Cropping2D(1)(d1)
    return keras.Model(inp, layers.Conv2D(2, 1, activation="softmax")(d1))


def mobilenet_style():
    inp = keras.Input((32, 32, 3))
    x = layers.Rescaling(1 / 255)(inp)
    x = layers.Conv2D(16, 3, strides=2, padding="same", use_bias=False)(x)
    x = layers.BatchNormalization()(x)
    x = layers.ReLU(6.0)(x)
    x = layers.DepthwiseConv2D(3, padding="same", use_bias=False)(x)
    x = layers.BatchNormalization()(x)
    x = layers.SeparableConv2D(32, 3, strides=2, padding="same")(x)
    x = layers.DepthwiseConv2D(3, depth_multiplier=2)(x)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dropout(0.2)(x)
    return keras.Model(inp, layers.Dense(10, activation="softmax")(x))


def text_rnn():
    inp = keras.Input((12,), dtype="int32")
    x = layers.Embedding(500, 16)(inp)
    x = layers.Bidirectional(layers.LSTM(8, return_sequences=True))(x)
    x = layers.GRU(8, reset_after=False, return_sequences=True)(x)
    x = layers.GRU(6)(x)
    x = layers.RepeatVector(3)(x)
    x = layers.SimpleRNN(4)(x)
    return keras.Model(inp, layers.Dense(2)(x))


def transformer_block():
    inp = keras.Input((10, 32))
    x = layers.MultiHeadAttention(num_heads=4, key_dim=8, value_dim=6)(inp, inp)
    cross = layers.MultiHeadAttention(num_heads=2, key_dim=4, name="cross")
    x = cross(query=x, value=inp, key=inp)
    x = cross(x, inp)  # the same attention layer again: its weights count once
    x = layers.LayerNormalization()(layers.Add()([inp, x]))
    y = layers.Dense(64, activation="gelu")(x)
    y = layers.Dense(32)(y)
    x = layers.LayerNormalization()(layers.Add()([x, y]))
    x = layers.UnitNormalization()(x)
    x = layers.Attention()([x, x])
    x = layers.Permute((2, 1))(x)
    x = layers.Flatten()(x)
    return keras.Model(inp, layers.Reshape((16, 20))(x))


def two_inputs_shared():
    a = keras.Input((20,), name="left")
    b = keras.Input((20,), name="right")
    shared = layers.Dense(16, activation="relu", name="shared")
    norm = layers.Normalization()
    norm.build((None, 20))
    encoder = keras.Sequential([keras.Input((20,)), layers.Dense(20), layers.LayerNormalization()], name="encoder")
    xa = shared(encoder(norm(a)))
    xb = shared(encoder(b))
    merged = layers.Concatenate()([xa, xb, layers.Subtract()([xa, xb]), layers.Multiply()([xa, xb])])
    merged = layers.Average()([layers.Dense(8)(merged), layers.Dense(8)(merged)])
    out1 = layers.Dense(1, name="score")(merged)
    out2 = layers.Maximum()([layers.Dense(3)(merged), layers.Dense(3)(merged)])
    return keras.Model([a, b], [out1, out2])


def nested():
    inner = keras.Sequential([keras.Input((8,)), layers.Dense(8), layers.LayerNormalization()], name="inner")
    inp = keras.Input((8,))
    return keras.Model(inp, layers.Dense(2)(inner(inp)))


def conv_family():
    seq = keras.Input((16, 4))
    x = layers.Conv1D(8, 3, padding="same", activation="relu")(seq)
    x = layers.SeparableConv1D(8, 3, depth_multiplier=2)(x)
    x = layers.DepthwiseConv1D(3, padding="same")(x)
    x = layers.MaxPooling1D(3, strides=2, padding="same")(x)
    x = layers.SpatialDropout1D(0.1)(layers.GaussianNoise(0.1)(x))
    x = layers.UpSampling1D(2)(x)
    x = layers.ZeroPadding1D((1, 2))(x)
    x = layers.Cropping1D((2, 1))(x)
    x = layers.AveragePooling1D(2, padding="same")(x)
    x = layers.GroupNormalization(groups=4)(x)
    x = layers.GlobalAveragePooling1D()(x)
    vol = keras.Input((4, 8, 8, 2))
    y = layers.Conv3D(4, 3, strides=(1, 2, 2), padding="same")(vol)
    y = layers.Conv3DTranspose(4, 2, strides=2)(y)
    y = layers.Conv3D(4, 1, groups=2)(y)
    y = layers.GlobalMaxPooling3D()(y)
    z = layers.Conv2D(6, 3, padding="same", groups=3)(layers.Reshape((8, 8, 3))(layers.Dense(192)(x)))
    z = layers.Conv2DTranspose(3, 3, strides=2, padding="same")(z)
    z = layers.AveragePooling2D(3, strides=2, padding="same")(z)
    z = layers.GlobalMaxPooling2D(keepdims=True)(z)
    z = layers.Flatten()(z)
    return keras.Model([seq, vol], layers.Concatenate()([x, y, layers.Dense(4)(z)]))


MODELS = {
    "conv_family": conv_family,
    "keras_example": keras_example,
    "unet": unet,
    "mobilenet_style": mobilenet_style,
    "text_rnn": text_rnn,
    "transformer_block": transformer_block,
    "two_inputs_shared": two_inputs_shared,
    "nested": nested,
}


def _shapes(layer):
    out = layer.output
    outs = out if isinstance(out, list | tuple) else [out]
    return [tuple(1 if d is None else int(d) for d in o.shape) for o in outs]


@pytest.fixture(scope="module", params=list(MODELS))
def built(request, tmp_path_factory):
    model = MODELS[request.param]()
    folder = tmp_path_factory.mktemp(request.param)
    model.save(folder / "m.keras")
    (folder / "m.json").write_text(model.to_json())
    return model, folder


@pytest.mark.parametrize("source", ["m.keras", "m.json"])
def test_keras_counts_and_shapes_match_keras(built, source):
    model, folder = built
    s = summary(folder / source)
    assert s.totals.params == model.count_params()
    assert s.totals.trainable_params == sum(_size(w) for w in model.trainable_weights)
    assert s.totals.non_trainable_params == sum(_size(w) for w in model.non_trainable_weights)
    rows = {r.name: r for r in s.rows(depth=1)}
    for layer in model.layers:
        if isinstance(layer, layers.InputLayer):
            continue
        assert rows[layer.name].output_shapes[: len(_shapes(layer))] == tuple(_shapes(layer)), layer.name


def test_keras_example_is_the_seed_figure(tmp_path):
    keras_example().save(tmp_path / "m.keras")
    s = summary(tmp_path / "m.keras")
    assert [r.params for r in s.rows(depth=1)] == [208, 0, 2261]
    assert s.totals.params == 2469


def test_lambda_is_refused_with_a_reason(tmp_path):
    model = keras.Sequential([keras.Input((4,)), layers.Lambda(lambda t: t * 2)])
    cfg = model.to_json()
    (tmp_path / "m.json").write_text(cfg)
    with pytest.raises(NetsizeError, match="Lambda layer runs arbitrary Python code"):
        summary(tmp_path / "m.json")


def test_cli_reads_keras_and_refuses_h5_and_savedmodel(tmp_path):
    keras_example().save(tmp_path / "m.keras")
    proc = subprocess.run([sys.executable, "-m", "netsize", "summary", str(tmp_path / "m.keras")],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "2,469" in proc.stdout
    (tmp_path / "old.h5").write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 64)
    saved = tmp_path / "saved"
    saved.mkdir()
    (saved / "saved_model.pb").write_bytes(b"")
    for target, words in ((tmp_path / "old.h5", "Keras 2"), (saved, "TensorFlow SavedModel")):
        proc = subprocess.run([sys.executable, "-m", "netsize", "summary", str(target)], capture_output=True, text=True)
        assert proc.returncode == 2
        assert words in proc.stderr and "m.keras" in proc.stderr
        assert "Traceback" not in proc.stderr


def test_reading_a_keras_file_imports_neither_keras_nor_numpy(tmp_path):
    keras_example().save(tmp_path / "m.keras")
    code = (
        "import io, sys, contextlib\n"
        "from netsize.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        f"    assert main(['summary', {str(tmp_path / 'm.keras')!r}]) == 0\n"
        "print(','.join(m for m in ('keras', 'tensorflow', 'torch', 'numpy', 'onnx', 'h5py') if m in sys.modules))"
    )
    env = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == ""


def _json(model, tmp_path):
    path = tmp_path / "m.json"
    path.write_text(model.to_json())
    return path


def _matches(model, s):
    assert s.totals.params == model.count_params()
    assert s.totals.trainable_params == sum(_size(w) for w in model.trainable_weights)
    assert s.totals.non_trainable_params == sum(_size(w) for w in model.non_trainable_weights)
    rows = {r.name: r for r in s.rows(depth=1)}
    for layer in model.layers[1:]:
        assert rows[layer.name].params == layer.count_params(), layer.name


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=40, deadline=None)
@given(kind=st.sampled_from(["BatchNormalization", "LayerNormalization", "GroupNormalization", "RMSNormalization"]),
       scale=st.booleans(), center=st.booleans(), rms=st.booleans(), rank=st.sampled_from([2, 3, 4]))
def test_norm_flags_match_keras(tmp_path_factory, kind, scale, center, rms, rank):
    shape = (6, 5, 8)[3 - rank + 1:]
    kwargs = {} if kind == "RMSNormalization" else {"scale": scale, "center": center}
    if kind == "GroupNormalization":
        kwargs["groups"] = 4
    if kind == "LayerNormalization" and rms:
        kwargs["rms_scaling"] = True
    model = keras.Sequential([keras.Input(shape), getattr(layers, kind)(**kwargs)])
    _matches(model, summary(_json(model, tmp_path_factory.mktemp("norm"))))


def test_normalization_with_given_statistics_counts_nothing(tmp_path):
    model = keras.Sequential([keras.Input((5, 3)), layers.Normalization(mean=[0.1, 0.2, 0.3], variance=[1, 2, 3]),
                              layers.Normalization(axis=-1)])
    model.layers[1].adapt(keras.ops.ones((4, 5, 3)))
    s = summary(_json(model, tmp_path))
    _matches(model, s)
    assert [r.params for r in s.rows(depth=1)] == [0, 7]


def test_application_layers_match_keras(tmp_path):
    from keras.src.applications.convnext import LayerScale
    from keras.src.applications.inception_resnet_v2 import CustomScaleLayer

    inp = keras.Input((None, None, 3))
    x = layers.Conv2D(8, 3, padding="same")(inp)
    x = layers.Activation("hard_silu")(x)
    y = layers.Conv2D(8, 1, activation="hard_swish")(x)
    x = CustomScaleLayer(0.17)([x, y])
    x = LayerScale(1e-6, 8)(layers.LayerNormalization(epsilon=1e-6)(x))
    x = layers.Activation("hard_sigmoid")(x)
    model = keras.Model(inp, layers.GlobalAveragePooling2D()(x))
    s = summary(_json(model, tmp_path), input_size=(12, 10, 3))
    _matches(model, s)
    assert [r.output_shape for r in s.rows(depth=1)][-1] == (1, 8)
    with pytest.raises(NetsizeError, match=r"unknown sizes \(None, None, 3\); give them with --input-size"):
        summary(_json(model, tmp_path))


def test_a_layer_of_another_package_is_named_with_what_to_do(tmp_path):
    cfg = keras_example().get_config()
    data = {"module": "keras", "class_name": "Sequential", "config": cfg}
    data["config"]["layers"][1] = {"module": "keras_hub.src.layers.modeling.reversible_embedding",
                                   "class_name": "ReversibleEmbedding",
                                   "registered_name": "keras_hub>ReversibleEmbedding",
                                   "config": {"name": "token_embedding", "input_dim": 10, "output_dim": 4}}
    with pytest.raises(NetsizeError, match=r"token_embedding: ReversibleEmbedding is a keras-hub layer .*config\.json"):
        summary(data)
    data["config"]["layers"][1]["module"], data["config"]["layers"][1]["registered_name"] = None, "Custom>Dense"
    with pytest.raises(NetsizeError, match=r"is a custom layer or model \(Custom>Dense\)"):
        summary(data)
    # a keras-hub backbone as model.save writes it (keras_hub.models.BertBackbone(...)): its class and arguments
    backbone = {"module": "keras_hub.src.models.bert.bert_backbone", "class_name": "BertBackbone",
                "registered_name": "keras_hub>BertBackbone",
                "config": {"name": "bert_backbone", "vocabulary_size": 100, "num_layers": 2, "num_heads": 2,
                           "hidden_dim": 16, "intermediate_dim": 32, "max_sequence_length": 12}}
    with pytest.raises(NetsizeError, match=r"bert_backbone: BertBackbone is a keras-hub model .*config\.json"):
        summary(backbone)


@pytest.mark.parametrize("name", ["relu", "sigmoid", "tanh", "softmax", "elu", "selu", "gelu", "silu", "swish",
                                  "softplus", "relu6", "leaky_relu", "hard_sigmoid", "hard_swish", "hard_silu",
                                  "mish", "celu", "hard_tanh", "log_softmax"])
def test_activation_names_keras_writes_are_read(tmp_path, name):
    model = keras.Sequential([keras.Input((3, 5)), layers.Dense(4, activation=name), layers.Activation(name)])
    s = summary(_json(model, tmp_path))
    _matches(model, s)
    assert [r.output_shape for r in s.rows(depth=1)] == [(1, 3, 4), (1, 3, 4)]
    activation = s.rows(depth=1)[1]
    assert activation.other_ops > 0  # a real activation, counted (an Identity has none)
