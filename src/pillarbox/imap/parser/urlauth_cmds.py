"""URLAUTH commands (RFC 4467 7, 11): GENURLAUTH, RESETKEY, URLFETCH.

``genurlauth = "GENURLAUTH" 1*(SP url-rump SP mechanism)``, ``resetkey = "RESETKEY" [SP mailbox
*(SP mechanism)]``, ``urlfetch = "URLFETCH" 1*(SP url-full)``; URLs are astrings, mechanisms atoms.
"""

from __future__ import annotations

from pillarbox.imap.parser.commands import UrlAuthCommand
from pillarbox.imap.parser.primitives import ParseError, Reader

MAX_URLS = 100


def _url(reader: Reader) -> str:
    try:
        return reader.astring().decode("utf-8")
    except UnicodeDecodeError:
        raise ParseError("Invalid URL") from None


def parse_urlauth(reader: Reader, tag: str, name: str) -> UrlAuthCommand:
    urls: list[str] = []
    mechanisms: list[str] = []
    mailbox = None
    if name == "RESETKEY" and reader.take(b" "):
        mailbox = reader.mailbox()
        while reader.take(b" "):
            mechanisms.append(reader.keyword())
    while name != "RESETKEY" and (not urls or not reader.at_end()):
        if len(urls) >= MAX_URLS:
            raise ParseError("Too many URLs")
        reader.sp()
        urls.append(_url(reader))
        if name == "GENURLAUTH":
            reader.sp()
            mechanisms.append(reader.keyword())
    reader.end()
    return UrlAuthCommand(tag, name, tuple(urls), tuple(mechanisms), mailbox)
