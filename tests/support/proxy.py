"""A TCP proxy a test can cut: what a database restart looks like from the processes that use it.

``TCPProxy(target_port).start()`` listens on a free port of 127.0.0.1 and forwards
every connection to the target. ``cut(seconds)`` closes every open connection and
refuses new ones for that long, then accepts again: PostgreSQL restarting, as its
clients see it (their connections die, reconnecting fails for a while), without
restarting the database the rest of the suite uses.
"""

import contextlib
import socket
import threading
import time

from tests.support.processes import free_port


class TCPProxy:
    def __init__(self, target_port: int, target_host: str = "127.0.0.1"):
        self.target = (target_host, target_port)
        self.port = free_port()
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self._refuse_until = 0.0
        self._listener: socket.socket | None = None
        self._stopped = threading.Event()

    def start(self) -> "TCPProxy":
        self._listener = socket.create_server(("127.0.0.1", self.port), reuse_port=False)
        self._listener.settimeout(0.2)
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if time.monotonic() < self._refuse_until:
                client.close()  # down: as a closed port answers
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._sockets |= {client, upstream}
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            self._close(source)
            self._close(sink)

    def _close(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.discard(sock)
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        sock.close()

    def cut(self, seconds: float) -> None:
        """Drop every connection now, and refuse new ones for ``seconds``."""
        self._refuse_until = time.monotonic() + seconds
        with self._lock:
            sockets = list(self._sockets)
        for sock in sockets:
            self._close(sock)

    def stop(self) -> None:
        self._stopped.set()
        self.cut(0)
        if self._listener:
            self._listener.close()
