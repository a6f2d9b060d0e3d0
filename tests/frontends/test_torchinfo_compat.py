"""netsize.summary takes torchinfo 1.8's arguments with torchinfo's meanings.

Each documented example of torchinfo's README (1.8.0: "How To Use", "Get Model Summary as
String", "Explore Different Configurations", "ResNet", "Multiple Inputs w/ Different Data
Types", "Sequentials & ModuleLists") is called the same way on both tools, and the rows
(class, depth-index, parameters) are compared with torchinfo's own ``summary_list``.
Multiply-adds are compared with FlopCounterMode, not with torchinfo, which adds biases to its
count and misses matmuls outside nn.Linear/conv modules (see README).
"""

from __future__ import annotations

import re

import pytest

torch = pytest.importorskip("torch")
torchinfo = pytest.importorskip("torchinfo")

import torch.nn.functional as F  # noqa: E402, N812
from torch import nn  # noqa: E402
from torchinfo.formatting import FormattingOptions  # noqa: E402

import netsize  # noqa: E402
from netsize import NetsizeError  # noqa: E402
from netsize._tree import tree_rows  # noqa: E402
from torch_models import build  # noqa: E402

# --- torchinfo's README models ------------------------------------------------------------------


class SingleInputNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 10, kernel_size=5)
        self.conv2 = nn.Conv2d(10, 20, kernel_size=5)
        self.conv2_drop = nn.Dropout2d(0.3)
        self.fc1 = nn.Linear(320, 50)
        self.fc2 = nn.Linear(50, 10)

    def forward(self, x):
        x = F.relu(F.max_pool2d(self.conv1(x), 2))
        x = F.relu(F.max_pool2d(self.conv2_drop(self.conv2(x)), 2))
        x = x.view(-1, 320)
        x = F.relu(self.fc1(x))
        x = self.fc2(x)
        return F.log_softmax(x, dim=1)


class LSTMNet(nn.Module):
    def __init__(self, vocab_size=20, embed_dim=300, hidden_dim=512, num_layers=2):
        super().__init__()
        self.hidden_dim = hidden_dim
        self.embedding = nn.Embedding(vocab_size, embed_dim)
        self.encoder = nn.LSTM(embed_dim, hidden_dim, num_layers=num_layers, batch_first=True)
        self.decoder = nn.Linear(hidden_dim, vocab_size)

    def forward(self, x):
        embed = self.embedding(x)
        out, hidden = self.encoder(embed)
        out = self.decoder(out)
        out = out.view(-1, out.size(2))
        return out, hidden


class MultipleInputNetDifferentDtypes(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1a = nn.Linear(300, 50)
        self.fc1b = nn.Linear(50, 10)
        self.fc2a = nn.Linear(300, 50)
        self.fc2b = nn.Linear(50, 10)

    def forward(self, x1, x2):
        x1 = F.relu(self.fc1a(x1))
        x1 = self.fc1b(x1)
        x2 = x2.type(torch.float)
        x2 = F.relu(self.fc2a(x2))
        x2 = self.fc2b(x2)
        x = torch.cat((x1, x2), 0)
        return F.log_softmax(x, dim=1)


class ContainerChildModule(nn.Module):
    def __init__(self):
        super().__init__()
        self._sequential = nn.Sequential(nn.Linear(5, 5), nn.Linear(5, 5))
        self._between = nn.Linear(5, 5)

    def forward(self, x):
        out = self._sequential(x)
        out = self._between(out)
        for layer in self._sequential:
            out = layer(out)
        out = self._sequential(x)
        for layer in self._sequential:
            out = layer(out)
        return out


class ContainerModule(nn.Module):
    def __init__(self):
        super().__init__()
        self._layers = nn.ModuleList()
        self._layers.append(nn.Linear(5, 5))
        self._layers.append(ContainerChildModule())
        self._layers.append(nn.Linear(5, 5))

    def forward(self, x):
        for layer in self._layers:
            x = layer(x)
        return x


# --- comparing rows ---------------------------------------------------------------------------


def _torchinfo_rows(stats, depth):
    """(class, depth, depth-index, params shown) of torchinfo's rows down to ``depth``; params is
    None where torchinfo prints '--' for a block whose children are listed."""
    out = []
    for info in stats.summary_list:
        if info.depth > depth:
            continue
        shown = info.num_params_to_str(info.depth == depth)
        number = re.fullmatch(r"\(?([\d,]+)\)?", shown.strip())  # "9,408", or "(9,408)" when frozen
        params = int(number.group(1).replace(",", "")) if number else None
        out.append((info.class_name, info.depth, info.depth_index if info.depth else None, params))
    return out


def _netsize_rows(s, depth):
    return [(r.record.kind, r.level, r.index or None, r.record.params) for r in tree_rows(s, depth)]


def _assert_same_rows(stats, s, depth):
    theirs = _torchinfo_rows(stats, depth)
    ours = _netsize_rows(s, depth)
    assert [t[:3] for t in theirs] == [o[:3] for o in ours]
    for t, o in zip(theirs, ours, strict=True):
        if t[3] is not None:  # torchinfo shows a number: a layer, or a block at the last level
            assert o[3] == t[3], (t, o)
        elif t[1] > 0:  # torchinfo's '--' for an expanded block: netsize shows the block's total
            assert o[3] >= 0


def _flop_macs(model, *inputs):
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        model(*inputs)
    return counter.get_total_flops() // 2


# --- the README's calls -----------------------------------------------------------------------


def test_how_to_use_single_input_net_rows_params_and_columns(capsys):
    model = SingleInputNet()
    cols = ("input_size", "output_size", "num_params", "mult_adds")
    stats = torchinfo.summary(model, input_size=(7, 1, 28, 28), col_names=cols, verbose=0)
    s = netsize.summary(model, input_size=(7, 1, 28, 28), col_names=cols)
    assert capsys.readouterr().out == ""  # netsize's one different default: quiet unless verbose=1
    netsize.summary(model, input_size=(7, 1, 28, 28), col_names=cols, verbose=1)
    printed = capsys.readouterr().out
    _assert_same_rows(stats, s, 3)
    assert s.totals.params == stats.total_params == 21_840
    assert s.totals.multiply_adds == _flop_macs(model, torch.randn(7, 1, 28, 28))
    lines = printed.splitlines()
    # torchinfo's own layout: its headings and its shape lists, netsize's title line above
    assert lines[2].split() == ["Layer", "(type:depth-idx)", "Input", "Shape", "Output", "Shape", "Param", "#",
                                "Mult-Adds"]
    conv1 = next(line for line in lines if line.startswith("├─Conv2d: 1-1"))
    assert re.split(r"\s{2,}", conv1)[1:] == ["[7, 1, 28, 28]", "[7, 10, 24, 24]", "260", "1,008,000"]
    assert printed == str(s) + "\n"  # str() ends at the last rule, as torchinfo's; print adds the newline


def test_summary_as_string_with_verbose_zero_prints_nothing(capsys):
    model = SingleInputNet()
    model_stats = netsize.summary(model, (1, 1, 28, 28), verbose=0)
    assert capsys.readouterr().out == ""
    summary_str = str(model_stats)
    assert "├─Linear: 1-4" in summary_str and "16,050" in summary_str


def test_explore_different_configurations_lstm(capsys):
    call = dict(dtypes=[torch.long], verbose=2, col_width=16,
                col_names=["kernel_size", "output_size", "num_params", "mult_adds"], row_settings=["var_names"])
    stats = torchinfo.summary(LSTMNet(), (1, 100), **{**call, "verbose": 0})
    s = netsize.summary(LSTMNet(), (1, 100), **call)
    printed = capsys.readouterr().out
    _assert_same_rows(stats, s, 3)
    assert s.totals.params == stats.total_params == 3_784_580
    # var_names: the attribute name after the class; verbose=2: each weight and bias tensor
    assert "├─LSTM (encoder)" in printed
    weight_rows = [line.split() for line in printed.splitlines() if "weight_hh_l1" in line or "└─bias" in line]
    # torchinfo's inner rows: a tensor's shape (a plain "weight" as [in, out]), the last marked └─
    assert ["│", "└─weight_hh_l1", "[2048,", "512]", "├─1,048,576"] in weight_rows
    assert ["│", "└─bias", "[20]", "└─20"] in weight_rows
    # col_width: every value column is 16 wide, and one space after it (torchinfo's format_row)
    header = printed.splitlines()[2]
    assert header.index("Output Shape") - header.index("Kernel Shape") == 16 + 1


@pytest.fixture(scope="module")
def resnet152():
    """torchinfo's README call, once: its depth (like netsize's) only changes what is shown."""
    model = build("resnet152")
    stats = torchinfo.summary(model, (1, 3, 224, 224), depth=3, verbose=0)
    return model, stats


@pytest.mark.parametrize("depth", [1, 2, 3])
def test_resnet_depth_means_what_it_means_in_torchinfo(resnet152, depth):
    model, stats = resnet152
    s = netsize.summary(model, (1, 3, 224, 224), depth=depth, verbose=0, cache_forward_pass=True)
    _assert_same_rows(stats, s, depth)
    assert s.totals.params == stats.total_params == 60_192_808
    text = str(s)
    assert ("├─Sequential: 1-5" in text) and (("│    └─Bottleneck: 2-1" in text) == (depth >= 2))
    assert ("│    │    └─Conv2d: 3-1" in text) == (depth >= 3)
    # depth only changes what is shown: the result keeps every layer, and rows(depth) sums blocks.
    assert len(s.layers) == 4 + 50 * 9 + 4 * 2 + 2  # stem, 50 bottlenecks (3 ReLU calls), 4 downsamples, pool+fc
    layer1 = {r.name: r for r in s.rows(1)}["layer1"]
    assert (layer1.kind, layer1.params) == ("Sequential", sum(p.numel() for p in model.layer1.parameters()))


def test_labels_are_torchinfos(resnet152):
    model, stats = resnet152
    s = netsize.summary(model, (1, 3, 224, 224), depth=3, verbose=0, row_settings=("depth", "var_names"),
                        cache_forward_pass=True)
    fmt = FormattingOptions(3, 0, (), 25, {torchinfo.enums.RowSettings.VAR_NAMES})
    theirs = [fmt.get_start_str(i.depth) + i.get_layer_name(True, True) for i in stats.summary_list if i.depth <= 3]
    lines = str(s).splitlines()[4:]
    assert [line[: len(label)] for line, label in zip(lines, theirs, strict=False)] == theirs
    assert len(theirs) == len(tree_rows(s, 3))


def test_multiple_inputs_with_different_dtypes():
    model = MultipleInputNetDifferentDtypes()
    stats = torchinfo.summary(model, [(1, 300), (1, 300)], dtypes=[torch.float, torch.long], verbose=0)
    s = netsize.summary(model, [(1, 300), (1, 300)], dtypes=[torch.float, torch.long], verbose=0)
    _assert_same_rows(stats, s, 3)
    assert s.input_shapes == {"x1": (1, 300), "x2": (1, 300)}
    data = [torch.randn(1, 300), torch.randn(1, 300).long()]
    stats = torchinfo.summary(model, input_data=data, verbose=0)
    s2 = netsize.summary(model, input_data=data, verbose=0)
    _assert_same_rows(stats, s2, 3)
    assert s2.totals == s.totals


def test_sequentials_and_module_lists():
    model = ContainerModule()
    stats = torchinfo.summary(model, (1, 5), verbose=0)
    s = netsize.summary(model, (1, 5), verbose=0)
    assert s.totals.params == stats.total_params == 150
    rows = _netsize_rows(s, 3)
    # The ModuleList is never called but still heads its children, as in torchinfo.
    assert rows[:4] == [("ContainerModule", 0, None, 150), ("ModuleList", 1, 1, 150), ("Linear", 2, 1, 30),
                        ("ContainerChildModule", 2, 2, 90)]
    assert rows[-1] == ("Linear", 2, 3, 30)


def test_torchinfo_only_arguments_are_not_passed_to_forward():
    model = SingleInputNet()
    s = netsize.summary(model, input_size=(1, 1, 28, 28), batch_dim=None, cache_forward_pass=False,
                        col_names=("output_size",), col_width=20, depth=1, device="cpu", dtypes=[torch.float],
                        mode="train", row_settings=("ascii_only", "depth"), verbose=0)
    assert s.totals.params == 21_840
    assert "+ Conv2d: 1-1" in str(s)  # ascii_only


def test_mode_train_runs_in_training_mode_and_restores_each_flag():
    seen = []

    class Probe(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 4)
            self.drop = nn.Dropout()

        def forward(self, x):
            seen.append((self.training, self.drop.training))
            return self.drop(self.fc(x))

    model = Probe()
    model.drop.eval()
    for mode, expected in (("train", (True, True)), ("eval", (False, False)), (None, (False, False))):
        seen.clear()
        netsize.summary(model, input_size=(1, 4), mode=mode, verbose=0)
        assert seen == [expected]
        assert (model.training, model.drop.training) == (True, False)


def test_forward_kwargs_still_reach_forward():
    class Scaled(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 4)

        def forward(self, x, scale: float = 1.0, depth_hint: int = 0):
            return self.fc(x) * scale

    s = netsize.summary(Scaled(), input_size=(1, 4), scale=2.0, depth_hint=3, verbose=0)
    assert s.totals.params == 20


def test_cache_forward_pass_reuses_the_analysis_of_the_same_model_and_inputs():
    model = SingleInputNet()
    a = netsize.summary(model, (1, 1, 28, 28), cache_forward_pass=True, verbose=0)
    b = netsize.summary(model, (1, 1, 28, 28), cache_forward_pass=True, depth=1, verbose=0)
    assert a.layers is b.layers and b.view.depth == 1
    c = netsize.summary(model, (2, 1, 28, 28), cache_forward_pass=True, verbose=0)
    assert c.layers is not a.layers and c.batch_size == 2


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"col_names": ["output_size", "num_parms"]}, "unknown column 'num_parms' (did you mean 'num_params'?)"),
        ({"row_settings": ["var_name"]}, "unknown row setting 'var_name' (did you mean 'var_names'?)"),
        ({"depth": -1}, "depth must be an integer, 0 or more"),
        ({"mode": "training"}, "mode must be 'train' or 'eval'"),
        ({"verbose": 3}, "verbose must be 0"),
        ({"device": "gpu9"}, "device 'gpu9' is not a torch device"),
    ],
)
def test_bad_torchinfo_arguments_get_one_clear_error(kwargs, message):
    with pytest.raises(NetsizeError, match=message.replace("(", r"\(").replace(")", r"\)").replace("?", r"\?")):
        netsize.summary(SingleInputNet(), (1, 1, 28, 28), **{"verbose": 0, **kwargs})


def test_the_tree_shows_itself_in_notebooks_and_markdown():
    s = netsize.summary(SingleInputNet(), (1, 1, 28, 28), col_names=("output_size", "num_params", "trainable"))
    page = s._repr_html_()
    assert "<td style='text-align:left'>├─Conv2d:\u00a01-1</td>" in page
    assert "<td style='text-align:right'>260</td><td style='text-align:left'>True</td>" in page
    assert "| `├─Linear: 1-4` | [1, 50] | 16,050 | True |" in s._repr_markdown_()  # torchinfo's rows and cells
