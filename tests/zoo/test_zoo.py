"""The built-in networks: every entry builds, and its totals and per-layer tables equal the
published figures and the torchvision reference (sources named per figure)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from netsize import NetsizeError, analyze, zoo

REFERENCE = Path(__file__).resolve().parents[1] / "data" / "reference" / "torchvision_layers.json"
TORCHVISION = "torchvision 0.29.2 via tests/data/reference/torchvision_layers.json (FlopCounterMode, meta device)"

REQUIRED = [
    "lenet5",
    "alexnet",
    "alexnet-grouped",
    "alexnet-d2l",
    "alexnet-torchvision",
    *[f"vgg{d}{bn}" for d in (11, 13, 16, 19) for bn in ("", "_bn")],
    "vgg16-fcn",
    *[f"resnet{d}" for d in (18, 34, 50, 101, 152)],
    "mobilenet_v2",
    "unet",
    "unet-half",
    "unet-half-bn",
    "keras-example",
]

# (entry, input shape, params, multiply-adds or None, source of the figures)
PUBLISHED = [
    ("lenet5", (1, 28, 28), 61_706, None, "d2l 7.6 LeNet: 156 + 2,416 + 48,120 + 10,164 + 850"),
    ("alexnet", (3, 227, 227), 62_378_344, 1_135_256_096, "seed 000 table total; MACs of its 5 conv + 3 FC"),
    ("alexnet-grouped", (3, 227, 227), 60_965_224, 724_406_816, "seed 003 grouped C2/C4/C5 + seed 000 biases"),
    ("alexnet-d2l", (1, 224, 224), 46_764_746, None, "seed 001 (d2l 8.1 AlexNet, 10 classes)"),
    ("alexnet-torchvision", (3, 224, 224), 61_100_840, 714_188_480, TORCHVISION + "; torchvision docs 0.714 GFLOPS"),
    ("vgg16", (3, 224, 224), 138_357_544, 15_470_264_320, "seed 002 (138,357,544); " + TORCHVISION),
    ("vgg16_bn", (3, 224, 224), 138_365_992, None, TORCHVISION),
    ("vgg16-fcn", (3, 384, 384), 138_357_544, None, "seed 003: same params as VGG16, FC as 7x7 and 1x1 convs"),
    ("resnet50", (3, 224, 224), 25_557_032, 4_089_184_256, TORCHVISION + "; torchvision docs 4.089 GFLOPS"),
    ("mobilenet_v2", (3, 224, 224), 3_504_872, 300_774_272, TORCHVISION),
    ("unet", (1, 572, 572), 31_030_658, None, "Ronneberger et al. 2015, fig. 1 architecture, 2 classes"),
    ("unet-half", (1, 256, 256), 7_759_554, None, "seed 004: U-Net without BN"),
    ("unet-half-bn", (1, 256, 256), 7_765_442, None, "seed 004: U-Net with BN"),
    ("keras-example", (224, 224, 3), 2_469, None, "seed 004 model.summary(): 208 + 0 + 2,261"),
]


def _summary(name: str, **variables):
    entry = zoo.get(name)
    return analyze(entry.build(**variables), convention=entry.convention)


def test_names_lists_every_required_entry_once():
    names = zoo.names()
    assert len(names) == len(set(names))
    assert set(REQUIRED) <= set(names)


@pytest.mark.parametrize("name", REQUIRED)
def test_entry_builds_and_analyses(name):
    entry = zoo.get(name)
    assert entry.name == name
    assert entry.description and "\n" not in entry.description
    assert entry.source
    assert entry.convention in ("torch", "keras")
    net = entry.build()
    assert net.inputs == {"input": entry.input_shape}
    assert net.layout == entry.layout
    s = analyze(net, convention=entry.convention)
    assert s.input_shape == (1, *entry.input_shape)
    assert s.totals.params > 0
    assert all(d > 0 for d in s.output_shapes[0])


@pytest.mark.parametrize(("name", "shape", "params", "macs", "source"), PUBLISHED, ids=[p[0] for p in PUBLISHED])
def test_totals_equal_published_figures(name, shape, params, macs, source):
    assert zoo.get(name).input_shape == shape, source
    s = _summary(name)
    assert s.totals.params == params, source
    if macs is not None:
        assert s.totals.multiply_adds == macs, source


def test_lookup_ignores_case_and_separators():
    assert zoo.get("VGG16-BN").name == "vgg16_bn"
    assert zoo.get("mobilenet-v2").name == "mobilenet_v2"
    assert zoo.get("AlexNet_Torchvision").name == "alexnet-torchvision"


def test_unknown_name_suggests_close_matches():
    with pytest.raises(NetsizeError, match=r"unknown zoo model 'resnet51'.*did you mean.*resnet50"):
        zoo.get("resnet51")
    with pytest.raises(NetsizeError, match=r"did you mean.*alexnet"):
        zoo.get("alexnt")


def test_build_variables_change_the_network():
    s = _summary("resnet18", num_classes=10)
    assert s.layer("fc").output_shape == (1, 10)
    assert s.layer("fc").params == 512 * 10 + 10
    s = _summary("resnet18", input_shape=(3, 160, 160))
    assert s.layer("layer4.1.relu@2").output_shape == (1, 512, 5, 5)
    assert _summary("vgg16", input_shape="3x256x256").layer("features.30").output_shape == (1, 512, 8, 8)


def test_unknown_build_variable_names_the_accepted_ones():
    with pytest.raises(NetsizeError, match=r"resnet18: unknown variable\(s\) classes; it accepts input_shape="):
        zoo.get("resnet18").build(classes=10)


# --- torchvision reference, layer by layer -----------------------------------------------------

# Nodes netsize adds for what torchvision's forward does functionally (no module to hook).
FUNCTIONAL = {
    "alexnet-torchvision": {"flatten": "Flatten"},
    "vgg16": {"flatten": "Flatten"},
    "vgg16_bn": {"flatten": "Flatten"},
    "resnet18": {"flatten": "Flatten"},
    "resnet50": {"flatten": "Flatten"},
    "mobilenet_v2": {"avgpool": "AdaptiveAvgPool2d", "flatten": "Flatten"},
}
REFERENCE_NAME = {"alexnet-torchvision": "alexnet"}


def _reference(name: str) -> dict:
    return json.loads(REFERENCE.read_text())[REFERENCE_NAME.get(name, name)]


@pytest.mark.parametrize("name", list(FUNCTIONAL))
def test_layers_equal_torchvision_reference(name):
    ref = _reference(name)
    s = _summary(name)
    functional = dict(FUNCTIONAL[name])
    ours = []
    for r in s.layers:
        if r.kind == "Add":  # out += identity / x + self.conv(x)
            assert r.name.endswith(".add")
            continue
        if functional.get(r.name) == r.kind:
            del functional[r.name]
            continue
        ours.append(
            {
                "name": r.name.split("@")[0],  # a module's later calls: relu@2 is torchvision's relu again
                "type": r.kind,
                "out": list(r.output_shape),
                "params": r.params,
                "buffers": r.buffers,
            }
        )
    assert functional == {}, "functional nodes missing"
    assert len(ours) == len(ref["layers"])
    for mine, theirs in zip(ours, ref["layers"], strict=True):
        assert mine == theirs
    assert [list(o) for o in s.output_shapes] == [ref["output"]]
    assert s.totals.params == ref["params"]
    assert s.totals.buffers == ref["buffers"]
    assert s.totals.flops == ref["flops_flopcounter"]
    assert 2 * s.totals.multiply_adds == ref["flops_flopcounter"]


# --- the same against PyTorch rebuilds (tests/torch_models.py), at other input sizes ------------

TORCH_BUILDS = {
    "alexnet-torchvision": "alexnet",
    **{f"vgg{d}{bn}": f"vgg{d}{bn}" for d in (11, 13, 16, 19) for bn in ("", "_bn")},
    **{f"resnet{d}": f"resnet{d}" for d in (18, 34, 50, 101, 152)},
    "mobilenet_v2": "mobilenet_v2",
}


def _torch_counts(model, shape):
    torch = pytest.importorskip("torch")
    from torch.utils.flop_counter import FlopCounterMode

    model = model.to("meta").eval()
    outs: list[tuple[str, tuple[int, ...]]] = []
    hooks = []
    for mod_name, module in model.named_modules():
        if list(module.children()):
            continue
        hooks.append(
            module.register_forward_hook(lambda m, a, o, mod_name=mod_name: outs.append((mod_name, tuple(o.shape))))
        )
    counter = FlopCounterMode(display=False)
    with counter, torch.device("meta"):
        y = model(torch.empty((1, *shape), device="meta"))
    for h in hooks:
        h.remove()
    params = sum(p.numel() for p in model.parameters())
    buffers = sum(b.numel() for b in model.buffers())
    return outs, tuple(y.shape), params, buffers, counter.get_total_flops()


@pytest.mark.parametrize("name", list(TORCH_BUILDS))
@pytest.mark.parametrize("shape", [(3, 224, 224), (3, 160, 192)], ids=["224", "160x192"])
def test_matches_torch_rebuild(name, shape):
    torch = pytest.importorskip("torch")
    from torch_models import build

    with torch.device("meta"):
        model = build(TORCH_BUILDS[name]).eval()
    outs, out_shape, params, buffers, flops = _torch_counts(model, shape)
    s = _summary(name, input_shape=shape)
    shapes = {r.name.split("@")[0]: [] for r in s.layers}
    for r in s.layers:
        shapes[r.name.split("@")[0]].append(r.output_shape)
    for mod_name, got in outs:
        assert shapes[mod_name].pop(0) == got, mod_name
    assert s.output_shapes[0] == out_shape
    assert (s.totals.params, s.totals.buffers, s.totals.flops) == (params, buffers, flops)


# --- the seed/d2l networks against the same code in PyTorch ------------------------------------


def _d2l_torch(name):
    torch = pytest.importorskip("torch")
    nn = torch.nn
    if name == "lenet5":  # d2l 7.6
        return nn.Sequential(
            nn.Conv2d(1, 6, kernel_size=5, padding=2), nn.Sigmoid(), nn.AvgPool2d(kernel_size=2, stride=2),
            nn.Conv2d(6, 16, kernel_size=5), nn.Sigmoid(), nn.AvgPool2d(kernel_size=2, stride=2),
            nn.Flatten(), nn.Linear(16 * 5 * 5, 120), nn.Sigmoid(),
            nn.Linear(120, 84), nn.Sigmoid(), nn.Linear(84, 10),
        )  # fmt: skip
    if name == "alexnet-d2l":  # seed 001, d2l 8.1
        return nn.Sequential(
            nn.Conv2d(1, 96, kernel_size=11, stride=4, padding=1), nn.ReLU(), nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(96, 256, kernel_size=5, padding=2), nn.ReLU(), nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(256, 384, kernel_size=3, padding=1), nn.ReLU(),
            nn.Conv2d(384, 384, kernel_size=3, padding=1), nn.ReLU(),
            nn.Conv2d(384, 256, kernel_size=3, padding=1), nn.ReLU(),
            nn.MaxPool2d(kernel_size=3, stride=2), nn.Flatten(),
            nn.Linear(6400, 4096), nn.ReLU(), nn.Dropout(p=0.5),
            nn.Linear(4096, 4096), nn.ReLU(), nn.Dropout(p=0.5),
            nn.Linear(4096, 10),
        )  # fmt: skip
    groups = 2 if name == "alexnet-grouped" else 1  # seed 000 / seed 003
    return nn.Sequential(
        nn.Conv2d(3, 96, 11, stride=4), nn.ReLU(), nn.MaxPool2d(3, 2),
        nn.Conv2d(96, 256, 5, padding=2, groups=groups), nn.ReLU(), nn.MaxPool2d(3, 2),
        nn.Conv2d(256, 384, 3, padding=1), nn.ReLU(),
        nn.Conv2d(384, 384, 3, padding=1, groups=groups), nn.ReLU(),
        nn.Conv2d(384, 256, 3, padding=1, groups=groups), nn.ReLU(), nn.MaxPool2d(3, 2),
        nn.Flatten(), nn.Linear(9216, 4096), nn.ReLU(), nn.Dropout(0.5),
        nn.Linear(4096, 4096), nn.ReLU(), nn.Dropout(0.5), nn.Linear(4096, 1000),
    )  # fmt: skip


@pytest.mark.parametrize("name", ["lenet5", "alexnet-d2l", "alexnet", "alexnet-grouped"])
def test_seed_networks_match_the_same_code_in_torch(name):
    outs, _, params, buffers, flops = _torch_counts(_d2l_torch(name), zoo.get(name).input_shape)
    s = _summary(name)
    assert [r.output_shape for r in s.layers] == [o for _, o in outs]
    assert [r.kind for r in s.layers] == [type(m).__name__ for m in _d2l_torch(name)]
    assert (s.totals.params, s.totals.buffers, s.totals.flops) == (params, buffers, flops)


def _torch_unet(base: int, padded: bool, batch_norm: bool):
    """U-Net as Ronneberger et al. 2015 fig. 1 describes it (base=64, unpadded) and as seed 004
    halves it (base=32, padded), written directly in PyTorch."""
    torch = pytest.importorskip("torch")
    nn = torch.nn
    pad = 1 if padded else 0

    def double(cin, cout):
        mods = []
        for c in (cin, cout):
            mods.append(nn.Conv2d(c, cout, 3, padding=pad))
            if batch_norm:
                mods.append(nn.BatchNorm2d(cout))
            mods.append(nn.ReLU())
        return nn.Sequential(*mods)

    class UNet(nn.Module):
        def __init__(self):
            super().__init__()
            widths = [base * 2**k for k in range(5)]
            self.enc = nn.ModuleList([double(1 if k == 0 else widths[k - 1], widths[k]) for k in range(5)])
            self.up = nn.ModuleList([nn.ConvTranspose2d(widths[k + 1], widths[k], 2, stride=2) for k in range(4)])
            self.dec = nn.ModuleList([double(widths[k + 1], widths[k]) for k in range(4)])
            self.out = nn.Conv2d(base, 2, 1)

        def forward(self, x):
            skips = []
            for k in range(4):
                x = self.enc[k](x)
                skips.append(x)
                x = nn.functional.max_pool2d(x, 2)
            x = self.enc[4](x)
            for k in range(3, -1, -1):
                x = self.up[k](x)
                s = skips[k]
                dh, dw = s.shape[2] - x.shape[2], s.shape[3] - x.shape[3]
                s = s[:, :, dh // 2 : dh // 2 + x.shape[2], dw // 2 : dw // 2 + x.shape[3]]
                x = self.dec[k](torch.cat([s, x], dim=1))
            return self.out(x)

    return UNet()


@pytest.mark.parametrize(
    ("name", "base", "padded", "batch_norm"),
    [("unet", 64, False, False), ("unet-half", 32, True, False), ("unet-half-bn", 32, True, True)],
)
def test_unets_match_the_same_network_in_torch(name, base, padded, batch_norm):
    model = _torch_unet(base, padded, batch_norm)
    _, out_shape, params, buffers, flops = _torch_counts(model, zoo.get(name).input_shape)
    s = _summary(name)
    assert s.output_shapes[0] == out_shape
    assert (s.totals.params, s.totals.buffers, s.totals.flops) == (params, buffers, flops)
