"""Fact extraction: cleaned article text and the analysts' vocabulary in, facts out.

Pure (no I/O, no settings). The one entry point is :func:`extract`; see
``extractor.py`` for the order of work and the sibling modules for each part:
``sentences`` (offsets), ``quantities`` (numbers and units), ``entities``
(attribution), ``metrics`` (cue phrases), ``context`` (periods and qualifiers),
``terms`` (analyst patterns and topics), ``vocab`` (compiled, cached matchers).
"""

from monitor.extract.extractor import extract

__all__ = ["extract"]
