"""nn.LSTM / nn.GRU / nn.RNN on the meta pass: one whole-module step by the core layer's rule
(issue 22, section 4), equal to what torch computes: output shapes of a real CPU call, params,
and FlopCounterMode's multiply-adds of the module run on meta (per time step)."""

from __future__ import annotations

import itertools

import pytest

torch = pytest.importorskip("torch")

from torch import nn  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

import netsize  # noqa: E402
from netsize.frontends.torch import _trace  # noqa: E402

CASES = [
    (cls, batch_first, bidirectional, layers, proj, unbatched, with_h0)
    for cls, batch_first, bidirectional, layers, proj, unbatched, with_h0 in itertools.product(
        (nn.LSTM, nn.GRU, nn.RNN), (False, True), (False, True), (1, 2), (0, 3), (False, True), (False, True)
    )
    if not (proj and cls is not nn.LSTM)
]


def _module(cls, batch_first, bidirectional, layers, proj):
    extra = {"proj_size": proj} if proj else {}
    return cls(5, 6, num_layers=layers, batch_first=batch_first, bidirectional=bidirectional, **extra)


class Wrap(nn.Module):
    def __init__(self, rnn):
        super().__init__()
        self.rnn = rnn

    def forward(self, x, h=None):
        return self.rnn(x, h)


@pytest.mark.parametrize("case", CASES, ids=lambda c: "-".join(str(v) if not isinstance(v, type) else v.__name__
                                                                  for v in c))
def test_whole_module_rule_equals_torch(case):
    cls, batch_first, bidirectional, layers, proj, unbatched, with_h0 = case
    torch.manual_seed(0)
    model = Wrap(_module(cls, batch_first, bidirectional, layers, proj))
    shape = (7, 5) if unbatched else ((2, 7, 5) if batch_first else (7, 2, 5))
    x = torch.randn(shape)
    d = 2 if bidirectional else 1
    h = None
    if with_h0:
        hs = (d * layers, 6) if unbatched else (d * layers, 2, 6)
        h = torch.zeros(hs)
        if cls is nn.LSTM:
            ps = (d * layers, proj or 6) if unbatched else (d * layers, 2, proj or 6)
            h = (torch.zeros(ps), torch.zeros(hs))
    with torch.no_grad():
        real = model(x, h)
    real_shapes = [tuple(t.shape) for t in _trace._tensors(real)]
    meta_model = _module(cls, batch_first, bidirectional, layers, proj).to("meta")
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        meta_h = None if h is None else (tuple(t.to("meta") for t in h) if isinstance(h, tuple) else h.to("meta"))
        meta_model(x.to("meta"), meta_h)
    kwargs = {} if h is None else {"h": h}
    s = netsize.summary(model, input_data=[x], **kwargs)
    record = s.layer("rnn")
    assert record.kind == cls.__name__
    assert list(record.output_shapes) == real_shapes
    assert record.params == sum(p.numel() for p in model.parameters())
    assert record.multiply_adds == counter.get_total_flops() // 2
    assert not s.notes or not any("real forward pass" in n for n in s.notes)


def test_the_rule_runs_one_step_whatever_the_sequence_length():
    seen = []

    class Count(torch.utils._python_dispatch.TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            seen.append(func)
            return func(*args, **(kwargs or {}))

    for length in (4, 64):
        seen.clear()
        model = nn.LSTM(5, 6, num_layers=2)
        with Count():
            s = netsize.summary(model, input_size=(length, 1, 5))
        assert s.layer("(root)").output_shape == (length, 1, 6)
        addmm = sum(1 for f in seen if "addmm" in str(f))
        assert addmm == 0  # no per-time-step matmul traced


def test_a_failing_rnn_leaves_no_mode_behind_and_the_model_as_found():
    from model_state import assert_unchanged, capture

    model = Wrap(nn.LSTM(5, 6))
    before = capture(model)
    with pytest.raises(netsize.NetsizeError, match=r"input.size"):
        netsize.summary(model, input_size=(7, 1, 4), fallback=False)  # 4 features where the LSTM takes 5
    assert torch._C._len_torch_function_stack() == 0
    s = netsize.summary(model, input_size=(7, 1, 5))
    assert s.layer("rnn").output_shape == (7, 1, 6)
    assert torch._C._len_torch_function_stack() == 0
    assert_unchanged(before, model)
