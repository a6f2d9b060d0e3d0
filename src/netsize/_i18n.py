"""Message catalogue for explanations: English and Chinese.

Each layer module registers the messages it uses next to its own code, so adding
a layer never edits this file. A message is looked up by key at render time, so
the same analysis can be explained in any language.
"""

from __future__ import annotations

from collections.abc import Mapping

from netsize._errors import NetsizeError

LANGUAGES = ("en", "zh")

_CATALOGUE: dict[str, dict[str, str]] = {}


def register_messages(messages: Mapping[str, Mapping[str, str]]) -> None:
    """Add messages ``{key: {"en": ..., "zh": ...}}``; a key may be registered once."""
    if not isinstance(messages, Mapping):
        raise NetsizeError(f"register_messages takes a dict {{key: {{'en': ..., 'zh': ...}}}} (got {messages!r})")
    for key, texts in messages.items():
        if not isinstance(texts, Mapping) or not all(isinstance(t, str) for t in texts.values()):
            raise NetsizeError(f"message {key!r}: give its texts as {{'en': '...', 'zh': '...'}} (got {texts!r})")
        if key in _CATALOGUE and _CATALOGUE[key] != dict(texts):
            raise NetsizeError(f"message {key!r} registered twice with different texts; choose another key")
        missing = [lang for lang in LANGUAGES if lang not in texts]
        if missing:
            raise NetsizeError(f"message {key!r} lacks languages {missing}; every message needs "
                               f"{', '.join(LANGUAGES)}")
        _CATALOGUE[key] = dict(texts)


def translate(key: str, lang: str = "en", **params: object) -> str:
    """The text of ``key`` in ``lang`` with ``params`` filled in; unknown keys are shown as-is."""
    texts = _CATALOGUE.get(key)
    if texts is None:
        if not isinstance(key, str):
            raise NetsizeError(f"translate takes a message key, a str such as 'params' (got {key!r})")
        return key.format(**params) if params else key
    return texts.get(lang, texts["en"]).format(**params)


register_messages(
    {
        # Names of the quantities every layer reports.
        "weights": {"en": "weights", "zh": "权重"},
        "biases": {"en": "biases", "zh": "偏置"},
        "params": {"en": "params", "zh": "参数"},
        "non_trainable_params": {"en": "non-trainable params", "zh": "不可训练参数"},
        "buffers": {"en": "buffers", "zh": "缓冲区"},
        "multiply_adds": {"en": "multiply-adds", "zh": "乘加次数"},
        "flops": {"en": "FLOPs", "zh": "浮点运算次数"},
        "other_ops": {"en": "other ops", "zh": "其他运算"},
        "activation_elements": {"en": "activation elements", "zh": "激活元素个数"},
        "output_shape": {"en": "output shape", "zh": "输出形状"},
        "saved_elements": {"en": "saved for backward", "zh": "反向传播保存的元素"},
        "receptive_field": {"en": "receptive field", "zh": "感受野"},
        "rf.axis": {"en": "{size} (jump {jump}, start {start})", "zh": "{size}（跳距 {jump}，起点 {start}）"},
        "explain.header": {"en": "{name} ({kind})", "zh": "{name}（{kind}）"},
        "explain.input": {"en": "input shape", "zh": "输入形状"},
        "note.floored": {
            "en": "not exact: {numerator}/{denominator} = {fraction}, floored to {result}",
            "zh": "不能整除：{numerator}/{denominator} = {fraction}，向下取整为 {result}",
        },
        "note.ceiled": {
            "en": "not exact: {numerator}/{denominator} = {fraction}, rounded up to {result}",
            "zh": "不能整除：{numerator}/{denominator} = {fraction}，向上取整为 {result}",
        },
        "note.tied": {
            "en": "tied to {other}: its params are counted there, not again here",
            "zh": "与 {other} 共享参数：只在那里计数一次",
        },
        "note.frozen": {"en": "frozen: its params are not trainable", "zh": "已冻结：参数不可训练"},
        "note.flops_rule": {
            "en": "FLOPs = 2 x multiply-adds",
            "zh": "浮点运算次数 = 2 x 乘加次数",
        },
    }
)
