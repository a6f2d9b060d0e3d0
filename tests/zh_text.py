"""What written Chinese must not contain: half-width punctuation next to Chinese text, and English
words left untranslated. Used by test_zh.py on every registered message and on rendered output."""

from __future__ import annotations

import re

CJK = "\u3400-\u4dbf\u4e00-\u9fff"
_IS_CJK = re.compile(f"[{CJK}]")
_PLACEHOLDER = re.compile(r"\{[^{}]*\}")

# ASCII words that stay in Chinese text: function names of formulas, names of PyTorch and Keras
# options and classes, units and dtypes (see docs/glossary.md).
ALLOWED_WORDS = {
    "floor", "ceil", "max", "min", "exp", "sqrt", "tanh", "erf", "prod", "softmax", "silu", "log", "sum",
    "same", "valid", "dim", "torch", "keras", "x", "rms", "gate", "up", "down", "q", "k", "v", "d", "c", "a", "i",
    "log-sum-exp", "top-k", "groups", "meta", "sigmoid", "scale", "gelu", "relu",
}


def _cjk(ch: str) -> bool:
    return bool(_IS_CJK.match(ch))


def punctuation_problems(text: str) -> list[str]:
    """Half-width ``, ; : ( )`` glued to Chinese text (placeholders ``{x}`` count as numbers).

    ``(`` after an ASCII letter opens a function's arguments (``floor(``, ``max(``) and its pair
    stays half-width.
    """
    t = _PLACEHOLDER.sub("0", text)
    problems = []
    for i, ch in enumerate(t):
        before = t[i - 1] if i else ""
        after_nonspace = t[i + 1:].lstrip()[:1]
        if ch in ",;:!?" and (_cjk(before) or _cjk(after_nonspace)):
            problems.append(f"half-width {ch!r} next to Chinese at {i}: ...{t[max(0, i - 12):i + 12]}...")
        elif ch == "(":
            depth, j = 1, i + 1
            while j < len(t) and depth:
                depth += {"(": 1, ")": -1}.get(t[j], 0)
                j += 1
            content = t[i + 1:j - 1]
            call = before.isascii() and (before.isalpha() or before == "_")
            math = t[:i].rstrip()[-1:] in ("*", "/", "+", "-", "=", "(", "^", "")
            closing_after = t[j] if j < len(t) else ""
            if not call and not math and (_IS_CJK.search(content) or _cjk(before) or before.isdigit()
                             or _cjk(closing_after) or closing_after in "=·"):
                problems.append(f"half-width parentheses in Chinese text at {i}: ...{t[max(0, i - 12):j + 2]}...")
            elif call and (_cjk(before) or _cjk(closing_after)):
                problems.append(f"half-width parentheses glued to Chinese at {i}: ...{t[max(0, i - 12):j + 2]}...")
    return problems


def english_words(text: str) -> list[str]:
    """Lower-case English words (two letters or more, no ``_``: identifiers and symbols are
    names, not words) that are not on the allowed list."""
    t = _PLACEHOLDER.sub(" ", text)
    t = re.sub(r"'[^']*'", " ", t)  # quoted option values: 'same', 'valid'
    t = re.sub(r"--[\w-]+( [a-z]+)?", " ", t)  # command-line options and their values: --format csv
    words = re.findall(r"(?<![\w-])[A-Za-z][A-Za-z-]*[A-Za-z](?![\w-])", t)
    return [w for w in words if w.islower() and w not in ALLOWED_WORDS]


def zh_problems(text: str) -> list[str]:
    return punctuation_problems(text) + [f"English word {w!r}" for w in english_words(text)]
