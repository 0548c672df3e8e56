"""Commands of any state: argument-less ones, AUTHENTICATE, LOGIN, ENABLE, ID, quota, COMPRESS."""

from __future__ import annotations

import re

from pillarbox.imap.parser.commands import Authenticate, Command, Compress, Enable, Id, Login, QuotaRoot, SetQuota
from pillarbox.imap.parser.primitives import ParseError, Reader

_BASE64 = re.compile(rb"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?")
MAX_ID_FIELDS = 30  # RFC 2971 3.3


def parse_simple(reader: Reader, tag: str, name: str) -> Command:
    """CAPABILITY, NOOP, LOGOUT, STARTTLS, CHECK, CLOSE, UNSELECT, IDLE, NAMESPACE: no arguments."""
    reader.end()
    return Command(tag, name)


def parse_authenticate(reader: Reader, tag: str, name: str) -> Authenticate:
    """``authenticate = "AUTHENTICATE" SP auth-type [SP initial-resp]``; ``initial-resp = (base64 / "=")``."""
    reader.sp()
    mechanism = reader.keyword()
    initial: bytes | None = None
    if reader.take(b" "):
        initial = reader.raw[reader.pos :]
        if initial != b"=" and (not initial or _BASE64.fullmatch(initial) is None):
            raise ParseError("Invalid base64 initial response")
        reader.pos = len(reader.raw)
    reader.end()
    return Authenticate(tag, name, mechanism, initial)


def parse_login(reader: Reader, tag: str, name: str) -> Login:
    """``login = "LOGIN" SP userid SP password``; both astrings."""
    reader.sp()
    userid = reader.astring_text()
    reader.sp()
    password = reader.astring_text()
    reader.end()
    return Login(tag, name, userid, password)


def parse_enable(reader: Reader, tag: str, name: str) -> Enable:
    """``enable = "ENABLE" 1*(SP capability)`` (RFC 5161 4)."""
    names: list[str] = []
    while reader.take(b" "):
        names.append(reader.keyword())
    if not names:
        raise ParseError("ENABLE needs a capability")
    reader.end()
    return Enable(tag, name, tuple(dict.fromkeys(names)))


def parse_id(reader: Reader, tag: str, name: str) -> Id:
    """``id = "ID" SP id-params-list``; ``id-params-list = "(" *(string SP nstring) ")" / nil``."""
    reader.sp()
    if reader.take(b"NIL"):
        reader.end()
        return Id(tag, name, None)
    reader.expect(b"(")
    fields: list[tuple[str, str | None]] = []
    while not reader.take(b")"):
        if fields:
            reader.sp()
        if len(fields) >= MAX_ID_FIELDS:
            raise ParseError("Too many ID fields")
        key = reader.string().decode("utf-8", "replace")
        reader.sp()
        value = reader.nstring()
        fields.append((key, None if value is None else value.decode("utf-8", "replace")))
    reader.end()
    return Id(tag, name, tuple(fields))


def parse_quota_root(reader: Reader, tag: str, name: str) -> QuotaRoot:
    """``getquota = "GETQUOTA" SP quota-root-name``."""
    reader.sp()
    root = reader.astring_text()
    reader.end()
    return QuotaRoot(tag, name, root)


def parse_setquota(reader: Reader, tag: str, name: str) -> SetQuota:
    """``setquota = "SETQUOTA" SP quota-root-name SP setquota-list``; ``setquota-list = "("
    [setquota-resource *(SP setquota-resource)] ")"``; ``setquota-resource = resource-name SP resource-limit``."""
    reader.sp()
    root = reader.astring_text()
    reader.sp()
    reader.expect(b"(")
    limits: list[tuple[str, int]] = []
    while not reader.take(b")"):
        if limits:
            reader.sp()
        resource = reader.keyword()
        reader.sp()
        limits.append((resource, reader.number64()))
    reader.end()
    return SetQuota(tag, name, root, tuple(limits))


def parse_compress(reader: Reader, tag: str, name: str) -> Compress:
    """``compress = "COMPRESS" SP algorithm`` (RFC 4978 4)."""
    reader.sp()
    mechanism = reader.keyword()
    reader.end()
    return Compress(tag, name, mechanism)
