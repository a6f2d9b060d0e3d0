"""netsize.summary's rows, attributes and printed footer are torchinfo's: each case is called
the same way on both tools and compared with torchinfo 1.8's own result (issue 22, section 1).
Multiply-adds are netsize's (FlopCounterMode), not compared with torchinfo's."""

from __future__ import annotations

from collections import namedtuple

import pytest

torch = pytest.importorskip("torch")
torchinfo = pytest.importorskip("torchinfo")

from torch import nn  # noqa: E402

import netsize  # noqa: E402


def _rows(stats):
    return [
        (r.class_name, r.depth, r.depth_index, list(r.output_size) if r.output_size else [], r.num_params,
         r.trainable_params, r.is_recursive, r.is_leaf_layer)
        for r in stats.summary_list
    ]  # fmt: skip


def _both(model, *args, **kwargs):
    theirs = torchinfo.summary(model, *args, verbose=0, **kwargs)
    ours = netsize.summary(model, *args, verbose=0, **kwargs)
    return theirs, ours


class Concat(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Conv2d(3, 4, 1)
        self.b = nn.Conv2d(3, 8, 1)

    def forward(self, x):
        return torch.cat([self.a(x), self.b(x)], 1)


class Outer(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.block = Concat()
        self.head = nn.Conv2d(12, 2, 1)

    def forward(self, x):
        return self.head(self.block(x))


def test_a_block_shows_what_its_own_forward_returned():
    theirs, ours = _both(Outer(), input_size=(1, 3, 8, 8))
    block = next(r for r in ours.summary_list if r.class_name == "Concat")
    assert block.output_size == [1, 12, 8, 8]  # the concatenation, not its last child's 1x8x8x8
    assert _rows(ours) == _rows(theirs)
    assert next(r for r in ours.rows(1) if r.name == "block").output_shape == (1, 12, 8, 8)


class Reused(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(4, 4)
        self.model = nn.Sequential(self.linear, nn.ReLU(), self.linear, nn.ReLU())

    def forward(self, x):
        return self.model(x)


def test_a_reused_module_is_listed_where_it_was_called_and_marked_recursive():
    theirs, ours = _both(Reused(), input_size=(2, 4))
    assert _rows(ours) == _rows(theirs)
    assert [r.depth for r in ours.summary_list] == [0, 1, 2, 2, 2, 2]  # inside the Sequential
    assert [r.is_recursive for r in ours.summary_list][-2:] == [True, False]
    shown = str(netsize.summary(Reused(), input_size=(2, 4)))
    hidden = str(netsize.summary(Reused(), input_size=(2, 4), row_settings=["hide_recursive_layers"]))
    assert "(recursive)" in shown and "(recursive)" not in hidden
    assert ours.total_params == theirs.total_params == 20


def test_a_leaf_module_alone_is_one_row():
    theirs, ours = _both(nn.Linear(8, 4), input_size=(2, 8))
    assert _rows(ours) == _rows(theirs) == [("Linear", 0, 1, [2, 4], 36, 36, False, True)]
    assert "1-1" not in str(ours)


def test_ascii_only_prints_ascii_from_title_to_footer():
    s = netsize.summary(Outer(), input_size=(1, 3, 8, 8), row_settings=["ascii_only"])
    assert str(s).isascii()
    assert "\n+ Concat  " in str(s)  # row_settings replaces the default "depth", as in torchinfo


def test_summary_with_no_input_lists_the_parameters_as_torchinfo():
    theirs, ours = _both(Outer())
    assert _rows(ours) == _rows(theirs)
    assert ours.total_params == theirs.total_params == 4 * 4 + 8 * 4 + 12 * 2 + 2
    assert "Total mult-adds" not in str(ours) and "Total params: 74" in str(ours)


class Embed(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.emb = nn.Embedding(10, 3)

    def forward(self, x):
        return self.emb(x)


def test_dtypes_may_be_tensor_types():
    theirs, ours = _both(Embed(), input_size=(2, 5), dtypes=[torch.LongTensor])
    assert _rows(ours) == _rows(theirs)
    assert ours.layer("emb").output_shape == (2, 5, 3)


Pair = namedtuple("Pair", "x y")


class TakesPair(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(3, 2)

    def forward(self, a, pair=None):
        assert isinstance(pair, Pair)  # the argument keeps its type on the meta pass
        return self.fc(a) + pair.x.sum() + pair.y.sum()


def test_a_namedtuple_keyword_argument_keeps_its_type():
    pair = Pair(torch.ones(2, 3), torch.ones(2, 3))
    s = netsize.summary(TakesPair(), input_data=[torch.ones(2, 3)], pair=pair)
    assert s.layer("fc").output_shape == (2, 2)
    assert not any("real forward pass" in n for n in s.notes)


class MakesItsOwn(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(3, 2)

    def forward(self, _options):  # input_data=[{}]: one positional argument, an empty dict
        return self.fc(torch.ones(4, 3))


def test_a_forward_that_makes_its_own_tensors():
    theirs, ours = _both(MakesItsOwn(), input_data=[{}])
    assert _rows(ours) == _rows(theirs)
    assert ours.total_params == 8


class Tiny(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(4, 4)
        self.fc2 = nn.Linear(4, 2)

    def forward(self, x):
        return self.fc2(torch.relu(self.fc1(x)))


def test_torchscript_modules_keep_their_class_names_and_children():
    model = torch.jit.script(Tiny())
    theirs, ours = _both(model, input_data=torch.ones(2, 4))
    assert [r.class_name for r in ours.summary_list] == [r.class_name for r in theirs.summary_list]
    assert [r.class_name for r in ours.summary_list] == ["Tiny", "Linear", "Linear"]


class Lazy(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.param = nn.UninitializedParameter()

    def forward(self, x):
        self.param = nn.Parameter(torch.zeros(128))
        return x


def test_a_parameter_made_in_forward_is_counted_and_the_model_left_as_found():
    model = Lazy()
    ours = netsize.summary(model, input_data=torch.randn(2, 2))
    assert ours.total_params == 128
    assert isinstance(model.param, nn.UninitializedParameter)


@pytest.mark.parametrize("call", [dict(input_size=(16, 3, 8, 8)), dict(input_data=torch.ones(2, 3, 8, 8))])
def test_result_attributes_and_footer_are_torchinfos(call):
    theirs, ours = _both(Outer(), **call)
    for name in ("total_params", "trainable_params", "total_param_bytes", "total_output_bytes", "total_input"):
        assert getattr(ours, name) == getattr(theirs, name), name
    assert ours.input_size == theirs.input_size
    assert ours.total_mult_adds == ours.totals.multiply_adds
    mine = str(ours).splitlines()
    for line in str(theirs).splitlines():
        if line.startswith(("Total params", "Trainable params", "Non-trainable", "Input size", "Forward/backward",
                            "Params size", "Estimated Total")):
            assert line in mine
    # torchinfo's lines come first; netsize's own figures follow them
    assert mine.index(next(x for x in mine if x.startswith("Estimated Total"))) < mine.index(
        next(x for x in mine if x.startswith("netsize: Params")))


def test_formatting_units_change_the_printed_totals():
    s = netsize.summary(Outer(), input_size=(1, 3, 8, 8))
    s.formatting.params_units = "M"
    assert "Total params (M): 0.00" in str(s)


def test_t5s_shared_embedding_is_not_put_on_the_root_row():
    tf = pytest.importorskip("transformers")
    cfg = tf.T5Config(vocab_size=100, d_model=16, d_kv=4, d_ff=32, num_layers=1, num_heads=2,
                      decoder_start_token_id=0, pad_token_id=0)  # fmt: skip
    model = tf.T5ForConditionalGeneration(cfg).eval()
    inputs = {"input_ids": torch.zeros(1, 8, dtype=torch.long), "labels": torch.zeros(1, 8, dtype=torch.long)}
    theirs, ours = _both(model, input_data=inputs)
    assert _rows(ours) == _rows(theirs)
    root = ours.summary_list[0]
    assert root.num_params_to_str(False) == "--"  # every parameter shown where its module ran
    assert ours.totals.params == sum(p.numel() for p in model.parameters())
