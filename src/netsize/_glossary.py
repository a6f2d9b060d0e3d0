"""The English-Chinese glossary every message uses, and the Chinese of formula words.

``TERMS`` is the glossary (docs/glossary.md prints it; a test keeps the two equal and checks
that every Chinese message uses these words and no synonym of them). ``FORMULA_WORDS`` translates
the words that formulas carry (``elements*4 (normalise 2 + affine 2)``, ``2*multiply_adds``) when
an explanation is written in Chinese; symbols (``K_h``, ``C_in``), field names of layers
(``normalized_shape``) and function names (``floor``, ``max``) stay as they are.
"""

from __future__ import annotations

import re

# (English, Chinese, what it means / words it must not be confused with)
TERMS: tuple[tuple[str, str, str], ...] = (
    ("multiply-adds", "乘加次数", "multiply-accumulates of conv/linear/matmul/attention; not 乘加 alone"),
    ("FLOPs", "浮点运算次数", "2 x multiply-adds; not 浮点运算 alone"),
    ("other ops", "其他运算", "bias adds, activations, normalisation, pooling, softmax, merges"),
    ("params", "参数", "weights + biases; 参数量 when it is a count on its own"),
    ("weights", "权重", ""),
    ("biases", "偏置", ""),
    ("buffers", "缓冲区", "running statistics and other tensors that are not parameters"),
    ("trainable / non-trainable", "可训练 / 不可训练", ""),
    ("activations", "激活", "outputs of the layers"),
    ("elements", "元素", "a count of tensor entries: 元素个数, in formulas 元素数"),
    ("output shape", "输出形状", ""),
    ("input shape", "输入形状", ""),
    ("stride", "步长", "a layer's stride only"),
    ("jump (receptive field)", "跳距", "input pixels between neighbouring outputs; never 步长"),
    ("receptive field", "感受野", ""),
    ("padding", "填充", ""),
    ("kernel", "卷积核", ""),
    ("batch size", "批大小", ""),
    ("sequence length", "序列长度", ""),
    ("token", "词元", ""),
    ("KV cache", "KV 缓存", ""),
    ("saved for backward", "为反向传播保存", ""),
    ("gradients", "梯度", ""),
    ("optimizer state", "优化器状态", ""),
    ("peak", "峰值", ""),
    ("inference", "推理", ""),
    ("training step", "训练一步", ""),
    ("mixed precision (autocast)", "自动混合精度", ""),
    ("activation checkpointing", "激活检查点", ""),
    ("epoch", "轮", "轮数 for the number of epochs"),
    ("iteration", "迭代", ""),
    ("optimizer update", "优化器更新", ""),
    ("convention", "计数约定", ""),
    ("bias adds", "偏置加法", ""),
    ("experts (mixture of experts)", "专家", ""),
    ("router", "路由", ""),
)

# Words of formulas and their Chinese, longest first when applied.
FORMULA_WORDS: dict[str, str] = {
    # whole annotations
    "sum of layer params (tied once)": "各层参数之和（共享的参数只计一次）",
    "sum of layer multiply-adds": "各层乘加次数之和",
    "sum of bin sizes, bin i": "各区间大小之和，区间 i",
    "size of input 1": "输入 1 的大小",
    "forward + 2x backward": "前向 + 2 倍的反向",
    "N = params a token uses": "N = 每个词元用到的参数量",
    "N = all params a token uses": "N = 每个词元用到的全部参数量",
    "Kaplan's N = params a token uses - embedding params": "Kaplan 的 N = 每个词元用到的参数量 - 嵌入参数量",
    "two score tensors at once": "同时存在两个分数张量",
    "window - 1 adds and 1 divide per output": "每个输出：窗口大小 - 1 次加法和 1 次除法",
    "bin - 1 adds and 1 divide per output": "每个输出：区间大小 - 1 次加法和 1 次除法",
    "comparisons: window elements - 1 per output": "比较：每个输出为窗口元素数 - 1 次",
    "comparisons: bin elements - 1 per output": "比较：每个输出为区间元素数 - 1 次",
    "statistics 3 + normalise 2": "统计量 3 + 归一化 2",
    "exp, sum, subtract; log per row": "exp、求和、减法；每行一次 log",
    "exp, sum, divide": "exp、求和、除法",
    "rows of a": "a 的行数",
    "columns of b": "b 的列数",
    "contracted axis": "求和所沿的轴",
    "statistics 3 + normalise 2 + weight 1 + bias 1": "统计量 3 + 归一化 2 + 权重 1 + 偏置 1",
    "normalise 2 + affine 2": "归一化 2 + 仿射 2",
    # one affine vector without the other (Keras scale=False or center=False)
    "normalise 2 + weight 1": "归一化 2 + 权重 1",
    "normalise 2 + bias 1": "归一化 2 + 偏置 1",
    "statistics 3 + normalise 2 + weight 1": "统计量 3 + 归一化 2 + 权重 1",
    "statistics 3 + normalise 2 + bias 1": "统计量 3 + 归一化 2 + 偏置 1",
    "weight 1": "权重 1",
    "square, add, multiply by 1/rms + weight 1": "平方、加、乘以 1/rms + 权重 1",
    "a + 1 gated, a plain; silu a = 4": "门控时 a + 1，否则 a；silu 的 a = 4",
    "x, tanh, 1 + tanh": "x、tanh、1 + tanh",
    "running_mean, running_var, num_batches_tracked": "running_mean、running_var、num_batches_tracked",
    "moving mean, moving variance": "滑动均值、滑动方差",
    "mean, variance, count": "均值、方差、样本数",
    "no causal self-attention: nothing cached": "没有因果自注意力：不缓存",
    "sum over causal attention of": "各因果注意力之和：",
    "adds and a divide": "加法和一次除法",
    "gate, up, down": "gate、up、down",
    "gate multiply": "门控乘法",
    "masked scores skipped": "跳过被掩码的分数",
    "keys and values kept for decoding": "解码时保存的键和值",
    "q, k, v": "q、k、v",
    "in_proj, out_proj": "in_proj、out_proj",
    "bias_k, bias_v": "bias_k、bias_v",
    "the odd pixel at the end": "多出的一个像素补在末尾",
    "top-k experts": "前 k 个专家",
    "expert biases": "专家的偏置",
    "all experts": "全部专家",
    "bias adds": "偏置加法",
    "mask add": "掩码加法",
    "log-sum-exp": "log-sum-exp",
    "key scaling": "键的缩放",
    "relative terms, mask, softmax": "相对位置项、掩码、softmax",
    "un-gathered product": "按相对位置选取前的乘积",
    # single words and identifiers
    "multiply_adds": "乘加次数",
    "macs_per_token": "每个词元的乘加次数",
    "forward_flops_per_token": "每个词元的前向浮点运算次数",
    "kv_elements": "KV 元素数",
    "out_elements": "输出元素数",
    "elements": "元素数",
    "inputs": "输入个数",
    "rows": "行数",
    "pairs": "查询-键对数",
    "tokens": "词元数",
    "batch": "批大小",
    "seq_len": "序列长度",
    "layers": "层数",
    "params": "参数量",
    "weights": "权重",
    "bits": "位数",
    "router": "路由",
    "experts": "专家",
    "projections": "投影",
    "softmax": "softmax",
    "(scale)": "(缩放)",
    "known": "已知大小之积",
    "biases": "偏置",
    "nearest": "最近邻",
    "linear": "线性",
    "bilinear": "双线性",
    "trilinear": "三线性",
    "bicubic": "双三次",
    "taps": "个采样点",
    "rotary": "旋转位置编码",
    "combine": "合并",
    "adds": "加法",
    "dense": "稠密",
}

_CJK = "\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef"
_WORDS = sorted(FORMULA_WORDS, key=len, reverse=True)
_WORD_RE = re.compile("|".join(rf"(?<![\w-]){re.escape(w)}(?![\w-])" for w in _WORDS))
_ANNOTATION = re.compile(rf" \(([^()]*[{_CJK}][^()]*)\)")
_PUNCTUATION = re.compile(rf"(?<=[{_CJK}]) ?([:;,]) ?")
_FULL_WIDTH = {":": "：", ";": "；", ",": "，"}


def formula(text: str, lang: str = "en") -> str:
    """``text`` (a formula) in ``lang``: in Chinese its words are translated and an annotation in
    parentheses that became Chinese takes full-width parentheses.

    >>> formula("N*C_out*O_H*O_W (bias adds)", "zh")
    'N*C_out*O_H*O_W（偏置加法）'
    >>> formula("2*multiply_adds", "zh")
    '2*乘加次数'
    """
    if lang != "zh" or not text:
        return text
    out = _WORD_RE.sub(lambda m: FORMULA_WORDS[m.group(0)], text)
    out = _PUNCTUATION.sub(lambda m: _FULL_WIDTH[m.group(1)], out)  # "最近邻: 0" -> "最近邻：0"
    return _ANNOTATION.sub(lambda m: f"（{m.group(1)}）", out)


def colon(lang: str) -> str:
    """The colon after a label: ``": "`` in English, ``"："`` in Chinese."""
    return "：" if lang == "zh" else ": "


def parenthesised(text: str, lang: str) -> str:
    """``" (text)"`` in English, ``"（text）"`` in Chinese."""
    return f"（{text}）" if lang == "zh" else f" ({text})"


def list_separator(lang: str) -> str:
    return "；" if lang == "zh" else "; "
