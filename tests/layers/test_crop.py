"""CenterCrop: output shapes, errors, receptive field; compared with slicing a torch tensor."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netsize import CHANNELS_LAST, Graph, NetsizeError, Sequential, analyze, layers


def test_crop_to_match_second_input_unet_skip():
    # U-Net (Ronneberger et al. 2015, fig. 1): the 64x64x512 encoder map is cropped to 56x56.
    g = Graph("skip", inputs={"enc": (512, 64, 64), "up": (512, 56, 56)})
    g.add("crop", layers.CenterCrop(), inputs=["enc", "up"])
    s = analyze(g.build(), batch_size=2)
    r = s.layer("crop")
    assert r.output_shape == (2, 512, 56, 56)
    assert (r.params, r.multiply_adds, r.other_ops, r.saved_elements) == (0, 0, 0, 0)
    text = s.explain("crop")
    assert "O_H = size of input 1 = 56" in text
    assert "crop_H = I_H - O_H = 64 - 56 = 8  (8 removed: 4 before, 4 after)" in text


def test_crop_to_size_and_per_axis_sizes():
    s = analyze(Sequential([("c", layers.CenterCrop(5))], input_shape=(3, 9, 8)))
    assert s.layer("c").output_shape == (1, 3, 5, 5)
    s = analyze(Sequential([("c", layers.CenterCrop((4, 2, 3)))], input_shape=(3, 9, 8, 7)))
    assert s.layer("c").output_shape == (1, 3, 4, 2, 3)


def test_crop_channels_last():
    s = analyze(Sequential([("c", layers.CenterCrop((4, 6)))], input_shape=(9, 8, 3), layout=CHANNELS_LAST))
    assert s.layer("c").output_shape == (1, 4, 6, 3)


def test_crop_shifts_the_receptive_field_start():
    # Input pixel centres are at 0.5, 1.5, ...; removing 2 pixels before moves the first to 2.5.
    s = analyze(Sequential([("c", layers.CenterCrop(4))], input_shape=(1, 8, 8)))
    rf = s.layer("c").receptive_field
    assert [(f.size, f.jump, float(f.start)) for f in rf] == [(1, 1, 2.5), (1, 1, 2.5)]


def test_crop_errors():
    with pytest.raises(NetsizeError, match="cannot crop axis H of size 4 to 5"):
        analyze(Sequential([("c", layers.CenterCrop(5))], input_shape=(1, 4, 9)))
    with pytest.raises(NetsizeError, match="needs a size, or a second input"):
        analyze(Sequential([("c", layers.CenterCrop())], input_shape=(1, 4, 4)))
    with pytest.raises(NetsizeError, match=r"size \[2, 2\] has 2 axes but the input has 3"):
        analyze(Sequential([("c", layers.CenterCrop((2, 2)))], input_shape=(1, 4, 4, 4)))
    with pytest.raises(NetsizeError, match="must be positive integers"):
        layers.CenterCrop(0)
    g = Graph("g", inputs={"a": (1, 4, 4), "b": (1, 2, 2)})
    g.add("c", layers.CenterCrop(2), inputs=["a", "b"])
    with pytest.raises(NetsizeError, match="either size or a second input"):
        analyze(g.build())


@settings(max_examples=200, deadline=None)
@given(
    size=st.lists(st.integers(1, 12), min_size=1, max_size=3),
    data=st.data(),
)
def test_crop_matches_torch_slicing(size, data):
    torch = pytest.importorskip("torch")
    target = [data.draw(st.integers(1, s)) for s in size]
    x = torch.empty((2, 3, *size), device="meta")
    index = [slice(None), slice(None)] + [
        slice((s - t) // 2, (s - t) // 2 + t) for s, t in zip(size, target, strict=True)
    ]
    expected = tuple(x[tuple(index)].shape)
    s = analyze(Sequential([("c", layers.CenterCrop(tuple(target)))], input_shape=(3, *size)), batch_size=2)
    assert s.layer("c").output_shape == expected
