"""A scripted HTTP/1.1 receiver on 127.0.0.1 that plays Slack or a webhook endpoint.

Each request is recorded (with the loop time it arrived) and answered by the next
scripted :class:`Reply`, or by ``default`` once the script is used up. A reply can also
reset the connection or never answer. Every answer closes the connection, so each
request is read whole before the next one starts.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Literal


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: bytes = b"ok"
    headers: tuple[tuple[str, str], ...] = ()
    action: Literal["reply", "reset", "hang"] = "reply"


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    at: float


@dataclass
class Receiver:
    script: list[Reply] = field(default_factory=list)
    default: Reply = field(default_factory=Reply)
    requests: list[Received] = field(default_factory=list)
    answered: list[int] = field(default_factory=list)  # status of each answer sent
    port: int = 0
    _release: asyncio.Event = field(default_factory=asyncio.Event)

    def url(self, path: str = "/services/T0001/B0002/SeCrEtToKeN42") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    @property
    def delivered(self) -> int:
        """Requests answered 2xx: what the sender may count as delivered."""
        return sum(1 for s in self.answered if 200 <= s < 300)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()
            return
        lines = head.decode("latin-1").split("\r\n")
        method, path, _ = lines[0].split(" ", 2)
        headers = {}
        for line in lines[1:]:
            if ":" in line:
                name, value = line.split(":", 1)
                headers[name.strip().lower()] = value.strip()
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        loop = asyncio.get_running_loop()
        self.requests.append(Received(method, path, headers, body, loop.time()))
        reply = self.script.pop(0) if self.script else self.default
        if reply.action == "reset":
            writer.transport.abort()
            return
        if reply.action == "hang":
            await self._release.wait()
            writer.close()
            return
        extra = "".join(f"{k}: {v}\r\n" for k, v in reply.headers)
        writer.write(
            f"HTTP/1.1 {reply.status} X\r\nContent-Length: {len(reply.body)}\r\n"
            f"Content-Type: text/plain\r\nConnection: close\r\n{extra}\r\n".encode()
            + reply.body
        )
        self.answered.append(reply.status)
        await writer.drain()
        writer.close()


@asynccontextmanager
async def receiver(*script: Reply, default: Reply | None = None) -> AsyncIterator[Receiver]:
    r = Receiver(script=list(script), default=default or Reply())
    server = await asyncio.start_server(r._handle, "127.0.0.1", 0)
    r.port = server.sockets[0].getsockname()[1]
    try:
        yield r
    finally:
        r._release.set()
        server.close()
        await server.wait_closed()
