"""The one rule for tests that drive a real browser (Chromium, through Playwright).

On a machine without Chromium or Playwright (a user's fresh clone running the README's
``python -m pytest -q``) such a test is skipped, with the reason and the fix in the skip message.
CI (``.ci/run``, which installs Chromium) sets ``NETSIZE_REQUIRE_BROWSER=1``: there a missing
browser fails the test instead, so that the browser tests cannot silently stop running.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import Any, NoReturn

import pytest

#: Set to 1 (CI does) to make a missing browser or Playwright a failure, not a skip.
REQUIRE_ENV = "NETSIZE_REQUIRE_BROWSER"


def required() -> bool:
    """Whether this run must have the browser (``NETSIZE_REQUIRE_BROWSER`` set and not ``0``)."""
    return os.environ.get(REQUIRE_ENV, "") not in ("", "0")


def missing(reason: str) -> NoReturn:
    """Skip the test for ``reason``, or fail it where the browser is required."""
    if required():
        pytest.fail(f"{reason} ({REQUIRE_ENV} is set, so the browser tests must run)", pytrace=False)
    pytest.skip(f"{reason}, or set {REQUIRE_ENV}=1 to fail instead")


def chromium_path() -> str | None:
    """The system Chromium (Debian's ``chromium`` package), or None."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


def need_module(name: str, install: str) -> ModuleType:
    """``import name``, or :func:`missing` with how to install it."""
    try:
        return __import__(name, fromlist=["_"])
    except ImportError:
        missing(f"{name} is not installed: {install}")


@contextmanager
def launched_chromium() -> Iterator[Any]:
    """A headless Chromium driven by Playwright; closed on exit."""
    sync_api = need_module("playwright.sync_api", "pip install playwright")
    path = chromium_path()
    if path is None:
        missing("chromium not found: apt-get install chromium")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=path, args=["--no-sandbox", "--disable-gpu"])
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """The fixture every browser test takes: a launched Chromium, or the skip/fail rule above."""
    with launched_chromium() as b:
        yield b
