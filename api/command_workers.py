"""`crm serve --role command --workers N`: N processes of the command node on one port.

One Python process uses at most one core (the GIL), so a busy command node on
a machine with more cores runs several. uvicorn's supervisor binds the port,
starts the processes and restarts one that dies; each builds its app from
:func:`api.app.command_node` with its own group commit, and PostgreSQL orders
their commits.

uvicorn 0.54 binds that shared socket without naming the protocol (``proto``
0), and asyncio turns on ``TCP_NODELAY`` only for accepted sockets that say
they are TCP. Without it Nagle's algorithm holds each response until the
client's delayed ACK: ~40 ms per keep-alive request (measured: one client
fell from ~300 to 21 commands/s with two processes; uvicorn issue 3149).
:class:`TcpConfig` hands the supervisor the same socket, labelled TCP.
"""

from __future__ import annotations

import socket

import uvicorn
from uvicorn.supervisors import Multiprocess


class TcpConfig(uvicorn.Config):
    def bind_socket(self) -> socket.socket:
        sock = super().bind_socket()
        if sock.family not in (socket.AF_INET, socket.AF_INET6) or sock.proto:
            return sock
        return socket.socket(sock.family, sock.type, socket.IPPROTO_TCP, fileno=sock.detach())


def run(host: str, port: int, workers: int) -> None:
    """Serves until SIGTERM or SIGINT; logs go through the root logger of each process
    (``log_config=None``: the processes set up their own, see :func:`api.app.command_node`)."""
    config = TcpConfig("api.app:command_node", factory=True, host=host, port=port,
                       workers=workers, log_level="info", log_config=None)
    Multiprocess(config, sockets=[config.bind_socket()]).run()
