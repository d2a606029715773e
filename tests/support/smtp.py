"""A real SMTP sink (aiosmtpd) that keeps what it receives, and can refuse with a code."""

import collections
import threading
from email import message_from_bytes, policy
from email.message import EmailMessage

from aiosmtpd.controller import Controller

from .processes import free_port


class SinkHandler:
    def __init__(self):
        self.messages: list[EmailMessage] = []
        self.refusals = collections.deque()  # SMTP replies for the next DATA commands
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            if self.refusals:
                return self.refusals.popleft()
            self.messages.append(
                message_from_bytes(envelope.original_content or envelope.content, policy=policy.default)
            )
        return "250 OK"


class SMTPSink:
    def __init__(self):
        self.handler = SinkHandler()
        self.port = free_port()
        self._controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)

    def start(self) -> "SMTPSink":
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    def refuse_next(self, reply: str, times: int = 1) -> None:
        with self.handler.lock:
            self.handler.refusals.extend([reply] * times)

    def reset(self) -> None:
        with self.handler.lock:
            self.handler.messages.clear()
            self.handler.refusals.clear()

    @property
    def messages(self) -> list[EmailMessage]:
        with self.handler.lock:
            return list(self.handler.messages)
