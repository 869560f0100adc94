"""`serve --workers N`: the listening socket is a TCP one, so every accepted connection
has Nagle's algorithm off (`cli.serve.tcp_socket`).

Without it, keep-alive requests to `--workers 2` took ≈ 40 ms more each: Uvicorn binds
`socket.socket(family=AF_INET)` (protocol 0), asyncio sets `TCP_NODELAY` only on sockets
whose protocol is `IPPROTO_TCP`, and a response's second segment waited for the client's
delayed ACK.
"""

from __future__ import annotations

import asyncio
import socket

from sopdesk.cli.serve import tcp_socket


def _nodelay_of_accepted(listening: socket.socket) -> int:
    """TCP_NODELAY of the connection an asyncio server accepts on `listening`."""
    seen: list[int] = []

    class Probe(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            sock = transport.get_extra_info("socket")
            seen.append(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            transport.close()

    async def run() -> None:
        server = await asyncio.get_running_loop().create_server(Probe, sock=listening)
        port = listening.getsockname()[1]
        _reader, writer = await asyncio.open_connection("127.0.0.1", port)
        for _ in range(100):
            if seen:
                break
            await asyncio.sleep(0.01)
        writer.close()
        server.close()
        await server.wait_closed()

    asyncio.run(run())
    assert seen, "no connection was accepted"
    return seen[0]


def _bound(sock: socket.socket) -> socket.socket:
    sock.bind(("127.0.0.1", 0))
    return sock


def test_uvicorns_socket_leaves_nagle_on() -> None:
    """What Uvicorn's `Config.bind_socket` makes: protocol 0, no TCP_NODELAY."""
    plain = _bound(socket.socket(family=socket.AF_INET))
    assert plain.proto == 0
    assert _nodelay_of_accepted(plain) == 0


def test_tcp_socket_turns_nagle_off_on_accepted_connections() -> None:
    sock = tcp_socket(_bound(socket.socket(family=socket.AF_INET)))
    assert sock.proto == socket.IPPROTO_TCP and sock.get_inheritable()
    assert _nodelay_of_accepted(sock) == 1


def test_tcp_socket_keeps_other_sockets() -> None:
    already = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    unix = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        assert tcp_socket(already) is already
        assert tcp_socket(unix) is unix
    finally:
        already.close()
        unix.close()
