"""The IMAP ENVELOPE (RFC 9051 7.5.2, RFC 3501 7.4.2) and RFC 2047 decoding for display.

ENVELOPE carries header values raw: unfolded, but encoded words, comments and quoting kept, because
decoding is the client's business. So ``Envelope`` keeps exactly that, and display values (the
subject and From shown in listings, SORT keys) are decoded separately with ``decode_header_value``.
When several fields of one name exist, the first one counts, as in Dovecot.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from pillarbox.mime.addresses import Address, parse_address_list
from pillarbox.mime.rfc2047 import decode_header_value

__all__ = ["Address", "Envelope", "build_envelope", "decode_header_value", "display_addresses"]

Addresses = tuple[Address, ...]


@dataclass(frozen=True)
class Envelope:
    """The ten ENVELOPE members in RFC order; None is NIL, an empty tuple is a NIL address list."""

    date: str | None = None
    subject: str | None = None
    from_: Addresses = ()
    sender: Addresses = ()
    reply_to: Addresses = ()
    to: Addresses = ()
    cc: Addresses = ()
    bcc: Addresses = ()
    in_reply_to: str | None = None
    message_id: str | None = None


def build_envelope(headers: Mapping[str, str]) -> Envelope:
    """The envelope of a header whose fields are given as lowercased name → first raw value."""
    from_ = parse_address_list(headers.get("from"))
    # RFC 3501 7.4.2: a Sender or Reply-To that is absent or empty is set to the From list.
    sender = parse_address_list(headers.get("sender")) or from_
    reply_to = parse_address_list(headers.get("reply-to")) or from_
    return Envelope(
        date=headers.get("date"),
        subject=headers.get("subject"),
        from_=from_,
        sender=sender,
        reply_to=reply_to,
        to=parse_address_list(headers.get("to")),
        cc=parse_address_list(headers.get("cc")),
        bcc=parse_address_list(headers.get("bcc")),
        in_reply_to=headers.get("in-reply-to"),
        message_id=headers.get("message-id"),
    )


def display_addresses(addresses: Addresses) -> str:
    """Addresses as people read them: 'Alice <a@x>, b@y', names RFC 2047-decoded, a group with its
    name as written, 'Team: a@x, b@y;' or 'undisclosed-recipients:;' (RFC 5322 3.4). SEARCH FROM/TO/
    CC/BCC match this text, so a group's name is found too (RFC 9051 6.4.4)."""
    shown: list[str] = []
    members: list[str] | None = None  # inside a group: its name, then its members
    for address in addresses:
        if address.is_group_start:
            members = [decode_header_value(address.mailbox or "")]
        elif address.is_group_end:
            if members is not None:
                shown.append(f"{members[0]}: {', '.join(members[1:])};" if members[1:] else f"{members[0]}:;")
            members = None
        elif address.addr_spec:
            spec, name = address.addr_spec, decode_header_value(address.name) if address.name else ""
            (shown if members is None else members).append(f"{name} <{spec}>" if name else spec)
    return ", ".join(shown)
