"""ENVELOPE, BODY and BODYSTRUCTURE from the stored MIME tree (RFC 9051 7.5.2, formal syntax 9).

The tree (``mime.model.Part``) was computed at delivery; this module only writes it. The shapes:

* ``envelope = "(" env-date SP env-subject SP env-from SP env-sender SP env-reply-to SP env-to SP
  env-cc SP env-bcc SP env-in-reply-to SP env-message-id ")"``, address lists as
  ``"(" 1*address ")" / nil`` and ``address = "(" addr-name SP addr-adl SP addr-mailbox SP addr-host ")"``.
* ``body-type-1part = (body-type-basic / body-type-msg / body-type-text) [SP body-ext-1part]``:
  ``type subtype (params) id desc enc octets``, then for message/rfc822 ``envelope body lines``, for
  text/* ``lines``.
* ``body-type-mpart = 1*body SP media-subtype [SP body-ext-mpart]``.

Extension data as Dovecot writes it: for a leaf ``md5 SP disposition SP language SP location``
(``body-ext-1part``), for a multipart ``(params) SP disposition SP language SP location``
(``body-ext-mpart``); an absent parameter list is NIL; language is always a parenthesized list.
BODY (``extensible=False``) is the same without any extension data, all the way down.
"""

from __future__ import annotations

from pillarbox.imap.response import nstring, string
from pillarbox.mime.addresses import Address
from pillarbox.mime.envelope import Envelope
from pillarbox.mime.model import Part
from pillarbox.mime.params import Params


def envelope(env: Envelope, utf8: bool = False) -> bytes:
    """``envelope`` (RFC 9051 7.5.2): header values raw, addresses as lists, NIL where absent."""
    fields = [
        nstring(env.date, utf8),
        nstring(env.subject, utf8),
        *(address_list(addresses, utf8) for addresses in (env.from_, env.sender, env.reply_to)),
        *(address_list(addresses, utf8) for addresses in (env.to, env.cc, env.bcc)),
        nstring(env.in_reply_to, utf8),
        nstring(env.message_id, utf8),
    ]
    return b"(" + b" ".join(fields) + b")"


def address_list(addresses: tuple[Address, ...], utf8: bool = False) -> bytes:
    """``env-from = "(" 1*address ")" / nil`` (and the other five lists)."""
    if not addresses:
        return b"NIL"
    return b"(" + b"".join(address(item, utf8) for item in addresses) + b")"


def address(item: Address, utf8: bool = False) -> bytes:
    """``address = "(" addr-name SP addr-adl SP addr-mailbox SP addr-host ")"``."""
    values = (item.name, item.adl, item.mailbox, item.host)
    return b"(" + b" ".join(nstring(value, utf8) for value in values) + b")"


def body_structure(part: Part, extensible: bool = True, utf8: bool = False) -> bytes:
    """``body = "(" (body-type-1part / body-type-mpart) ")"``; BODY when ``extensible`` is False."""
    if part.children:
        return _multipart(part, extensible, utf8)
    return _one_part(part, extensible, utf8)


def _multipart(part: Part, extensible: bool, utf8: bool) -> bytes:
    """``body-type-mpart = 1*body SP media-subtype [SP body-ext-mpart]``."""
    children = b"".join(body_structure(child, extensible, utf8) for child in part.children)
    out = children + b" " + string(part.content_subtype, utf8)
    if extensible:
        # body-ext-mpart = body-fld-param [SP body-fld-dsp [SP body-fld-lang [SP body-fld-loc ...]]]
        out += b" " + _params(part.params, utf8) + b" " + _extension_tail(part, utf8)
    return b"(" + out + b")"


def _one_part(part: Part, extensible: bool, utf8: bool) -> bytes:
    """``body-type-1part``: basic fields, then what message/rfc822 and text/* add, then extensions."""
    fields = [
        # media-basic / media-message / media-text: type and subtype as strings
        string(part.content_type, utf8),
        string(part.content_subtype, utf8),
        # body-fields = body-fld-param SP body-fld-id SP body-fld-desc SP body-fld-enc SP body-fld-octets
        _params(part.params, utf8),
        nstring(part.content_id, utf8),
        nstring(part.description, utf8),
        string(part.encoding, utf8),
        b"%d" % part.body_octets,
    ]
    if part.message is not None:
        # body-type-msg = media-message SP body-fields SP envelope SP body SP body-fld-lines
        fields.append(envelope(part.message.envelope, utf8))
        fields.append(body_structure(part.message.root, extensible, utf8))
        fields.append(b"%d" % part.body_lines)
    elif part.content_type == "text":
        # body-type-text = media-text SP body-fields SP body-fld-lines
        fields.append(b"%d" % part.body_lines)
    if extensible:
        # body-ext-1part = body-fld-md5 [SP body-fld-dsp [SP body-fld-lang [SP body-fld-loc ...]]]
        fields.append(nstring(part.md5, utf8))
        fields.append(_extension_tail(part, utf8))
    return b"(" + b" ".join(fields) + b")"


def _extension_tail(part: Part, utf8: bool) -> bytes:
    """``body-fld-dsp SP body-fld-lang SP body-fld-loc``."""
    disposition = _disposition(part.disposition, utf8)
    return b" ".join((disposition, _language(part.language, utf8), nstring(part.location, utf8)))


def _params(params: Params, utf8: bool) -> bytes:
    """``body-fld-param = "(" string SP string *(SP string SP string) ")" / nil``."""
    if not params:
        return b"NIL"
    return b"(" + b" ".join(string(name, utf8) + b" " + string(value, utf8) for name, value in params) + b")"


def _disposition(disposition: tuple[str, Params] | None, utf8: bool) -> bytes:
    """``body-fld-dsp = "(" string SP body-fld-param ")" / nil``."""
    if disposition is None:
        return b"NIL"
    kind, params = disposition
    return b"(" + string(kind, utf8) + b" " + _params(params, utf8) + b")"


def _language(language: tuple[str, ...] | None, utf8: bool) -> bytes:
    """``body-fld-lang = nstring / "(" string *(SP string) ")"`` (Dovecot: always the list form)."""
    if not language:
        return b"NIL"
    return b"(" + b" ".join(string(tag, utf8) for tag in language) + b")"
