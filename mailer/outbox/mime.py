"""An outbox email's bytes on the wire, written straight from the message in its usual shape.

Django builds an ``email.message`` tree and the standard library's generator walks
it: for the one shape the outbox sends (a text body and one HTML alternative, UTF-8,
no attachments) that is most of the CPU of a send besides the SES call
(docs/performance.md). ``wire_bytes`` writes the bytes that tree would give,
through the same functions: each header passes Django's
``forbid_multi_line_headers`` (a line break refused with BadHeaderError, non-ASCII
encoded, addresses sanitised) and the policy's fold; each body is written as the
generator writes 7bit/8bit text. A message of another shape (attachments, Cc, a
line over 998 bytes, which Django encodes as quoted-printable, another charset)
gives None, and the caller builds the tree. The tests compare the two, byte for byte.
"""

import re
from collections.abc import Callable
from email.message import Message
from email.policy import Compat32
from functools import cached_property, lru_cache

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.core.mail.message import RFC5322_EMAIL_LINE_LENGTH_LIMIT, forbid_multi_line_headers

CRLF = "\r\n"
# The generator's line ends: any of them becomes the policy's linesep.
_LINE_END = re.compile(r"\r\n|\r|\n")
# Printable ASCII words with single spaces between them: what Header.encode gives back unchanged.
_PLAIN_VALUE = re.compile(r"[!-~]+(?: [!-~]+)*")


class PlainHeadersCompat32(Compat32):
    """compat32, the policy of Django's messages, writing a header that needs no folding as it is.

    compat32 runs every header through email.header.Header to fold it. A value of
    printable ASCII words that fits on its line comes out of that unchanged, so it
    is written directly; every other header (non-ASCII, encoded words, long, odd
    whitespace) takes the standard way. The bytes are the same either way.
    """

    def _fold(self, name, value, sanitize):
        if (
            isinstance(value, str)
            and self.max_line_length
            and len(name) + 2 + len(value) <= self.max_line_length
            and _PLAIN_VALUE.fullmatch(value)
        ):
            return f"{name}: {value}{self.linesep}"
        return super()._fold(name, value, sanitize)


PLAIN_HEADERS_COMPAT32 = PlainHeadersCompat32()
_WIRE_POLICY = PLAIN_HEADERS_COMPAT32.clone(linesep=CRLF)


def _header_line(name: str, value, encoding: str) -> str:
    name, value = forbid_multi_line_headers(name, value, encoding)
    return _WIRE_POLICY.fold(name, value)


# A str header always gives the same line. Most are the same in every email of a kind
# and language (From, Reply-To, the subject, a part's headers), and encoding a Nepali
# subject into encoded words is the costliest of them. BadHeaderError is raised every
# time (lru_cache keeps no exception). Anything else (a lazy translation) is not cached.
_str_header_line = lru_cache(maxsize=1024)(_header_line)


def _headers(pairs: list[tuple[str, str]], encoding: str) -> str:
    lines = [(_str_header_line if type(value) is str else _header_line)(name, value, encoding) for name, value in pairs]
    return "".join(lines) + CRLF


def _crlf(text: str) -> str:
    """``text`` with every line end (CRLF, CR or LF) as CRLF, as the generator writes it."""
    # A body without a CR (every rendered template) needs no regular expression.
    return text.replace("\n", CRLF) if "\r" not in text else _LINE_END.sub(CRLF, text)


def _text_part(subtype: str, body: str, encoding: str) -> str | None:
    data = body.encode(encoding)
    if max(map(len, data.splitlines()), default=0) > RFC5322_EMAIL_LINE_LENGTH_LIMIT:
        return None  # Django switches this part to quoted-printable: the standard way
    headers = [
        ("Content-Type", f'text/{subtype}; charset="{encoding}"'),
        ("MIME-Version", "1.0"),
        ("Content-Transfer-Encoding", "7bit" if data.isascii() else "8bit"),
    ]
    # The text goes out as its UTF-8 bytes (surrogate-escaped in a str until the end).
    return _headers(headers, encoding) + _crlf(data.decode("ascii", "surrogateescape"))


def wire_bytes(message: EmailMultiAlternatives, *, boundary: str) -> bytes | None:
    """The CRLF bytes Django's ``message()`` serialised would give for ``message``, or None.

    ``boundary`` is the multipart boundary (the tree must be given the same one).
    ``message.extra_headers`` must hold Date and Message-ID: the tree would draw its
    own otherwise. Raises BadHeaderError as Django does.
    """
    encoding = message.encoding or settings.DEFAULT_CHARSET
    html = message.alternatives[0] if len(message.alternatives) == 1 else None
    extra = message.extra_headers
    if (
        encoding != "utf-8"
        or message.attachments
        or message.cc
        or not message.body
        or html is None
        or html[1] != "text/html"
        or message.content_subtype != "plain"
        or message.alternative_subtype != "alternative"
        or {"date", "message-id"} - {name.lower() for name in extra}
    ):
        return None
    parts = [_text_part("plain", message.body, encoding), _text_part("html", html[0], encoding)]
    if None in parts:
        return None
    headers = [
        ("Content-Type", f'multipart/alternative; boundary="{boundary}"'),
        ("MIME-Version", "1.0"),
        ("Subject", message.subject),
        ("From", extra.get("From", message.from_email)),
    ]
    for name, values in (("To", message.to), ("Reply-To", message.reply_to)):
        if values:
            headers.append((name, extra.get(name, ", ".join(str(v) for v in values))))
    headers += [(n, v) for n, v in extra.items() if n.lower() not in {"from", "to", "cc", "reply-to"}]
    delimiter = f"--{boundary}{CRLF}"
    text = (
        _headers(headers, encoding) + delimiter + parts[0] + CRLF + delimiter + parts[1] + f"{CRLF}--{boundary}--{CRLF}"
    )
    return text.encode("ascii", "surrogateescape")


class WireMessage:
    """A message whose bytes are written already (``wire_bytes``): what email backends read of it.

    ``as_bytes`` gives those bytes (with either line end). Anything else asked of it
    (a header, the parts, ``as_string``) comes from the email.message tree, built on
    first use from the same boundary, Date and Message-ID, so the two agree.
    """

    def __init__(self, wire: bytes, tree: Callable[[], Message]) -> None:
        self._wire = wire
        self._make_tree = tree

    def as_bytes(self, unixfrom: bool = False, linesep: str = "\n") -> bytes:
        if unixfrom or linesep not in ("\n", CRLF):
            return self.tree.as_bytes(unixfrom, linesep)
        return self._wire if linesep == CRLF else self._wire.replace(b"\r\n", b"\n")

    def __bytes__(self) -> bytes:
        return self.as_bytes()

    @cached_property
    def tree(self) -> Message:
        return self._make_tree()

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.tree, name)

    def __getitem__(self, name: str):
        return self.tree[name]

    def __contains__(self, name: str) -> bool:
        return name in self.tree

    def __iter__(self):
        return iter(self.tree)

    def __len__(self) -> int:
        return len(self.tree)
