"""Listening sockets opened before a command loads, so no other process takes the port meanwhile.

Every HTTP command (`up`, `gateway`, `serve --transport http`, `demo-erp`) binds its port as its
first act and hands the open socket to uvicorn once the app is built, seconds or minutes later.
Checking a port and binding it later left that window open: another process could take the port
and the command died after its slow start. `agentmesh up` goes further for its children: it opens
each child's socket itself and passes it down (`--listen-fd`), and keeps it while the child runs,
so a restarted child serves on the very same socket; a request made while it restarts waits in
the socket's queue instead of being refused.
"""

from __future__ import annotations

import errno
import socket

import structlog

from agentmesh.startup import StartupError

log = structlog.get_logger(__name__)

BACKLOG = 2048  # uvicorn's default
_NEXT_PORTS_TRIED = 20


def listen_on(host: str, port: int) -> socket.socket:
    """A socket listening on `host:port` (port 0: any free one); `StartupError` when it cannot be.

    A taken port is refused with a suggestion of the next free one.
    """
    try:
        return _listening(host, port)
    except OSError as problem:
        if problem.errno != errno.EADDRINUSE:
            raise StartupError(
                "address_unavailable", f"cannot listen on {host}:{port}: {problem.strerror or problem}"
            ) from None
    free = next(
        (p for p in range(port + 1, port + 1 + _NEXT_PORTS_TRIED) if p < 65536 and _free(host, p)), None
    )
    suggestion = f" (try --port {free})" if free is not None else ""
    raise StartupError("port_in_use", f"port {port} on {host} is already in use{suggestion}")


def inherited(fd: int) -> socket.socket:
    """The listening socket a parent process passed down as file descriptor `fd`."""
    try:
        sock = socket.socket(fileno=fd)
    except OSError as exc:
        raise StartupError(
            "bad_listen_fd", f"file descriptor {fd} is not an open socket: {exc.strerror}"
        ) from None
    if sock.type != socket.SOCK_STREAM or sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN) == 0:
        sock.detach()  # not ours to close
        raise StartupError("bad_listen_fd", f"file descriptor {fd} is not a listening TCP socket")
    return sock


def port_of(sock: socket.socket) -> int:
    return int(sock.getsockname()[1])


def announce(sock: socket.socket, what: str, path: str = "") -> None:
    """Log where `what` answers (uvicorn says it only for sockets it bound itself)."""
    host = sock.getsockname()[0]
    shown = f"[{host}]" if ":" in host else host
    log.info("listening", what=what, url=f"http://{shown}:{port_of(sock)}{path}")


def _listening(host: str, port: int) -> socket.socket:
    # As uvicorn binds its own: SO_REUSEADDR, so connections of an earlier run in TIME_WAIT do not
    # keep the port.
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(BACKLOG)
    except OSError:
        sock.close()
        raise
    return sock


def _free(host: str, port: int) -> bool:
    try:
        _listening(host, port).close()
    except OSError:
        return False
    return True
