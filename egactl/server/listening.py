"""The listening sockets of `egactl serve --processes N`: one for each process.

uvicorn's supervisor binds one socket and hands it to every process. They all
accept from its one queue, and the process that wakes first takes every
connection waiting. Clients that keep their connection (egactl's own, any
pooled HTTP client) then stay on the process that won: in bench/load.py, 50
clients connecting together all landed on one of two processes in about one
run of a dozen, which then served a third of the requests; 4 to 10 clients
did so in most runs.

On Linux each process listens instead on a socket of its own, bound to the
same address with ``SO_REUSEPORT``, and the kernel spreads new connections
over them by a hash of each connection's addresses. The supervising process
holds the address first with a socket that never listens (``reserve``), so a
second server cannot join the group by accident (a port in use is refused),
and port 0 becomes one port for all of them. uvicorn starts its processes with
multiprocessing's spawn, which pickles the sockets it is given: what
``reserve`` gives is a list that, unpickled in a process, is a socket of that
process's own, listening. Elsewhere (no ``SO_REUSEPORT``, or not Linux, where
it does not spread connections) the one shared socket stays.
"""

from __future__ import annotations

import socket
import sys

from egactl.errors import Conflict


def spreads() -> bool:
    """Whether this system spreads connections over sockets sharing an address (Linux)."""
    return sys.platform.startswith("linux") and hasattr(socket, "SO_REUSEPORT")


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def reserve(host: str, port: int) -> tuple[socket.socket, "EachOwn"]:
    """Hold ``host:port`` for the processes to come: (the holding socket, the sockets to give uvicorn).

    The holder is bound without ``SO_REUSEPORT``, which fails if anything else
    has the address, and only then allows it: the processes' sockets may join
    it, and no socket bound before could have. Keep it open while they serve.
    """
    holder = socket.socket(_family(host), socket.SOCK_STREAM)
    try:
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        holder.bind((host, port))
    except OSError as exc:
        holder.close()
        raise Conflict(f"cannot listen on {host}:{port}: {exc.strerror or exc}",
                       hint="another program may hold that port; choose another --port") from None
    holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    return holder, EachOwn(host, holder.getsockname()[1])


class EachOwn(list):
    """The sockets uvicorn gives each process: empty here, and in each process, once
    unpickled (multiprocessing's spawn), a listening socket of that process's own."""

    def __init__(self, host: str, port: int) -> None:
        super().__init__()
        self.host, self.port = host, port

    def __reduce__(self):  # type: ignore[override]
        return _own_socket, (self.host, self.port)


def _own_socket(host: str, port: int) -> list[socket.socket]:
    sock = socket.socket(_family(host), socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    return [sock]
