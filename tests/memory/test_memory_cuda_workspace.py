"""CUDA's own memory: cuBLAS workspaces (PyTorch's documented default sizes) and the estimated
cuDNN convolution workspace, the same in both methods and shown on its own line."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from netsize import Sequential, layers, zoo
from netsize.memory import block_bytes, estimate
from netsize.memory._cuda_workspace import (
    CUBLAS_WORKSPACE_DEFAULT_BYTES,
    CUBLAS_WORKSPACE_HOPPER_BYTES,
    cublas_workspace_bytes,
    cudnn_conv_workspace_bytes,
)

torch = pytest.importorskip("torch")


def test_cublas_workspace_is_pytorchs_default_config():
    # CublasHandlePool.cpp: "4096 * 8 * 1024" on sm90, ":4096:2:16:8" (4096 KiB x 2 + 16 KiB x 8) elsewhere
    assert CUBLAS_WORKSPACE_HOPPER_BYTES == 33_554_432
    assert CUBLAS_WORKSPACE_DEFAULT_BYTES == 4096 * 1024 * 2 + 16 * 1024 * 8 == 8_519_680
    assert cublas_workspace_bytes(training=True) == 2 * cublas_workspace_bytes(training=False)


@pytest.mark.parametrize(
    ("kernel", "stride", "groups", "has_workspace"),
    [((3, 3), (1, 1), 1, True), ((1, 1), (1, 1), 1, False), ((3, 3), (2, 2), 1, False), ((3, 3), (1, 1), 32, False)],
)
def test_only_dense_3x3_stride_1_convolutions_get_a_workspace(kernel, stride, groups, has_workspace):
    ws = cudnn_conv_workspace_bytes(kernel, stride, (1, 1), groups, 4096)
    assert ws == (2 * 4096 if has_workspace else 0)


def test_vgg16_inference_holds_twice_the_first_224x224x64_activation_in_both_methods():
    torch_models = pytest.importorskip("torch_models")
    with torch.device("meta"):
        mod = torch_models.build("vgg16")
    net = estimate(zoo.get("vgg16").build(), 32)
    obs = estimate(mod, 32, input_size=(3, 224, 224))
    first = block_bytes(32 * 64 * 224 * 224 * 4)
    assert net.cudnn_workspace_bytes == obs.cudnn_workspace_bytes == 2 * first
    assert net.peak_inference_bytes == obs.peak_inference_bytes
    # at its peak (the second 64-channel convolution): weights, input, the conv's input and output, workspace
    assert net.peak_inference_bytes == net.weights_bytes + net.input_bytes + 2 * first + 2 * first
    assert net.to_dict()["cublas_workspace_bytes"] == 2 * CUBLAS_WORKSPACE_HOPPER_BYTES


def test_a_network_without_convolutions_has_no_cudnn_workspace():
    net = Sequential([("fc", layers.Linear(64, 64))], input_shape=(64,))
    assert estimate(net, 8).cudnn_workspace_bytes == 0


def test_cli_shows_cuda_workspaces_on_their_own_line():
    out = subprocess.run([sys.executable, "-m", "netsize", "memory", "vgg16", "-b", "2"], capture_output=True,
                         text=True, check=True).stdout
    line = next(x for x in out.splitlines() if x.strip().startswith("CUDA workspaces, estimated"))
    assert "MiB" in line and "cuBLAS, per process (not in the peaks)" in out
    js = json.loads(subprocess.run([sys.executable, "-m", "netsize", "memory", "vgg16", "-b", "2", "--format",
                                    "json"], capture_output=True, text=True, check=True).stdout)
    assert js["cudnn_workspace_bytes"] == 2 * block_bytes(2 * 64 * 224 * 224 * 4)
