"""Data shipped inside the package: the default rules and vocabulary, the demo corpus, and
an example channels file.

``rules/`` and ``seeds/`` at the top of a clone point here, so a clone and an installed
package read the same files; an installed package finds them wherever it is run from.
"""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).resolve().parent
RULES_DIR = HERE / "rules"  # the default rules and vocabulary.yaml
SEEDS_DIR = HERE / "seeds"  # the demo corpus: feeds, a small site, sources.yaml
CHANNELS_EXAMPLE = HERE / "channels.example.yaml"  # a commented channels.yaml
