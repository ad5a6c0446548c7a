"""Fact extraction: cleaned article text and the analysts' vocabulary in, facts out.

Pure (no I/O, no settings). The one entry point is :func:`extract`; see
``extractor.py`` for the order of work and the sibling modules for each part:
``sentences`` (offsets), ``quantities`` (numbers and units; ``ratios`` for "half
the price"), ``entities`` (attribution; ``respectively`` for ordered lists,
``organisations`` and ``org_cues`` for companies outside the vocabulary),
``metrics`` (cue phrases), ``number_context`` (periods and qualifiers), ``terms``
(analyst patterns and topics; ``term_gates`` decides which patterns a text can
match), ``vocab`` (compiled, cached matchers).
"""

from monitor.extract.extractor import extract

__all__ = ["extract"]
