"""Mamba's selective scan against transformers' reference PyTorch path (``mamba_selective_scan``,
what MambaMixer runs without the CUDA kernels): shape, parameters (``A_log`` and ``D``),
FlopCounterMode, what autograd saves, and the explanation."""

from __future__ import annotations

import warnings

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netsize import NetsizeError, analyze_layer, explain_record
from netsize.layers import SelectiveScan

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402


def _reference():
    from transformers.models.mamba.modeling_mamba import mamba_selective_scan

    return mamba_selective_scan


def _inputs(n, length, d, s, gated):
    shapes = [(n, length, d), (n, length, d), (n, length, s), (n, length, s)] + ([(n, length, d)] if gated else [])
    return tuple(shapes)


def _run_reference(n, length, d, s, gated, skip, grad=False):
    """The reference scan on random CPU tensors (its layout is channels first, (N, D, L));
    returns (output shape, FlopCounterMode multiply-adds, saved-for-backward elements beyond the
    inputs and parameters)."""
    scan = _reference()
    u, dt = torch.randn(n, d, length), torch.randn(n, d, length)
    b, c, z = torch.randn(n, s, length), torch.randn(n, s, length), torch.randn(n, d, length) if gated else None
    a_log, skip_d = torch.nn.Parameter(torch.randn(d, s)), torch.nn.Parameter(torch.randn(d))
    inputs = [t for t in (u, dt, b, c, z) if t is not None]
    for t in inputs:
        t.requires_grad_(grad)
    saved: dict[int, int] = {}

    def pack(t):
        storage = t.untyped_storage()
        saved[storage.data_ptr()] = storage.nbytes() // t.element_size()
        return t

    with warnings.catch_warnings(), torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        warnings.simplefilter("ignore")
        counter = FlopCounterMode(display=False)
        with counter:
            a = -torch.exp(a_log.float())
            y = scan(u, dt, a, b, c, D=skip_d.float() if skip else None, z=z, delta_softplus=True)
    own = {t.untyped_storage().data_ptr() for t in (*inputs, a_log, skip_d)}
    extra = sum(v for k, v in saved.items() if k not in own)
    inputs_saved = sum(1 for t in inputs if t.untyped_storage().data_ptr() in saved)
    return tuple(y.shape), counter.get_total_flops() // 2, extra, inputs_saved, len(inputs)


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 2), st.integers(1, 5), st.integers(1, 6), st.integers(1, 4), st.booleans(), st.booleans())
def test_selective_scan_matches_reference_shape_params_and_flopcounter(n, length, d, s, gated, skip):
    shape, seen, _, _, _ = _run_reference(n, length, d, s, gated, skip)
    r = analyze_layer("scan", SelectiveScan(state_size=s, gated=gated, skip=skip), _inputs(n, length, d, s, gated))
    assert r.output_shape == (shape[0], shape[2], shape[1])  # batch first: (N, L, D)
    assert r.params == d * s + (d if skip else 0)  # MambaMixer's A_log and D
    named = {t.name: t.value for t in r.analysis.extra_terms}
    # FlopCounterMode sees the readout C.h (a bmm per step); netsize adds the recurrence
    # h = dA*h + dB*u (elementwise mul and add, invisible to it), one multiply-add per state element.
    assert named["multiply_adds_flop_counter"] == named["multiply_adds_readout"] == seen
    assert named["multiply_adds_recurrence"] == n * length * d * s
    assert r.multiply_adds == 2 * seen


@pytest.mark.parametrize("gated", [True, False])
def test_selective_scan_saved_for_backward_equals_autograd(gated):
    n, length, d, s = 2, 5, 6, 3
    _, _, extra, inputs_saved, inputs = _run_reference(n, length, d, s, gated, True, grad=True)
    r = analyze_layer("scan", SelectiveScan(state_size=s, gated=gated), _inputs(n, length, d, s, gated))
    memory = r.analysis.memory
    assert memory.saved_inputs is None and inputs_saved == inputs  # every input is kept
    assert memory.saved_extra_elements == extra
    # dA, delta*B and the L + 1 states stay float32 whatever the activations' dtype.
    assert memory.saved_float32_elements == 2 * n * length * d * s + (length + 1) * n * d * s


@pytest.mark.parametrize("n,length,d,s,gated", [(2, 16, 128, 8, True), (2, 8, 256, 4, False)])
def test_selective_scan_workspace_equals_allocations_of_the_reference_on_meta(n, length, d, s, gated):
    """Peak bytes alive inside the reference scan under no_grad, beyond its inputs and output
    (sizes whose every tensor fills whole 512-byte allocator blocks)."""
    from netsize.memory._torch_observe import _Allocator

    scan = _reference()
    alloc = _Allocator()
    with alloc, torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        u, dt = torch.empty(n, d, length, device="meta"), torch.empty(n, d, length, device="meta")
        b, c = torch.empty(n, s, length, device="meta"), torch.empty(n, s, length, device="meta")
        z = torch.empty(n, d, length, device="meta") if gated else None
        a_log, skip_d = torch.empty(d, s, device="meta"), torch.empty(d, device="meta")
        before = alloc.current
        alloc.reset_peak()
        a = -torch.exp(a_log.float())
        y = scan(u, dt, a, b, c, D=skip_d.float(), z=z, delta_softplus=True)
        peak = alloc.peak - before - alloc.size_of(y)
    r = analyze_layer("scan", SelectiveScan(state_size=s, gated=gated), _inputs(n, length, d, s, gated))
    assert r.analysis.memory.workspace_elements * 4 == peak
    assert r.analysis.memory.workspace_float32_elements == 3 * n * length * d * s + n * d * s + d * s


def test_selective_scan_explains_with_values_substituted():
    r = analyze_layer("scan", SelectiveScan(state_size=16, conv_kernel=4), _inputs(1, 8, 32, 16, True))
    text = explain_record(r)
    assert "2*N*L*D*S = 2*1*8*32*16 = 8,192" in text
    assert "c = delta_softplus 5 + skip 2 + gate 5" in text and "12*1*8*32" in text
    assert "1*32*(4 + 16) = 640" in text
    assert "FlopCounterMode" in text and "4,096" in text


def test_selective_scan_state_is_fixed_whatever_the_length_and_retained_with_cache():
    short = analyze_layer("scan", SelectiveScan(state_size=16, conv_kernel=4), _inputs(2, 8, 32, 16, True))
    long = analyze_layer("scan", SelectiveScan(state_size=16, conv_kernel=4, cache=True), _inputs(2, 800, 32, 16, True))
    state = {t.name: t.value for t in short.analysis.extra_terms}["recurrent_state_elements"]
    assert state == {t.name: t.value for t in long.analysis.extra_terms}["recurrent_state_elements"] == 2 * 32 * 20
    assert short.analysis.memory.retained_elements == 0
    assert long.analysis.memory.retained_elements == state


def test_selective_scan_names_the_mismatched_input():
    with pytest.raises(NetsizeError, match=r"input B must be 1x8x16"):
        analyze_layer("scan", SelectiveScan(state_size=16), ((1, 8, 32), (1, 8, 32), (1, 8, 8), (1, 8, 16), (1, 8, 32)))
    with pytest.raises(NetsizeError, match="takes 5 inputs"):
        analyze_layer("scan", SelectiveScan(state_size=16), _inputs(1, 8, 32, 16, False))
    with pytest.raises(NetsizeError, match="expects d_inner 64"):
        analyze_layer("scan", SelectiveScan(64, 16), _inputs(1, 8, 32, 16, True))
    with pytest.raises(NetsizeError, match="state_size must be a positive integer"):
        SelectiveScan(state_size=0)
