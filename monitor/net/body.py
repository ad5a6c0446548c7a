"""A response body read with a cap, decompressed here rather than by httpx.

httpx has no body cap (a 199 KiB gzip bomb became 64 MiB, DESIGN.md section 7), so every
body monitor reads from the network, a feed or a Slack answer, comes through
:func:`read_capped`.
"""

from __future__ import annotations

import zlib

import httpx

from monitor.errors import FetchError

STEP = 64 * 1024  # the most one decompress call produces
HEAD_BYTES = 64  # deflate input kept, before any output, to retry it as raw deflate
PADDING = b"\r\n\t \x00"  # what some servers send after a compressed body
PADDING_MAX = 64 * 1024  # padding accepted after it: more is not padding but a stream


async def read_capped(response: httpx.Response, cap: int, url: str) -> bytes:
    """The decompressed body, refusing more than ``cap`` bytes while it streams.

    The raw stream is decompressed here (httpx would inflate without limit): each
    ``decompress`` call is bounded by ``max_length`` so a gzip bomb stops at the cap
    having produced at most cap + one byte, in pieces of at most ``STEP`` (RELIABILITY.md
    F1, F2).
    """
    declared = response.headers.get("content-length")
    if declared and declared.strip().isdigit() and int(declared) > cap:
        raise FetchError("too_large", f"Content-Length {declared} exceeds {cap} bytes", url=url)
    encodings = [
        e.strip().lower()
        for e in response.headers.get("content-encoding", "").split(",")
        if e.strip() and e.strip().lower() != "identity"
    ]
    if len(encodings) > 1 or (encodings and encodings[0] not in ("gzip", "x-gzip", "deflate")):
        raise FetchError("bad_encoding", f"unsupported Content-Encoding {encodings!r}", url=url)
    try:
        # a response built in memory (httpx.MockTransport, respx) arrives already read and
        # decoded; only a real network stream is decoded here
        preread = response.content
    except httpx.ResponseNotRead:
        pass
    else:
        if len(preread) > cap:
            raise FetchError("too_large", f"body exceeds {cap} bytes", url=url)
        return preread
    inflater = _Inflater(encodings[0] if encodings else None, url)
    # pieces are kept as the bytes objects zlib returns: no growing buffer to reallocate,
    # so a refused body never costs more than the cap plus one piece
    parts: list[bytes] = []
    size = 0
    raw = 0
    # compressed input past twice the cap is no body of the cap (even one flushed every
    # few bytes or made of one member per record stays well under): endless empty gzip
    # members decode to nothing the cap would count
    raw_cap = 2 * cap + PADDING_MAX + 1024 if encodings else None
    async for chunk in response.aiter_raw():
        for piece in inflater.feed(chunk, cap - size):
            parts.append(piece)
            size += len(piece)
        if size > cap:
            raise FetchError("too_large", f"body exceeds {cap} bytes", url=url)
        raw += len(chunk)
        if raw_cap is not None and raw > raw_cap:
            raise FetchError(
                "bad_encoding", f"over {raw_cap} compressed bytes for a cap of {cap}", url=url
            )
    tail = inflater.flush(cap - size)
    if size + len(tail) > cap:
        raise FetchError("too_large", f"body exceeds {cap} bytes", url=url)
    parts.append(tail)
    return b"".join(parts)


class _Inflater:
    """Incremental gzip/deflate decoding that never produces much more than asked for."""

    def __init__(self, encoding: str | None, url: str) -> None:
        self._encoding = encoding
        self._url = url
        self._raw_deflate = False
        # deflate input fed before any output, replayed if it turns out to be raw deflate
        # (zlib may take a first chunk of a byte or two without complaint)
        self._head: bytes | None = b"" if encoding == "deflate" else None
        self._obj = self._new()
        self._between = False  # past a member's end, before the next one's first byte
        self._padding = 0  # bytes of padding between or after members, all of them

    def _new(self) -> zlib._Decompress:
        if self._encoding in ("gzip", "x-gzip"):
            return zlib.decompressobj(16 + zlib.MAX_WBITS)
        # "deflate" should be zlib-wrapped (RFC 9110 8.4.1.2) but some servers send raw
        return zlib.decompressobj(-zlib.MAX_WBITS if self._raw_deflate else zlib.MAX_WBITS)

    def feed(self, data: bytes, room: int) -> list[bytes]:
        if self._encoding is None:
            return [data]
        out: list[bytes] = []
        produced = 0
        pending = self._after_end(data) if self._between else data
        if not pending:
            return out
        while True:
            # one byte past the room proves overflow; and at most STEP a call: zlib builds
            # a call's output in blocks and then joins them, so one call producing the
            # whole cap would hold it twice
            limit = min(max(room - produced, 0) + 1, STEP)
            try:
                piece = self._obj.decompress(pending, limit)
            except zlib.error as exc:
                if self._head is not None and not self._raw_deflate:
                    self._raw_deflate = True
                    self._obj = self._new()
                    pending, self._head = self._head + pending, None
                    continue
                raise self._corrupt(exc) from exc
            if self._head is not None:
                # kept only until the stream proves itself, and never more than a header
                fits = len(self._head) + len(pending) <= HEAD_BYTES
                proven = bool(piece) or self._obj.eof
                self._head = self._head + pending if fits and not proven else None
            out.append(piece)
            produced += len(piece)
            if produced > room:
                return out
            if self._obj.eof:
                # first: after a call cut short by max_length, CPython leaves the input
                # past a member's end in unconsumed_tail as well as in unused_data, and
                # feeding that tail again to the finished member never ends
                self._between = True
                pending = self._after_end(self._obj.unused_data)
                if not pending:
                    return out  # the end, or padding some servers send after it
            elif self._obj.unconsumed_tail:
                pending = self._obj.unconsumed_tail
            elif len(piece) == limit:
                pending = b""  # the input is in, its output not all out yet
            else:
                return out

    def _after_end(self, data: bytes) -> bytes:
        """What follows a member's end: padding is counted (never fed to the finished
        member, which would keep it all) and refused past ``PADDING_MAX`` in the whole
        body, however many members it is spread between; anything else
        starts the next member (concatenated gzip members, RFC 1952 2.2: one body)."""
        rest = data.lstrip(PADDING)
        self._padding += len(data) - len(rest)
        if self._padding > PADDING_MAX:
            raise FetchError(
                "bad_encoding",
                f"more than {PADDING_MAX} bytes of padding after the compressed body",
                url=self._url,
            )
        if rest:
            self._between = False
            self._obj = self._new()
        return rest

    def flush(self, room: int) -> bytes:
        if self._encoding is None:
            return b""
        try:
            tail = self._obj.flush()[: max(room, 0) + 1]
        except zlib.error as exc:
            raise self._corrupt(exc) from exc
        if not self._obj.eof:
            # the connection closed inside the compressed stream: a truncated body that
            # would otherwise reach the parser looking like a short, valid one
            raise FetchError("bad_encoding", "compressed body ended early", url=self._url)
        return tail

    def _corrupt(self, exc: zlib.error) -> FetchError:
        return FetchError("bad_encoding", f"corrupt compressed body: {exc}", url=self._url)
