"""A TCP proxy on 127.0.0.1 that can be frozen: the dependency that stops answering.

``PausableProxy(host, port)`` forwards every connection to the target. ``pause()`` freezes
it: connections stay open and new ones are accepted, but no byte goes through in either
direction (a hung server, a stalled network). ``resume()`` lets the bytes through again.
"""

from __future__ import annotations

import contextlib
import select
import socket
import threading


class PausableProxy:
    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._running = threading.Event()
        self._running.set()
        self._closed = threading.Event()
        self._sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def pause(self) -> None:
        self._running.clear()

    def resume(self) -> None:
        self._running.set()

    def close(self) -> None:
        self._closed.set()
        self._running.set()
        for sock in [self._listener, *self._sockets]:
            with contextlib.suppress(OSError):
                sock.close()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._pipe, args=(client,), daemon=True).start()

    def _pipe(self, client: socket.socket) -> None:
        self._running.wait()  # frozen: the connection is accepted, nothing answers
        try:
            server = socket.create_connection(self.target)
        except OSError:
            client.close()
            return
        self._sockets += [client, server]
        peers = {client: server, server: client}
        try:
            while not self._closed.is_set():
                readable, _, _ = select.select(list(peers), [], [], 0.1)
                if not self._running.is_set():
                    continue  # frozen: hold the bytes
                for sock in readable:
                    data = sock.recv(65536)
                    if not data:
                        return
                    peers[sock].sendall(data)
        except OSError:
            return
        finally:
            client.close()
            server.close()
