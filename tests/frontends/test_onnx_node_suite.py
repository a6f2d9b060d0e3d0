"""The onnx package's own node test cases, run through the ONNX frontend.

``onnx.backend.test.case.node.collect_testcases`` builds each case's model and its expected
outputs from the source the installed onnx package ships. Every case must either be analysed
with every graph output's shape equal to the expected output's, or be refused with one
``NetsizeError`` line that names the op (or the graph input) it cannot read: never another
exception. Each case runs as written (its ``axes``, ``sizes``, ``split`` are graph inputs, whose
values netsize cannot know) and with those settings stored as initializers, as exporters store
them. The cases that netsize once refused or crashed on must stay analysed (``MUST_ANALYSE``).
"""

from __future__ import annotations

import warnings
from typing import Any

import pytest

onnx = pytest.importorskip("onnx")
np = pytest.importorskip("numpy")

from netsize import NetsizeError  # noqa: E402
from netsize._analyze import analyze  # noqa: E402
from netsize.frontends.onnx import check_shapes, input_symbols, network_from_onnx  # noqa: E402


def _cases() -> dict[str, Any]:
    from onnx.backend.test.case.node import collect_testcases

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the generators' own numpy overflow warnings
        return {c.name: c for c in collect_testcases(None) if c.data_sets}


CASES = _cases()


def output_shapes(model: Any, data_inputs: list[Any]) -> dict[str, tuple[int, ...]]:
    """netsize's shape of each graph output; symbolic inputs are sized from the case's data."""
    declared = input_symbols(model)
    sizes = {
        name: tuple(int(d) for d in np.asarray(arr).shape)
        for name, arr in zip(declared, data_inputs, strict=False)
        if not all(isinstance(d, int) for d in declared[name]) and hasattr(arr, "shape")
    }
    graph = network_from_onnx(model, sizes)
    result = analyze(graph.network, batch_size=graph.batch_size)
    check_shapes(result, graph)
    shapes: dict[str, tuple[int, ...]] = {}
    for r in result.layers:
        for k, shape in enumerate(r.output_shapes):
            shapes[r.name if k == 0 else f"{r.name}:{k}"] = tuple(shape)
    for name, shape in graph.network.inputs.items():
        shapes[name] = (graph.batch_size, *shape)
    return {o.name: shapes[graph.value_refs[o.name]] for o in model.graph.output if o.name in graph.value_refs}


_INT_TYPES = {onnx.TensorProto.INT64, onnx.TensorProto.INT32}


def with_constant_settings(case: Any) -> tuple[Any, list[Any]]:
    """The case's model with its setting inputs (integer ``axes``, ``starts``, ``split``,
    ``sizes``, ..., and Resize's ``scales``) stored as initializers holding the case's values,
    as an exporter stores them; the remaining inputs' data."""
    model = onnx.ModelProto()
    model.CopyFrom(case.model)
    inputs, _ = case.data_sets[0]
    scales = {n.input[k] for n in model.graph.node for k in (1, 2)
              if (n.op_type, k) in (("Resize", 2), ("Upsample", 1)) and k < len(n.input)}
    keep, data = [], []
    for k, (vi, arr) in enumerate(zip(list(model.graph.input), inputs, strict=False)):
        setting = k > 0 and (vi.type.tensor_type.elem_type in _INT_TYPES or vi.name in scales)
        if setting and isinstance(arr, np.ndarray):
            model.graph.initializer.append(onnx.numpy_helper.from_array(arr, vi.name))
        else:
            keep.append(vi)
            data.append(arr)
    del model.graph.input[:]
    model.graph.input.extend(keep)
    return model, data


def outcome(case: Any, constant_settings: bool = False) -> tuple[str, str]:
    """``("equal", "")``, ``("refused", message)`` or ``("mismatch", details)`` for one case."""
    inputs, expected = case.data_sets[0]
    model = case.model
    if constant_settings:
        model, inputs = with_constant_settings(case)
    try:
        got = output_shapes(model, list(inputs))
    except NetsizeError as err:
        return "refused", str(err)
    bad = []
    for o, exp in zip(model.graph.output, expected, strict=False):
        if hasattr(exp, "shape") and got.get(o.name) != tuple(np.asarray(exp).shape):
            bad.append(f"{o.name}: netsize {got.get(o.name)}, expected {tuple(np.asarray(exp).shape)}")
    return ("mismatch", "; ".join(bad)) if bad else ("equal", "")


def _names_what_it_refuses(model: Any, message: str) -> bool:
    ops = {n.op_type for n in model.graph.node}
    ins = {i.name for i in model.graph.input} | {o.name for o in model.graph.output}
    if not model.graph.input and "inputs are none" in message:
        return True
    return any(f"({op}" in message for op in ops) or any(repr(i) in message or f"{i} [" in message for i in ins)


@pytest.mark.parametrize("constant_settings", [False, True], ids=["as_written", "settings_stored"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_node_case_is_analysed_exactly_or_refused_cleanly(name: str, constant_settings: bool) -> None:
    case = CASES[name]
    kind, detail = outcome(case, constant_settings)
    assert kind != "mismatch", detail
    if kind == "refused":
        assert "\n" not in detail and detail.strip(), detail
        assert _names_what_it_refuses(case.model, detail), detail


# Cases refused or crashing before: side inputs of another length than the batch, second
# outputs read downstream, AveragePool dilations, pads above half the kernel, Resize's aspect
# policy, batch-first recurrences, Gemm's C shapes, empty tensors, Einsum forms, ConvTranspose's
# output_shape, opset-6 PRelu.
MUST_ANALYSE = [
    "test_gemm_default_matrix_bias", "test_gemm_default_scalar_bias", "test_gemm_default_single_elem_vector_bias",
    "test_layer_normalization_4d_axis1", "test_layer_normalization_2d_axis0", "test_dropout_default_mask",
    "test_maxpool_with_argmax_2d_precomputed_pads", "test_batchnorm_example_training_mode",
    "test_averagepool_2d_dilations", "test_averagepool_3d_dilations_large_count_include_pad_is_0_ceil_mode_is_True",
    "test_resize_downsample_sizes_nearest_not_larger", "test_resize_upsample_sizes_nearest_not_smaller",
    "test_lstm_batchwise", "test_gru_batchwise", "test_simple_rnn_batchwise",
    "test_slice_end_out_of_bounds", "test_slice_start_out_of_bounds", "test_einsum_inner_prod",
    "test_einsum_batch_diagonal", "test_convtranspose_output_shape", "test_prelu_broadcast", "test_unsqueeze_axis_0",
    "test_reduce_sum_default_axes_keepdims_example", "test_castlike_FLOAT_to_DOUBLE", "test_averagepool_2d_pads",
    "test_maxpool_2d_pads", "test_convtranspose_kernel_shape", "test_convtranspose_group_2_image_3",
    "test_causal_conv_with_state_basic",
]


@pytest.mark.parametrize("name", MUST_ANALYSE)
def test_case_that_was_refused_is_now_analysed(name: str) -> None:
    assert name in CASES, f"the installed onnx has no case {name}"
    assert outcome(CASES[name], constant_settings=True) == ("equal", "")


def test_an_unnamed_node_is_named_by_its_op_and_index() -> None:
    kind, message = outcome(CASES["test_resize_upsample_scales_nearest"])
    assert kind == "refused"
    assert message.startswith("Resize_0 (Resize): needs constant scales or sizes (input 'scales' is computed at run")


def test_control_flow_is_refused_in_one_line() -> None:
    kind, message = outcome(CASES["test_scan9_sum"])
    assert (kind, message.split(":")[0]) == ("refused", "Scan_0 (Scan)")


def test_an_opset_6_prelu_slope_is_one_per_channel() -> None:
    """Before opset 7 PRelu's 1-d slope is per channel (axis 1), not broadcast along the last axis."""
    from onnx import TensorProto, helper, numpy_helper

    slope = numpy_helper.from_array(np.full((4,), 0.25, dtype=np.float32), "act.weight")
    graph = helper.make_graph([helper.make_node("PRelu", ["x", "act.weight"], ["y"], name="/act/PRelu")], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 4, 3, 5])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], [slope])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 6)])
    shapes = output_shapes(model, [])
    assert shapes["y"] == (2, 4, 3, 5)
    graph_ = network_from_onnx(model)
    result = analyze(graph_.network, batch_size=graph_.batch_size)
    assert result.totals.params == 4
