"""The ONNX frontend against the PyTorch frontend on the same models.

Each model is exported with ``torch.onnx.export``; the ONNX summary must have the same
parameters, multiply-adds and output shapes as netsize's PyTorch frontend on the module (and
every node's shape agrees with onnx.shape_inference, or ``summary`` raises). CNNs, ViT and
the LSTM use the TorchScript exporter (fast, ``/layer1/layer1.0/conv1/Conv`` names); GPT-2,
LLaMA and one ResNet the dynamo exporter (the default), unoptimised: its optimiser folds
BatchNorm into Conv and constant tables into initializers, which changes the model.
"""

from __future__ import annotations

import subprocess
import sys
import warnings
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxscript")

from torch import nn  # noqa: E402

from netsize import NetsizeError  # noqa: E402
from netsize.frontends.onnx import summary as onnx_summary  # noqa: E402
from netsize.frontends.torch import summary as torch_summary  # noqa: E402
from torch_models import BasicBlock, MobileNetV2, ResNet, VisionTransformer  # noqa: E402


class UNet(nn.Module):
    """A two-level U-Net: conv-BN-ReLU blocks, max-pool down, transposed conv up, skip concat."""

    def __init__(self, c: int = 8) -> None:
        super().__init__()

        def block(i: int, o: int) -> nn.Sequential:
            return nn.Sequential(nn.Conv2d(i, o, 3, padding=1), nn.BatchNorm2d(o), nn.ReLU())

        self.enc1, self.enc2 = block(3, c), block(c, 2 * c)
        self.pool = nn.MaxPool2d(2)
        self.mid = block(2 * c, 4 * c)
        self.up2, self.dec2 = nn.ConvTranspose2d(4 * c, 2 * c, 2, stride=2), block(4 * c, 2 * c)
        self.up1, self.dec1 = nn.ConvTranspose2d(2 * c, c, 2, stride=2), block(2 * c, c)
        self.head = nn.Conv2d(c, 2, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        e1 = self.enc1(x)
        e2 = self.enc2(self.pool(e1))
        m = self.mid(self.pool(e2))
        d2 = self.dec2(torch.cat([self.up2(m), e2], dim=1))
        d1 = self.dec1(torch.cat([self.up1(d2), e1], dim=1))
        return self.head(d1)


class Assorted(nn.Module):
    """The remaining ONNX ops the frontend maps: GroupNorm, InstanceNorm, ceil-mode average
    pooling, Resize, Pad, ConvTranspose with output_padding, Einsum, ReduceMean, PReLU."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.gn = nn.GroupNorm(2, 8)
        self.inorm = nn.InstanceNorm2d(8, affine=True)
        self.pool = nn.AvgPool2d(3, 2, padding=1, ceil_mode=True)
        self.up = nn.Upsample(scale_factor=2, mode="nearest")
        self.deconv = nn.ConvTranspose2d(8, 4, 3, stride=2, padding=1, output_padding=1)
        self.mix = nn.Parameter(torch.randn(6, 4))
        self.act = nn.PReLU(6)
        self.act1 = nn.PReLU()  # one learned slope: a one-element initializer that is a parameter
        self.fc = nn.Linear(6, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(self.inorm(self.gn(self.conv(x))))
        x = nn.functional.pad(self.up(x), (1, 2, 0, 1))
        x = torch.einsum("bchw,oc->bohw", self.deconv(x), self.mix)
        x = self.act1(self.act(x)).mean((2, 3))
        return torch.log_softmax(self.fc(x), dim=-1)


class _Logits(nn.Module):
    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.m = model

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.m(input_ids=ids, use_cache=False).logits


def _gpt2() -> nn.Module:
    from transformers import GPT2Config, GPT2LMHeadModel

    cfg = GPT2Config(n_layer=2, n_embd=64, n_head=4, vocab_size=100, n_positions=32, bos_token_id=0, eos_token_id=0)
    return _Logits(GPT2LMHeadModel(cfg))


def _llama() -> nn.Module:
    from transformers import LlamaConfig, LlamaForCausalLM

    cfg = LlamaConfig(
        num_hidden_layers=2, hidden_size=64, intermediate_size=128, num_attention_heads=4, num_key_value_heads=2,
        vocab_size=100, max_position_embeddings=32, bos_token_id=0, eos_token_id=0, pad_token_id=0,
    )
    return _Logits(LlamaForCausalLM(cfg))


IMAGE = (1, 3, 32, 32)
CASES = {
    "resnet": (lambda: ResNet(BasicBlock, [1, 1, 1, 1], num_classes=10), IMAGE, False),
    "resnet_dynamo": (lambda: ResNet(BasicBlock, [1, 1, 1, 1], num_classes=10), IMAGE, True),
    "mobilenet_v2": (lambda: MobileNetV2(num_classes=10), IMAGE, False),
    "unet": (UNet, (1, 3, 32, 32), False),
    "vit": (lambda: VisionTransformer(32, 8, layers=2, heads=2, dim=32, mlp_dim=64, num_classes=10), IMAGE, False),
    "lstm": (lambda: nn.LSTM(16, 32, num_layers=2, batch_first=True), (1, 5, 16), False),
    "gru_bidirectional": (lambda: nn.GRU(16, 24, bidirectional=True, batch_first=True), (1, 5, 16), False),
    "assorted": (Assorted, (1, 3, 15, 15), False),
    "gpt2": (_gpt2, "ids", True),
    "llama": (_llama, "ids", True),
}

# PyTorch-frontend rows whose module the exporter recorded (the rest: dropouts and activations
# the exporter folds away, modules reused twice, a bare nn.LSTM whose only row is the model).
MODULES_COMPARED = {"resnet": 32, "resnet_dynamo": 32, "mobilenet_v2": 140, "unet": 19, "vit": 16, "lstm": 0,
                    "gru_bidirectional": 0, "assorted": 8, "gpt2": 24, "llama": 25}


def _export(name: str, path: Path) -> tuple[nn.Module, torch.Tensor]:
    build, shape, dynamo = CASES[name]
    torch.manual_seed(0)
    model = build().eval()
    x = torch.randint(0, 100, (1, 8)) if shape == "ids" else torch.randn(*shape)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if dynamo:
            torch.onnx.export(model, (x,), str(path), dynamo=True, optimize=False, verbose=False)
        else:
            torch.onnx.export(model, (x,), str(path), dynamo=False, do_constant_folding=False)
    return model, x


@pytest.mark.parametrize("name", list(CASES))
def test_onnx_export_matches_torch_frontend(name, tmp_path):
    path = tmp_path / f"{name}.onnx"
    model, x = _export(name, path)
    with torch.backends.mkldnn.flags(enabled=False):
        expected = torch_summary(model, input_data=[x])
    got = onnx_summary(path)
    assert got.totals.params == expected.totals.params
    assert got.totals.multiply_adds == expected.totals.multiply_adds
    assert got.output_shapes == expected.output_shapes
    assert not any("not counted (no netsize rule" in n for n in got.notes), got.notes
    # Module by module: the last node the exporter recorded under a module's path makes its output.
    compared = 0
    for row in expected.layers:
        members = [r for r in got.layers if r.name.startswith(row.name + ".")]
        if members and "#" not in row.name:
            assert members[-1].output_shape == row.output_shape, (row.name, members[-1].name)
            compared += 1
    assert compared >= MODULES_COMPARED[name]


def test_torchscript_names_group_by_module(tmp_path):
    path = tmp_path / "resnet.onnx"
    _export("resnet", path)
    s = onnx_summary(path)
    assert "layer1.0.conv1.Conv" in [r.name for r in s.layers]
    blocks = {r.name: r for r in s.rows(depth=1)}
    assert blocks["layer1"].params == sum(r.params for r in s.layers if r.name.startswith("layer1."))
    assert blocks["conv1"].output_shape == (1, 64, 16, 16)


def test_symbolic_dimensions_need_input_size(tmp_path):
    path = tmp_path / "dyn.onnx"
    model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU())
    torch.onnx.export(model, (torch.randn(1, 3, 16, 16),), str(path), dynamo=False,
                      input_names=["image"], dynamic_axes={"image": {0: "batch", 2: "height"}})
    with pytest.raises(NetsizeError, match=r"image \[batch, 3, height, 16\] \(symbolic: batch, height\)"):
        onnx_summary(path)
    s = onnx_summary(path, input_sizes={"image": (2, 3, 20, 16)})
    assert s.output_shapes == ((2, 8, 18, 14),)
    assert s.totals.multiply_adds == 2 * 8 * 18 * 14 * 27


def _model_with(nodes, inputs, outputs, inits=()):
    from onnx import helper

    return helper.make_model(helper.make_graph(nodes, "g", inputs, outputs, list(inits)))


def test_shape_disagreement_with_onnx_inference_fails_loudly():
    from onnx import TensorProto, helper

    # The graph declares an output shape that contradicts Reshape's target: onnx states (2, 6),
    # netsize computes (2, 6); a wrong declared value_info makes them differ.
    m = _model_with(
        [helper.make_node("Relu", ["x"], ["y"], name="relu")],
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 6])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 6])],
    )
    from netsize.frontends.onnx import check_shapes, network_from_onnx

    graph = network_from_onnx(m)
    graph.onnx_shapes["relu"] = (2, 7)
    from netsize import analyze

    expected = r"relu: netsize computes output shape 2x6 but onnx.shape_inference states 2x7"
    with pytest.raises(NetsizeError, match=expected):
        check_shapes(analyze(graph.network, batch_size=2), graph)


def test_op_without_rule_is_listed_in_notes():
    from onnx import TensorProto, helper

    m = _model_with(
        [helper.make_node("CumSum", ["x", "axis"], ["y"], name="cumsum")],
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8])],
        [helper.make_tensor("axis", TensorProto.INT64, [], [1])],
    )
    s = onnx_summary(m)
    assert s.layer("cumsum").kind == "Uncounted"
    assert any("CumSum x1" in n for n in s.notes)


def test_external_data_is_never_read(tmp_path):
    path = tmp_path / "big.onnx"
    model = nn.Sequential(nn.Linear(64, 32), nn.ReLU())
    torch.onnx.export(model, (torch.randn(1, 64),), str(path), dynamo=False)
    m = onnx.load(str(path))
    onnx.save(m, str(path), save_as_external_data=True, all_tensors_to_one_file=True, location="w.bin",
              size_threshold=0)
    (tmp_path / "w.bin").unlink()  # weights gone: the graph alone must do
    s = onnx_summary(path)
    assert s.totals.params == 64 * 32 + 32
    assert s.totals.multiply_adds == 64 * 32


def test_onnx_tool_anchor_on_resnet(tmp_path):
    """onnx-tool's per-node MACs: every Conv equal; a Gemm one more per output element (onnx-tool
    adds the bias add, which netsize keeps in other_ops); BatchNormalization, Relu, Add and the
    pools are MACs for onnx-tool and other_ops for netsize (FlopCounterMode counts none of them)."""
    import contextlib
    import io

    onnx_tool = pytest.importorskip("onnx_tool")
    from netsize.frontends.onnx._graph import _dotted

    path = tmp_path / "resnet.onnx"
    _export("resnet", path)
    with contextlib.redirect_stdout(io.StringIO()):
        g = onnx_tool.Model(str(path)).graph
        g.shape_infer()
        g.profile()
    s = onnx_summary(path)
    rows = {r.name: r for r in s.layers}
    compared = 0
    for name, node in g.nodemap.items():
        if node.op_type not in ("Conv", "Gemm"):
            continue
        parts = [p for p in name.split("/") if p]
        ours = rows[".".join([*_dotted(parts[:-1]), parts[-1]])]
        macs = int(node.macs[0] if isinstance(node.macs, list | tuple) else node.macs)
        bias_adds = ours.other_ops if node.op_type == "Gemm" else 0
        assert macs == ours.multiply_adds + bias_adds, name
        compared += 1
    assert compared == sum(1 for r in s.layers if r.kind in ("Conv2d", "Linear")) == 13


def test_cli_summary_of_onnx_file(tmp_path):
    path = tmp_path / "small.onnx"
    model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 6 * 6, 4))
    torch.onnx.export(model, (torch.randn(1, 3, 8, 8),), str(path), dynamo=False)
    proc = subprocess.run([sys.executable, "-m", "netsize", "summary", str(path)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "1,380" in proc.stdout  # 3*3*3*8 + 8 + 288*4 + 4


@pytest.mark.parametrize("rank", [3, 4])
def test_onnx_attention_op_counts_as_its_two_matmuls(rank):
    from onnx import TensorProto, helper

    b, h, kv, s, d = 2, 4, 2, 6, 8
    if rank == 3:
        q, k = [b, s, h * d], [b, s, kv * d]
        attrs = {"q_num_heads": h, "kv_num_heads": kv}
    else:
        q, k = [b, h, s, d], [b, kv, s, d]
        attrs = {}
    node = helper.make_node("Attention", ["q", "k", "v"], ["y"], name="/attn/Attention", **attrs)
    inputs = [helper.make_tensor_value_info(n, TensorProto.FLOAT, shape) for n, shape in (("q", q), ("k", k), ("v", k))]
    out = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    m = helper.make_model(helper.make_graph([node], "g", inputs, [out]), opset_imports=[helper.make_opsetid("", 23)])
    s_ = onnx_summary(m)
    assert s_.output_shapes == ((b, s, h * d),) if rank == 3 else ((b, h, s, d),)
    assert s_.totals.multiply_adds == 2 * b * h * s * s * d  # q@k^T and scores@v per query head


def test_reading_an_onnx_file_does_not_import_torch(tmp_path):
    path = tmp_path / "small.onnx"
    torch.onnx.export(nn.Sequential(nn.Linear(4, 2)), (torch.randn(1, 4),), str(path), dynamo=False)
    code = (
        "import io, sys, contextlib\n"
        "from netsize.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        f"    assert main(['summary', {str(path)!r}]) == 0\n"
        "print(','.join(m for m in ('torch', 'onnxruntime', 'transformers') if m in sys.modules))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == ""


def test_gemm_of_computed_tensors_with_transposes_and_c():
    from onnx import TensorProto, helper

    m = _model_with(
        [helper.make_node("Gemm", ["a", "b", "c"], ["y"], name="/gemm/Gemm", transA=1, transB=1)],
        [helper.make_tensor_value_info("a", TensorProto.FLOAT, [5, 2]),
         helper.make_tensor_value_info("b", TensorProto.FLOAT, [5, 5])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 5])],
        [helper.make_tensor("c", TensorProto.FLOAT, [1, 5], [0.0] * 5)],
    )
    s = onnx_summary(m)
    assert s.output_shapes == ((2, 5),)
    assert s.totals.multiply_adds == 2 * 5 * 5
    assert s.totals.params == 5  # C is a learned bias: it feeds a node with a computed input


def test_rotary_embedding_op_is_elementwise_work_and_its_tables_are_not_params():
    from onnx import TensorProto, helper

    node = helper.make_node("RotaryEmbedding", ["x", "cos", "sin", "pos"], ["y"], name="/rope/RotaryEmbedding",
                            num_heads=2)
    m = helper.make_model(
        helper.make_graph(
            [node], "g",
            [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8, 16]),
             helper.make_tensor_value_info("pos", TensorProto.INT64, [1, 8])],
            [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
            [helper.make_tensor("cos", TensorProto.FLOAT, [8, 4], [1.0] * 32),
             helper.make_tensor("sin", TensorProto.FLOAT, [8, 4], [0.0] * 32)],
        ),
        opset_imports=[helper.make_opsetid("", 23)],
    )
    s = onnx_summary(m)
    assert s.output_shapes == ((1, 8, 16),)
    assert (s.totals.params, s.totals.multiply_adds, s.totals.other_ops) == (0, 0, 3 * 8 * 16)


def test_reading_a_file_never_imports_onnx_and_onnx_still_imports_after(tmp_path):
    """The CLI reads ONNX with the generated schema and onnx's extension only (``import onnx``
    costs a second, in ml_dtypes); a later ``import onnx`` reuses both."""
    from onnx import TensorProto, helper

    w = helper.make_tensor("fc.weight", TensorProto.FLOAT, [3, 4], [0.0] * 12)
    g = helper.make_graph([helper.make_node("Gemm", ["x", "fc.weight"], ["y"], name="/fc/Gemm", transB=1)], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 4])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3])], [w])
    path = tmp_path / "fc.onnx"
    onnx.save(helper.make_model(g), str(path))
    code = (
        "import sys\n"
        "from netsize.frontends.onnx import summary\n"
        f"s = summary({str(path)!r})\n"
        "print(s.totals.params, s.totals.multiply_adds, any('not cross-checked' in n for n in s.notes))\n"
        "print(sorted(m for m in sys.modules if m == 'onnx' or m.startswith('ml_dtypes')))\n"
        "import onnx, onnx.shape_inference\n"
        f"m = onnx.load({str(path)!r})\n"
        "print(len(onnx.shape_inference.infer_shapes(m).graph.output), type(m) is onnx.ModelProto)\n"
    )
    src = Path(__file__).resolve().parents[2] / "src"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={"PYTHONPATH": str(src), "PATH": "/usr/bin:/bin"}).stdout.split("\n")
    assert out[:3] == ["12 24 False", "[]", "1 True"]
