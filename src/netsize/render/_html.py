"""The HTML page of the report and of the web calculator: one self-contained file.

Charts are Apache ECharts (Apache-2.0, its minified build vendored in ``assets/``, inlined into
every page so the report opens offline): a well-kept library with bar, line and zoom built in,
one file without dependencies, unlike Vega-Lite's three (vega, vega-lite, vega-embed) or
Plotly's 4.6 MB. The table, tree, search and explanations are a small script of ours
(``assets/app.js``). Formatting only: the data comes from :func:`netsize.report.report_data`.
"""

from __future__ import annotations

import json
import re
from functools import cache
from importlib.resources import files
from typing import Any


@cache
def _asset(name: str) -> str:
    return files("netsize.render").joinpath("assets", name).read_text(encoding="utf-8")


def _json_for_script(data: Any) -> str:
    # Inside <script>, "</" would end the element: escape it (and the HTML comment openers).
    return json.dumps(data, ensure_ascii=False).replace("</", "<\\/").replace("<!--", "<\\!--")


def page(data: dict[str, Any] | None, mode: str = "report", lang: str = "en", title: str = "") -> str:
    """The page: ``mode`` ``report`` (data inlined) or ``serve`` (the calculator, data from its API)."""
    html = _asset("page.html")
    parts = {
        "__NETSIZE_TITLE__": (title or (data or {}).get("model", "netsize")).replace("<", "&lt;"),
        "/*__NETSIZE_CSS__*/": _asset("app.css"),
        "/*__NETSIZE_ECHARTS__*/": _asset("echarts.min.js"),
        "/*__NETSIZE_APP__*/": _asset("app.js"),
        "__NETSIZE_DATA__": _json_for_script(data),
        "__NETSIZE_MODE__": json.dumps(mode),
        "__NETSIZE_LANG__": json.dumps(lang),
    }
    # One pass, so that nothing inserted (a script, the data) is searched for placeholders again.
    pattern = re.compile("|".join(re.escape(k) for k in parts))
    return pattern.sub(lambda m: parts[m.group(0)], html)
