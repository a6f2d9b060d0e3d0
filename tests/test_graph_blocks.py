"""Non-chain blocks: an Inception module and a DenseNet dense block with its transition,
built with netsize's Graph API and as a YAML spec, against the same blocks in torch.nn
(output shape, parameters, buffers, FlopCounterMode multiply-adds)."""

from __future__ import annotations

import pytest

from netsize import Graph, Network, analyze, layers
from netsize.spec import load_spec

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

# GoogLeNet's inception (3a): 192 channels in; 64 | 96->128 | 16->32 | pool->32 = 256 out.
INCEPTION = {"c1": 64, "c3r": 96, "c3": 128, "c5r": 16, "c5": 32, "pool": 32}


class TorchInception(nn.Module):
    def __init__(self, cin: int) -> None:
        super().__init__()
        c = INCEPTION
        self.b1 = nn.Sequential(nn.Conv2d(cin, c["c1"], 1), nn.ReLU())
        self.b2 = nn.Sequential(nn.Conv2d(cin, c["c3r"], 1), nn.ReLU(), nn.Conv2d(c["c3r"], c["c3"], 3, padding=1))
        self.b3 = nn.Sequential(nn.Conv2d(cin, c["c5r"], 1), nn.ReLU(), nn.Conv2d(c["c5r"], c["c5"], 5, padding=2))
        self.b4 = nn.Sequential(nn.MaxPool2d(3, stride=1, padding=1), nn.Conv2d(cin, c["pool"], 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.b1(x), self.b2(x), self.b3(x), self.b4(x)], dim=1)


def netsize_inception(cin: int, size: int) -> Network:
    c = INCEPTION
    g = Graph("inception", input_shape=(cin, size, size))
    g.add("b1.conv", layers.Conv2d(out_channels=c["c1"], kernel_size=1), inputs="input")
    b1 = g.add("b1.relu", layers.ReLU())
    g.add("b2.reduce", layers.Conv2d(out_channels=c["c3r"], kernel_size=1), inputs="input")
    g.add("b2.relu", layers.ReLU())
    b2 = g.add("b2.conv", layers.Conv2d(out_channels=c["c3"], kernel_size=3, padding=1))
    g.add("b3.reduce", layers.Conv2d(out_channels=c["c5r"], kernel_size=1), inputs="input")
    g.add("b3.relu", layers.ReLU())
    b3 = g.add("b3.conv", layers.Conv2d(out_channels=c["c5"], kernel_size=5, padding=2))
    g.add("b4.pool", layers.MaxPool2d(3, stride=1, padding=1), inputs="input")
    b4 = g.add("b4.conv", layers.Conv2d(out_channels=c["pool"], kernel_size=1))
    g.add("concat", layers.Concat(dim=1), inputs=[b1, b2, b3, b4])
    return g.build()


INCEPTION_SPEC = """
name: inception-3a
input: [192, 28, 28]
layers:
  - b1: {type: conv2d, out_channels: 64, kernel_size: 1, from: input}
  - b1_relu: relu
  - b2_reduce: {type: conv2d, out_channels: 96, kernel_size: 1, from: input}
  - b2_relu: relu
  - b2: {type: conv2d, out_channels: 128, kernel_size: 3, padding: 1}
  - b3_reduce: {type: conv2d, out_channels: 16, kernel_size: 1, from: input}
  - b3_relu: relu
  - b3: {type: conv2d, out_channels: 32, kernel_size: 5, padding: 2}
  - b4_pool: {type: maxpool2d, kernel_size: 3, stride: 1, padding: 1, from: input}
  - b4: {type: conv2d, out_channels: 32, kernel_size: 1}
  - concat: {type: concat, from: [b1_relu, b2, b3, b4]}
"""

GROWTH, BN_SIZE, DENSE_LAYERS = 32, 4, 4


class TorchDenseLayer(nn.Module):
    def __init__(self, cin: int) -> None:
        super().__init__()
        self.norm1, self.relu1 = nn.BatchNorm2d(cin), nn.ReLU()
        self.conv1 = nn.Conv2d(cin, BN_SIZE * GROWTH, 1, bias=False)
        self.norm2, self.relu2 = nn.BatchNorm2d(BN_SIZE * GROWTH), nn.ReLU()
        self.conv2 = nn.Conv2d(BN_SIZE * GROWTH, GROWTH, 3, padding=1, bias=False)

    def forward(self, features: list[torch.Tensor]) -> torch.Tensor:
        x = torch.cat(features, 1)
        return self.conv2(self.relu2(self.norm2(self.conv1(self.relu1(self.norm1(x))))))


class TorchDenseBlock(nn.Module):
    """DenseNet-121's first dense block shape (4 layers here) and its transition, as torchvision."""

    def __init__(self, cin: int) -> None:
        super().__init__()
        self.layers = nn.ModuleList(TorchDenseLayer(cin + i * GROWTH) for i in range(DENSE_LAYERS))
        cout = cin + DENSE_LAYERS * GROWTH
        self.transition = nn.Sequential(
            nn.BatchNorm2d(cout), nn.ReLU(), nn.Conv2d(cout, cout // 2, 1, bias=False), nn.AvgPool2d(2, 2)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = [x]
        for layer in self.layers:
            features.append(layer(features))
        return self.transition(torch.cat(features, 1))


def netsize_dense_block(cin: int, size: int) -> Network:
    g = Graph("dense-block", input_shape=(cin, size, size))
    features = ["input"]
    for i in range(DENSE_LAYERS):
        p = f"layers.{i}"
        x = g.add(f"{p}.cat", layers.Concat(dim=1), inputs=features) if len(features) > 1 else features[0]
        g.add(f"{p}.norm1", layers.BatchNorm2d(), inputs=x)
        g.add(f"{p}.relu1", layers.ReLU())
        g.add(f"{p}.conv1", layers.Conv2d(out_channels=BN_SIZE * GROWTH, kernel_size=1, bias=False))
        g.add(f"{p}.norm2", layers.BatchNorm2d())
        g.add(f"{p}.relu2", layers.ReLU())
        features.append(g.add(f"{p}.conv2", layers.Conv2d(out_channels=GROWTH, kernel_size=3, padding=1, bias=False)))
    g.add("cat", layers.Concat(dim=1), inputs=features)
    cout = cin + DENSE_LAYERS * GROWTH
    g.add("transition.norm", layers.BatchNorm2d())
    g.add("transition.relu", layers.ReLU())
    g.add("transition.conv", layers.Conv2d(out_channels=cout // 2, kernel_size=1, bias=False))
    g.add("transition.pool", layers.AvgPool2d(2, stride=2))
    return g.build()


def _torch_counts(module: nn.Module, shape: tuple[int, ...]) -> tuple[tuple[int, ...], int, int, int]:
    counter = FlopCounterMode(display=False)
    with counter:
        out = module(torch.empty(shape, device="meta"))
    params = sum(p.numel() for p in module.parameters())
    buffers = sum(b.numel() for b in module.buffers())
    return tuple(out.shape), params, buffers, counter.get_total_flops() // 2


@pytest.mark.parametrize("batch", [1, 3])
def test_inception_module_matches_torch(batch: int) -> None:
    with torch.device("meta"):
        module = TorchInception(192)
    shape, params, buffers, macs = _torch_counts(module, (batch, 192, 28, 28))
    for network in (netsize_inception(192, 28), load_spec(INCEPTION_SPEC)):
        s = analyze(network, batch_size=batch)
        assert s.output_shapes == (shape,) == ((batch, 256, 28, 28),)
        assert (s.totals.params, s.totals.buffers, s.totals.multiply_adds) == (params, buffers, macs)


@pytest.mark.parametrize("batch", [1, 2])
def test_dense_block_with_transition_matches_torch(batch: int) -> None:
    with torch.device("meta"):
        module = TorchDenseBlock(64)
    shape, params, buffers, macs = _torch_counts(module, (batch, 64, 56, 56))
    s = analyze(netsize_dense_block(64, 56), batch_size=batch)
    assert s.output_shapes == (shape,) == ((batch, 96, 28, 28),)
    assert (s.totals.params, s.totals.buffers, s.totals.multiply_adds) == (params, buffers, macs)
