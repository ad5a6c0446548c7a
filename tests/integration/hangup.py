"""Whether the client of a request that a threaded test server is holding hangs up.

A server that holds its answer (a slow origin) must count a request as ended when its
client closes the connection: a poll cut short is over for the worker that made it,
however long the server would have taken to answer.
"""

from __future__ import annotations

import socket
from select import select


def hangs_up(conn: socket.socket, within: float, wake: socket.socket | None = None) -> bool:
    """Wait up to ``within`` seconds, or until ``wake`` is readable: True when the client
    closed its end meanwhile, False when the time is up (or it sent more)."""
    watched = [conn] if wake is None else [conn, wake]
    ready, _, _ = select(watched, [], [], within)
    if conn not in ready:
        return False
    try:
        return not conn.recv(1, socket.MSG_PEEK)  # end of stream
    except OSError:  # reset
        return True
