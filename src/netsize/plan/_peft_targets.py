"""peft's default LoRA targets per architecture, copied so that netsize never imports peft.

Source: peft 0.22.0, ``peft.utils.constants.TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING``
(tests/plan/test_plan.py checks the copy equals the installed peft's). peft uses it when a ``LoraConfig``
names no ``target_modules``: the config's ``model_type`` picks the entry, and a model type the table
lacks is an error ("Please specify `target_modules`"); peft has no entry for DeepSeek-V2/V3's
multi-head latent attention, for instance. A list matches module names by suffix, a string is a
regular expression (peft's rules, :mod:`netsize.plan._lora`).
"""

from __future__ import annotations

PEFT_VERSION = "0.22.0"

LORA_TARGETS: dict[str, tuple[str, ...] | str] = {
    "t5": ("q", "v"),
    "mt5": ("q", "v"),
    "bart": ("q_proj", "v_proj"),
    "gpt2": ("c_attn",),
    "bloom": ("query_key_value",),
    "blip-2": ("q", "v", "q_proj", "v_proj"),
    "opt": ("q_proj", "v_proj"),
    "gptj": ("q_proj", "v_proj"),
    "gpt_neox": ("query_key_value",),
    "gpt_neo": ("q_proj", "v_proj"),
    "bert": ("query", "value"),
    "roberta": ("query", "value"),
    "xlm-roberta": ("query", "value"),
    "electra": ("query", "value"),
    "deberta-v2": ("query_proj", "value_proj"),
    "deberta": ("in_proj",),
    "layoutlm": ("query", "value"),
    "llama": ("q_proj", "v_proj"),
    "llama4": ("q_proj", "v_proj"),
    "chatglm": ("query_key_value",),
    "gpt_bigcode": ("c_attn",),
    "mpt": ("Wqkv",),
    "RefinedWebModel": ("query_key_value",),
    "RefinedWeb": ("query_key_value",),
    "falcon": ("query_key_value",),
    "btlm": ("c_proj", "c_attn"),
    "codegen": ("qkv_proj",),
    "mistral": ("q_proj", "v_proj"),
    "mixtral": ("q_proj", "v_proj"),
    "stablelm": ("q_proj", "v_proj"),
    "phi": ("q_proj", "v_proj", "fc1", "fc2"),
    "gemma": ("q_proj", "v_proj"),
    "gemma2": ("q_proj", "v_proj"),
    "gemma3_text": ("q_proj", "v_proj"),
    "gemma4": ".*language_model\\..*\\.(q_proj|v_proj)",
    "qwen2": ("q_proj", "v_proj"),
    "qwen3": ("q_proj", "v_proj"),
    "nemotron_h": ("q_proj", "k_proj", "v_proj", "o_proj"),
    "rwkv": ("key", "value", "receptance", "output"),
    "rwkv7": ("r_proj", "k_proj", "v_proj", "o_proj", "key", "value"),
}


def default_lora_targets(model_type: str | None) -> tuple[str, ...] | str | None:
    """peft's default targets for ``model_type``; None where peft has none (it asks for them)."""
    return LORA_TARGETS.get(model_type) if model_type is not None else None
