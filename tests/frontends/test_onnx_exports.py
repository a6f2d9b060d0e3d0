"""Files real exporters write, read back: the suite's own models exported by both exporters
(TorchScript ``dynamo=False`` and ``dynamo=True``, each with its default constant folding /
optimiser and without), stored inline, as external data beside the model, and as external data
whose weights file was deleted. netsize's params, multiply-adds and output shapes must equal its
PyTorch frontend's on the module, except where the exporter changed the model, which netsize
then reports as the file holds it (``expected_params``).
"""

from __future__ import annotations

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
from torch_models import BasicBlock, ResNet, VisionTransformer  # noqa: E402


class RelativePositionBias(nn.Module):
    """Swin's relative position bias: a learned ``(2w-1)**2 x heads`` table read as
    ``table[index]`` (Gather in TorchScript exports, GatherND in dynamo ones)."""

    def __init__(self, w: int = 4, heads: int = 3, dim: int = 8) -> None:
        super().__init__()
        self.table = nn.Parameter(torch.randn((2 * w - 1) ** 2, heads))
        coords = torch.stack(torch.meshgrid(torch.arange(w), torch.arange(w), indexing="ij")).flatten(1)
        rel = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0) + (w - 1)
        self.register_buffer("index", (rel[..., 0] * (2 * w - 1) + rel[..., 1]).flatten(), persistent=False)
        self.n, self.heads = w * w, heads
        self.qkv = nn.Linear(dim, 3 * dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        bias = self.table[self.index].view(self.n, self.n, self.heads).permute(2, 0, 1)
        q, k, _ = self.qkv(x).chunk(3, -1)
        return (q @ k.transpose(-1, -2)).unsqueeze(1) + bias


class Upsampler(nn.Module):
    """A decoder step: conv, GroupNorm, PReLU, nearest upsampling by 2 (an optimised export
    stores Resize's scales as a float initializer), conv."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.gn = nn.GroupNorm(2, 8)
        self.act = nn.PReLU(8)
        self.up = nn.Upsample(scale_factor=2, mode="nearest")
        self.head = nn.Conv2d(8, 4, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.up(self.act(self.gn(self.conv(x)))))


MODELS = {
    "resnet": (lambda: ResNet(BasicBlock, [1, 1, 1, 1], num_classes=10), (1, 3, 32, 32)),
    "vit": (lambda: VisionTransformer(32, 8, layers=2, heads=2, dim=32, mlp_dim=64, num_classes=10), (1, 3, 32, 32)),
    "upsampler": (Upsampler, (1, 3, 15, 15)),
    "relative_position_bias": (RelativePositionBias, (1, 16, 8)),
}
EXPORTERS = {
    "torchscript": {"dynamo": False},  # constant folding on (the default)
    "torchscript_unfolded": {"dynamo": False, "do_constant_folding": False},
    "dynamo": {"dynamo": True},  # optimize=True (the default)
    "dynamo_unoptimised": {"dynamo": True, "optimize": False},
}


def _randomised(model: nn.Module) -> nn.Module:
    """Every parameter and statistic random: no zero bias an optimiser may drop, no fresh batch
    norm it may fold away."""
    torch.manual_seed(0)
    with torch.no_grad():
        for p in model.parameters():
            p.normal_()
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.normal_()
                m.running_var.uniform_(0.5, 2.0)
    return model.eval()


def expected_params(model: nn.Module, exporter: str, torch_params: int) -> int:
    """What the file holds. Constant folding (TorchScript's default, dynamo's optimiser) folds
    each eval-mode BatchNorm into the convolution before it: the conv gains a C-element bias and
    the norm's 2C parameters go. It also folds ``table[index]`` into the gathered tensor, stored
    whole. The dynamo optimiser writes GroupNorm as an InstanceNormalization over the groups,
    with a stored scale and bias of G elements each."""
    if exporter not in ("torchscript", "dynamo"):
        return torch_params
    n = torch_params
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            n -= m.num_features
        if isinstance(m, RelativePositionBias):
            n += m.index.numel() * m.heads - m.table.numel()
        if isinstance(m, nn.GroupNorm) and exporter == "dynamo":
            n += 2 * m.num_groups
    return n


def _store(path: Path, storage: str) -> Path:
    if storage == "inline":
        return path
    out = path.with_name(f"{path.stem}_{storage}.onnx")
    m = onnx.load(str(path))
    # every tensor outside (threshold 0), or onnx's default threshold with the weights file deleted
    threshold = 0 if storage == "external" else 1024
    onnx.save(m, str(out), save_as_external_data=True, all_tensors_to_one_file=True, location=out.name + ".data",
              size_threshold=threshold)
    if storage == "external_deleted":
        (out.parent / (out.name + ".data")).unlink(missing_ok=True)
    return out


@pytest.mark.parametrize("exporter", list(EXPORTERS))
@pytest.mark.parametrize("name", list(MODELS))
def test_export_equals_torch_frontend(name: str, exporter: str, tmp_path: Path) -> None:
    build, shape = MODELS[name]
    model = _randomised(build())
    x = torch.randn(*shape)
    with torch.backends.mkldnn.flags(enabled=False):
        expected = torch_summary(model, input_data=[x])
    path = tmp_path / f"{name}.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (x,), str(path), verbose=False, **EXPORTERS[exporter])
    params = expected_params(model, exporter, expected.totals.params)
    for storage in ("inline", "external", "external_deleted"):
        got = onnx_summary(_store(path, storage))
        assert (storage, got.totals.params) == (storage, params)
        assert (storage, got.totals.multiply_adds) == (storage, expected.totals.multiply_adds)
        assert (storage, got.output_shapes) == (storage, expected.output_shapes)


def test_a_deleted_external_shape_is_a_clear_error(tmp_path: Path) -> None:
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    inits = [numpy_helper.from_array(np.array([2, 6], dtype=np.int64), "shape"),
             numpy_helper.from_array(np.zeros((2, 6), dtype=np.float32), "fc.weight")]
    nodes = [helper.make_node("Reshape", ["x", "shape"], ["r"], name="/Reshape"),
             helper.make_node("Gemm", ["r", "fc.weight"], ["y"], name="/fc/Gemm", transB=1)]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [3, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 2])], inits)
    path = tmp_path / "m.onnx"
    onnx.save(helper.make_model(graph), str(path), save_as_external_data=True, location="m.data", size_threshold=0)
    assert onnx_summary(path).totals.params == 12  # the shape is read from m.data, the weight never
    (tmp_path / "m.data").unlink()
    with pytest.raises(NetsizeError, match=r"Reshape \(Reshape\): input 1 \('shape'\) is stored in the external data "
                       r"file 'm.data', which is missing"):
        onnx_summary(path)
