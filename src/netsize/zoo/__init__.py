"""Built-in networks, built with the Python builder API (no files to parse).

>>> from netsize import analyze, zoo
>>> entry = zoo.get("alexnet")
>>> entry.input_shape, analyze(entry.build()).totals.params
((3, 227, 227), 62378344)

Node names of the torchvision-derived models equal torchvision's module names
(``features.0``, ``layer1.0.downsample.0``), so tables compare line by line with
``torchvision``. Two conventions cover what torchvision has no module for:

- work done functionally in ``forward`` gets a node named for it: ``flatten`` (``torch.flatten``),
  ``layer1.0.add`` (the residual ``out += identity``), ``avgpool`` in MobileNetV2
  (``adaptive_avg_pool2d``);
- a module called more than once (ResNet's ``relu``) appears once per call; calls after the
  first are named ``<module>@2``, ``<module>@3`` (``layer1.0.relu@2``).
"""

from __future__ import annotations

from netsize.zoo._entry import ZooEntry, get, names, register

__all__ = ["ZooEntry", "get", "names", "register"]

# The family modules register their entries when imported; their order is the listing order.
from netsize.zoo import classic, vgg, resnet, mobilenet, unet, keras  # noqa: F401, I001  (order = listing order)
