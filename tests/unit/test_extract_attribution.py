"""Who a figure belongs to when several companies share a sentence (issue 13).

Each case is written for these tests and mirrors a shape seen in real reports: a
"respectively" list, a name after the figure ("the 5% drop for Nvidia"), a comparison
whose far side has figures of its own, a bracket that describes rather than compares,
and a name inside a figure ("10,000 Nvidia A100 chips").
"""

from __future__ import annotations

import pytest

from monitor.extract import extract
from tests.unit.extract_gold import load_vocabulary

VOCAB = load_vocabulary()


def owners(title: str, text: str) -> dict[str, str | None]:
    """Surface of each figure -> the entity credited with it."""
    return {f.surface: f.entity for f in extract(text, title, VOCAB).facts}


@pytest.mark.parametrize(
    ("title", "text", "expected"),
    [
        (
            "Chip stocks slide",
            "Shares of Tencent and Baidu slid 3.5% and 6.1%, respectively, on Friday.",
            {"3.5%": "tencent", "6.1%": "baidu"},
        ),
        (
            "Alibaba rallies",
            "Alibaba shares jumped 12% this week, while the 5% drop for Nvidia worried traders.",
            {"12%": "alibaba", "5%": "nvidia"},
        ),
        (
            "DeepSeek shock",
            "DeepSeek's new model erased some $400 billion from the value of Nvidia stock.",
            {"$400 billion": "nvidia"},
        ),
        (
            "Baidu model",
            "Baidu trained its model with 28 billion parameters, against the 671 billion "
            "parameters in DeepSeek's V3 model.",
            {"28 billion": "baidu", "671 billion": "deepseek"},
        ),
        (
            "Alibaba model",
            "The release is much leaner than DeepSeek's R1, which carries 671 billion "
            "parameters, of which 37 billion work on each token.",
            {"671 billion": "deepseek", "37 billion": "deepseek"},
        ),
        (
            "Alibaba model",
            "It rivals Moonshot's Kimi K2 with 1 trillion parameters (of which 32 billion "
            "are active).",
            {"1 trillion": "moonshot", "32 billion": "moonshot"},
        ),
        (
            "Tencent model",
            "Hunyuan-T1 also led on LiveCodeBench (64.9 points).",
            {"64.9 points": "tencent"},
        ),
        (
            "Baidu model",
            "Baidu trained it for a fraction of the cost of rivals such as ChatGPT, at just $8m.",
            {"$8m": "baidu"},
        ),
        (
            "Huawei chip",
            "The new Huawei chip reaches about 60% of Nvidia's H100 performance.",
            {"60%": "huawei"},
        ),
        (
            "Tencent buys chips",
            "Tencent bought 20,000 Nvidia H20 chips, and analysts expect 30,000 additional GPUs.",
            {"20,000 Nvidia H20 chips": "tencent", "30,000 additional GPUs": "tencent"},
        ),
    ],
)
def test_figures_go_to_their_own_company(
    title: str, text: str, expected: dict[str, str | None]
) -> None:
    got = owners(title, text)
    for surface, entity in expected.items():
        assert got.get(surface, "not found") == entity, (surface, got)


def test_a_bracket_after_a_comparison_word_still_stands_for_a_stripped_name() -> None:
    got = owners("Alibaba cloud", "Alibaba holds 4% of the market, lagging behind (30%).")
    assert got["4%"] == "alibaba"
    assert got["30%"] is None
