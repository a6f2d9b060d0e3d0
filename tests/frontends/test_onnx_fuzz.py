"""The ONNX reader against hostile and broken files: mutated small models (random dims, fields
removed, attributes changed, nodes rewired, bytes flipped or cut) must give a result or one
``NetsizeError``, never another exception, and never hang (a watchdog fails the example).
Declared sizes and every count are bounded by 2**62 with an error naming the tensor or layer.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import pytest

onnx = pytest.importorskip("onnx")
np = pytest.importorskip("numpy")

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from netsize import NetsizeError  # noqa: E402
from netsize.frontends.onnx import summary  # noqa: E402

WATCHDOG_SECONDS = 30  # a hang detector, far above any example's run time


@contextmanager
def _watchdog() -> Iterator[None]:
    def fail(signum: int, frame: Any) -> None:
        raise AssertionError(f"the ONNX reader ran for {WATCHDOG_SECONDS} s: a hang")

    old = signal.signal(signal.SIGALRM, fail)
    signal.alarm(WATCHDOG_SECONDS)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def _w(name: str, *dims: int) -> TensorProto:
    return numpy_helper.from_array(np.zeros(dims, dtype=np.float32), name)


def _i(name: str, values: list[int]) -> TensorProto:
    return numpy_helper.from_array(np.array(values, dtype=np.int64), name)


def _seeds() -> list[onnx.ModelProto]:
    f = TensorProto.FLOAT
    cnn = helper.make_graph(
        [
            helper.make_node("Conv", ["x", "c.w", "c.b"], ["c"], name="/c/Conv", pads=[1, 1, 1, 1]),
            helper.make_node("BatchNormalization", ["c", "bn.s", "bn.b", "bn.m", "bn.v"], ["b"], name="/bn/BN"),
            helper.make_node("Relu", ["b"], ["r"]),
            helper.make_node("MaxPool", ["r"], ["p"], kernel_shape=[2, 2], strides=[2, 2]),
            helper.make_node("Reshape", ["p", "shape"], ["f"]),
            helper.make_node("Gemm", ["f", "fc.w", "fc.b"], ["y"], name="/fc/Gemm", transB=1),
        ],
        "cnn", [helper.make_tensor_value_info("x", f, [1, 3, 8, 8])], [helper.make_tensor_value_info("y", f, [1, 5])],
        [_w("c.w", 4, 3, 3, 3), _w("c.b", 4), _w("bn.s", 4), _w("bn.b", 4), _w("bn.m", 4), _w("bn.v", 4),
         _i("shape", [1, 64]), _w("fc.w", 5, 64), _w("fc.b", 5)],
    )
    rnn = helper.make_graph(
        [
            helper.make_node("LSTM", ["x", "W", "R", "B"], ["Y", "Y_h"], hidden_size=6),
            helper.make_node("Resize", ["Y", "", "scales"], ["z"], mode="nearest"),
            helper.make_node("Einsum", ["z", "z"], ["e"], equation="tdnh,tdnh->tn"),
            helper.make_node("Slice", ["e", "starts", "ends"], ["s"]),
        ],
        "rnn", [helper.make_tensor_value_info("x", f, [5, 2, 4])], [helper.make_tensor_value_info("s", f, None)],
        [_w("W", 1, 24, 4), _w("R", 1, 24, 6), _w("B", 1, 48),
         numpy_helper.from_array(np.array([1, 1, 1, 2], dtype=np.float32), "scales"),
         _i("starts", [0]), _i("ends", [3])],
    )
    dynamic = helper.make_graph(
        [
            helper.make_node("Shape", ["x"], ["sh"]),
            helper.make_node("ConstantOfShape", ["sh"], ["zeros"]),
            helper.make_node("Add", ["x", "zeros"], ["a"]),
            helper.make_node("LayerNormalization", ["a", "ln.s", "ln.b"], ["n", "mean"], axis=-1),
            helper.make_node("Expand", ["mean", "target"], ["big"]),
        ],
        "dynamic", [helper.make_tensor_value_info("x", f, ["N", 3, 4])],
        [helper.make_tensor_value_info("n", f, None), helper.make_tensor_value_info("big", f, None)],
        [_w("ln.s", 4), _w("ln.b", 4), _i("target", [2, 3, 4])],
    )
    return [helper.make_model(g, opset_imports=[helper.make_opsetid("", 18)]) for g in (cnn, rnn, dynamic)]


SEEDS = [m.SerializeToString() for m in _seeds()]
SIZES = st.one_of(st.integers(0, 9), st.sampled_from([-1, 10**12, 2**62, 2**63 - 1, 1 << 31]))


def _mutate(model: onnx.ModelProto, data: st.DataObject) -> None:
    g = model.graph
    for _ in range(data.draw(st.integers(1, 4))):
        what = data.draw(st.sampled_from(["dim", "init_dim", "drop_input", "drop_attr", "attr", "op", "rewire",
                                          "drop_node", "drop_init", "drop_output", "int_value"]))
        if what == "dim" and g.input:
            vi = g.input[data.draw(st.integers(0, len(g.input) - 1))]
            dims = vi.type.tensor_type.shape.dim
            if dims:
                d = dims[data.draw(st.integers(0, len(dims) - 1))]
                if data.draw(st.booleans()):
                    d.dim_value = max(0, data.draw(SIZES))
                else:
                    d.dim_param = "S"
        elif what == "init_dim" and g.initializer:
            init = g.initializer[data.draw(st.integers(0, len(g.initializer) - 1))]
            if init.dims:
                k = data.draw(st.integers(0, len(init.dims) - 1))
                init.dims[k] = data.draw(SIZES)
        elif what == "drop_input" and g.node:
            node = g.node[data.draw(st.integers(0, len(g.node) - 1))]
            if node.input:
                del node.input[data.draw(st.integers(0, len(node.input) - 1))]
        elif what == "drop_attr" and g.node:
            node = g.node[data.draw(st.integers(0, len(g.node) - 1))]
            if node.attribute:
                del node.attribute[data.draw(st.integers(0, len(node.attribute) - 1))]
        elif what == "attr" and g.node:
            node = g.node[data.draw(st.integers(0, len(g.node) - 1))]
            name = data.draw(st.sampled_from(["kernel_shape", "pads", "strides", "axis", "hidden_size", "group",
                                              "dilations", "perm", "axes", "layout", "equation", "transB"]))
            value: Any = (data.draw(st.lists(SIZES, max_size=5)) if data.draw(st.booleans())
                          else data.draw(st.one_of(SIZES, st.text(max_size=8))))
            with suppress(ValueError, TypeError):
                node.attribute.append(helper.make_attribute(name, value))
        elif what == "op" and g.node:
            g.node[data.draw(st.integers(0, len(g.node) - 1))].op_type = data.draw(st.sampled_from(
                ["Conv", "Gemm", "MatMul", "LSTM", "GRU", "Resize", "MaxPool", "AveragePool", "Einsum", "Loop",
                 "Reshape", "Split", "Concat", "Pad", "Tile", "Expand", "ConstantOfShape", "Gather", "NoSuchOp", ""]))
        elif what == "rewire" and g.node:
            node = g.node[data.draw(st.integers(0, len(g.node) - 1))]
            names = [i.name for i in g.input] + [i.name for i in g.initializer] + [o for n in g.node for o in n.output]
            if node.input and names:
                node.input[data.draw(st.integers(0, len(node.input) - 1))] = data.draw(st.sampled_from([*names, "?"]))
        elif what == "drop_node" and g.node:
            del g.node[data.draw(st.integers(0, len(g.node) - 1))]
        elif what == "drop_init" and g.initializer:
            del g.initializer[data.draw(st.integers(0, len(g.initializer) - 1))]
        elif what == "drop_output" and g.output:
            del g.output[data.draw(st.integers(0, len(g.output) - 1))]
        elif what == "int_value":
            ints = [i for i in g.initializer if i.data_type == TensorProto.INT64]
            if ints:
                init = ints[data.draw(st.integers(0, len(ints) - 1))]
                values = data.draw(st.lists(st.integers(-(2**63), 2**63 - 1), min_size=1, max_size=4))
                init.CopyFrom(numpy_helper.from_array(np.array(values, dtype=np.int64), init.name))


def _read(model: Any) -> None:
    with _watchdog():
        try:
            s = summary(model)
        except NetsizeError as err:
            assert str(err).strip()
            return
    assert 0 <= s.totals.params <= 2**62 and 0 <= s.totals.multiply_adds <= 2**62


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.sampled_from(range(len(SEEDS))), data=st.data())
def test_mutated_models_give_a_result_or_one_netsize_error(seed: int, data: st.DataObject) -> None:
    model = onnx.ModelProto()
    model.ParseFromString(SEEDS[seed])
    _mutate(model, data)
    _read(model)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.sampled_from(range(len(SEEDS))), data=st.data())
def test_garbage_bytes_give_a_result_or_one_netsize_error(
    seed: int, data: st.DataObject, tmp_path_factory: Any
) -> None:
    raw = bytearray(SEEDS[seed])
    for _ in range(data.draw(st.integers(1, 8))):
        k = data.draw(st.integers(0, len(raw) - 1))
        raw[k] = data.draw(st.integers(0, 255))
    if data.draw(st.booleans()):
        raw = raw[: data.draw(st.integers(0, len(raw)))]
    path = Path(tmp_path_factory.mktemp("fuzz")) / "m.onnx"
    path.write_bytes(bytes(raw))
    _read(path)


def test_a_weight_declared_1e12_by_1e12_is_refused_naming_it_and_the_bound() -> None:
    w = TensorProto(name="fc.weight", data_type=TensorProto.FLOAT, dims=[10**12, 10**12])  # no data
    g = helper.make_graph([helper.make_node("MatMul", ["x", "fc.weight"], ["y"])], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 10**12])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], [w])
    with pytest.raises(NetsizeError, match=r"^initializer 'fc.weight': 1000000000000 x 1000000000000 elements: "
                       r"1000000000000000000000000 is larger than 2\*\*62"):
        summary(helper.make_model(g))


def test_counts_past_2_62_are_refused_naming_the_layer() -> None:
    w = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[10**9, 10**9])
    g = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["y"], name="/fc/MatMul")], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [10**9, 10**9])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], [w])
    with pytest.raises(NetsizeError, match=r"^fc.MatMul \(Linear\) multiply-adds: 10{27} is larger than 2\*\*62"):
        summary(helper.make_model(g))


def test_an_input_size_past_2_62_is_refused() -> None:
    g = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    expected = r"^--input-size x: declared size: 1180591620717411303424 is larger than 2\*\*62"
    with pytest.raises(NetsizeError, match=expected):
        summary(helper.make_model(g), input_sizes={"x": (2**70, 4)})


def test_a_constant_of_huge_shape_is_never_materialised() -> None:
    g = helper.make_graph(
        [helper.make_node("ConstantOfShape", ["shape"], ["z"]), helper.make_node("Add", ["x", "z"], ["y"])], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], [_i("shape", [100_000, 100_000, 4])],
    )
    _read(helper.make_model(g))  # a result or an error, without allocating 4e10 zeros
