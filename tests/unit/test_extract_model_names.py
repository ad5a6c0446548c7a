"""Model names on real-news spellings: the shipped term families (issue 13).

Every family needs a version, a code, a size or a tier after the brand: a bare family
name ("Hunyuan", "Qwen", "ERNIE") is not a new model. The sentences are written for
these tests.
"""

from __future__ import annotations

import pytest

from monitor.extract import extract
from monitor.extract.term_gates import required_literals
from tests.unit.extract_gold import load_vocabulary

VOCAB = load_vocabulary()


def terms(text: str) -> list[tuple[str, str]]:
    return [(t.family, t.term) for t in extract(text, "", VOCAB).terms]


@pytest.mark.parametrize(
    ("text", "family", "term"),
    [
        ("Alibaba showed Qwen 2.5-Max to reporters.", "qwen_models", "Qwen 2.5-Max"),
        ("The QwQ-32B weights are open.", "qwen_models", "QwQ-32B"),
        ("It runs Qwen3-235B-A22B on one node.", "qwen_models", "Qwen3-235B-A22B"),
        ("Engineers tested Deepseek-R1 again.", "deepseek_models", "Deepseek-R1"),
        ("Engineers tested DeepSeek V3.1 again.", "deepseek_models", "DeepSeek V3.1"),
        ("Tencent opened Hunyuan-A13B to all.", "hunyuan_models", "Hunyuan-A13B"),
        ("Tencent priced Hunyuan-TurboS low.", "hunyuan_models", "Hunyuan-TurboS"),
        ("Baidu cut the price of ERNIE 4.5 Turbo.", "ernie_models", "ERNIE 4.5 Turbo"),
        ("Baidu cut the price of ERNIE X1.", "ernie_models", "ERNIE X1"),
        ("ByteDance cut Doubao-1.5-pro prices.", "doubao_models", "Doubao-1.5-pro"),
        ("It beat o3-mini on maths.", "openai_o_models", "o3-mini"),
        ("It beat OpenAI o1 on maths.", "openai_o_models", "OpenAI o1"),
        ("It beat GPT-4o mini on maths.", "gpt_models", "GPT-4o mini"),
        ("Google shipped Gemini 2.5 Pro.", "gemini_models", "Gemini 2.5 Pro"),
        ("Moonshot released Kimi K2 today.", "kimi_models", "Kimi K2"),
        ("Zhipu released GLM-4.5 today.", "glm_models", "GLM-4.5"),
        ("MiniMax released MiniMax-M1 today.", "minimax_models", "MiniMax-M1"),
        ("Anthropic released Claude Opus 4 today.", "claude_models", "Claude Opus 4"),
        ("Analysts compared it with DeepSeek’s much cited R2.", "deepseek_models", "R2"),
        ("Its Zephyr9 reasoning model is new.", "named_models", "Zephyr9"),
        ("The firm trained the LumenX model in May.", "named_models", "LumenX"),
        ("It rivals the larger Orca2-70B.", "named_models", "Orca2-70B"),
        ("The Lite-8k version costs less.", "named_model_versions", "Lite-8k"),
    ],
)
def test_model_names_of_each_family(text: str, family: str, term: str) -> None:
    assert (family, term) in terms(text)


@pytest.mark.parametrize(
    "text",
    [
        "Tencent's Hunyuan team grew.",
        "The Qwen family is popular with developers.",
        "Baidu's ERNIE chatbot has many users.",
        "The Doubao app tops the charts.",
        "Anthropic's Claude is popular.",
        "The DeepSeek model surprised investors.",  # a company, not a model
        "An AI model and a GPU model were shown.",  # acronyms alone are not names
        "Alibaba's Q3 results and Tencent's H1 profit beat estimates.",  # periods
        "DeepSeek 2025 plans were not disclosed.",  # a year is not a version
        "Qwen-based apps and Hunyuan-powered tools spread.",
    ],
)
def test_bare_family_names_and_look_alikes_are_not_model_names(text: str) -> None:
    assert terms(text) == []


def test_a_name_two_families_match_is_one_hit_of_the_first_family() -> None:
    # "QwQ-32B" has a size (named_models) and is a Qwen name: the brand's family wins.
    assert terms("The QwQ-32B model is small.") == [("qwen_models", "QwQ-32B")]


@pytest.mark.parametrize(
    ("pattern", "literals"),
    [
        (r"\bQwen[0-9]", ("Qwen",)),
        (r"\bDeep[Ss]eek-R1|(?<=\bDeepSeek's\s)R1", ("Deep", "DeepSeek")),
        (r"\b(?:ERNIE|Ernie)[ -][0-9]", ("ERNIE", "Ernie")),
        (r"\b(?:Chat)?GLM-[0-9]", ("GLM-",)),  # an optional group: what follows it counts
        (r"(?<![A-Za-z0-9-])o[1-9]", tuple(f"o{d}" for d in range(1, 10))),
        (r"model\b(?<=(?P<term>[A-Z]+)\smodel)", ("model",)),
        (r"(?i)qwen[0-9]", ()),  # flags change what the letters match
        (r"\d+B", ()),
        (r"(?:ab)?", ()),
        (r"Qwen|[A-Z]x", ()),  # one branch without a literal: no shortcut
    ],
)
def test_term_patterns_give_the_literals_every_matching_text_holds(
    pattern: str, literals: tuple[str, ...]
) -> None:
    assert required_literals(pattern) == literals
