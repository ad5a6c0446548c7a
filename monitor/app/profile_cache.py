"""Decoded story profiles, kept while their stored JSON is unchanged.

Each new article is compared with up to sixty stories of its company, and the same
recent stories are candidates for article after article. Decoding a profile (JSON, then
its figures) cost more than comparing with it (issue 16's profile), so a process keeps
the last ``SIZE`` decoded ones, by story, and reuses one while the text stored for it is
the same (its length and hash; every change of a story's profile changes the text).
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from typing import Any

from monitor.dedup import story_codec
from monitor.dedup.story import StoryProfile

SIZE = 1024  # stories: a few MB, the candidates of the companies in the news at once


class ProfileCache:
    def __init__(self, size: int = SIZE) -> None:
        self.size = size
        self._kept: OrderedDict[int, tuple[str | None, int, int, StoryProfile]] = OrderedDict()
        self._lock = threading.Lock()  # batches of several polls may run in threads

    def clear(self) -> None:
        with self._lock:
            self._kept.clear()

    def kept(self, story_id: int, company: str | None, text: str) -> StoryProfile | None:
        """The decoded profile kept for ``text``, if any."""
        with self._lock:
            hit = self._kept.get(story_id)
            if hit is not None and hit[:3] == (company, len(text), hash(text)):
                self._kept.move_to_end(story_id)
                return hit[3]
        return None

    def decode(
        self,
        story_id: int,
        company: str | None,
        text: str,
        parsed: dict[str, Any] | None = None,
    ) -> StoryProfile | None:
        """The profile stored as ``text`` (``parsed``: its JSON, when the caller read it
        already); None when it is of an older version."""
        found = self.kept(story_id, company, text)
        if found is not None:
            return found
        d = json.loads(text) if parsed is None else parsed
        profile = story_codec.decode_story(story_id, company, d)
        if profile is not None:
            with self._lock:
                self._kept[story_id] = (company, len(text), hash(text), profile)
                self._kept.move_to_end(story_id)
                while len(self._kept) > self.size:
                    self._kept.popitem(last=False)
        return profile


PROFILES = ProfileCache()
