"""The browser tests' rule (tests/browser_support.py): skipped with the reason on a machine
without Chromium, failed instead where NETSIZE_REQUIRE_BROWSER is set (CI)."""

from __future__ import annotations

import pytest

import browser_support


def test_missing_chromium_skips_with_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(browser_support.REQUIRE_ENV, raising=False)
    monkeypatch.setattr(browser_support, "chromium_path", lambda: None)
    with pytest.raises(pytest.skip.Exception) as info, browser_support.launched_chromium():
        pass
    assert str(info.value) == ("chromium not found: apt-get install chromium, or set NETSIZE_REQUIRE_BROWSER=1 "
                               "to fail instead")


@pytest.mark.parametrize("value", ["1", "yes"])
def test_missing_chromium_fails_where_required(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv(browser_support.REQUIRE_ENV, value)
    monkeypatch.setattr(browser_support, "chromium_path", lambda: None)
    with pytest.raises(pytest.fail.Exception, match=r"chromium not found.*NETSIZE_REQUIRE_BROWSER is set"), \
            browser_support.launched_chromium():
        pass


def test_missing_module_skips_or_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(browser_support.REQUIRE_ENV, "0")  # 0: not required
    with pytest.raises(pytest.skip.Exception, match="no_such_module_xyz is not installed: pip install it"):
        browser_support.need_module("no_such_module_xyz", "pip install it")
    monkeypatch.setenv(browser_support.REQUIRE_ENV, "1")
    with pytest.raises(pytest.fail.Exception, match="no_such_module_xyz is not installed"):
        browser_support.need_module("no_such_module_xyz", "pip install it")


def test_ci_requires_the_browser() -> None:
    from pathlib import Path

    ci = (Path(__file__).parent.parent / ".ci" / "run").read_text(encoding="utf-8")
    tests_at = ci.index("python -m pytest -q")
    assert "export NETSIZE_REQUIRE_BROWSER=1" in ci[:tests_at]
