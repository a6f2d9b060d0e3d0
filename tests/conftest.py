"""Shared test setup: modules that need torch are not collected where torch is missing."""

from __future__ import annotations

import importlib.util
import os

import pytest

# tests/data is reference material (the GPU measuring script imports torchvision): never collected.
collect_ignore: list[str] = ["data"]
if importlib.util.find_spec("torch") is None:
    collect_ignore.append("torch_models.py")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--long", action="store_true", help="fuzz suite: run 10,000+ cases (as NETSIZE_FUZZ_LONG=1)")
    parser.addoption("--overwrite", action="store_true",
                     help="rewrite the golden files of rendered output (tests/render/golden) and the README's examples "
                     "from today's code")


@pytest.fixture
def overwrite(request: pytest.FixtureRequest) -> bool:
    """Whether ``--overwrite`` asks the golden-file tests to rewrite their files."""
    return bool(request.config.getoption("--overwrite"))


def pytest_configure(config: pytest.Config) -> None:
    if config.getoption("--long"):
        os.environ["NETSIZE_FUZZ_LONG"] = "1"
