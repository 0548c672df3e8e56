"""Documents that let mail clients set themselves up from an address, built from ``clientsetup.served``
(the listeners really configured, with their ports; nothing assumed):

- Thunderbird autoconfig, ``config-v1.1.xml`` (the "Autoconfiguration" format of Mozilla's ISPDB), served
  at ``autoconfig.DOMAIN/mail/config-v1.1.xml?emailaddress=…`` and ``/.well-known/autoconfig/mail/…``;
- Microsoft Autodiscover "POX" (``POST /autodiscover/autodiscover.xml``, [MS-OXDSCLI]): the request names
  the address in ``<EMailAddress>``, the answer lists IMAP/POP3/SMTP ``<Protocol>`` elements;
- an Apple configuration profile (``.mobileconfig``, a property list with one ``com.apple.mail.managed``
  payload) for the logged-in user.

All XML is built with ElementTree (so every value is escaped) and the request is parsed with
defusedxml (no entity expansion, no external entities: the body comes from anyone).
"""

from __future__ import annotations

import plistlib
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Mapping

from defusedxml.ElementTree import fromstring

from pillarbox.clientsetup import ClientService, served
from pillarbox.errors import InvalidInput

AUTODISCOVER_RESPONSE = "http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006"
OUTLOOK_RESPONSE = "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a"
MAX_AUTODISCOVER_REQUEST = 16 * 1024


def _xml(root: ET.Element) -> bytes:
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="utf-8")


def _child(parent: ET.Element, tag: str, text: str | int | None = None, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, tag, attrs)
    if text is not None:
        element.text = str(text)
    return element


def thunderbird(domain: str, hostname: str, ports: Mapping[str, int]) -> bytes:
    root = ET.Element("clientConfig", version="1.1")
    provider = _child(root, "emailProvider", id=domain)
    _child(provider, "domain", domain)
    _child(provider, "displayName", f"{domain} mail")
    _child(provider, "displayShortName", domain)
    for service in served(ports):
        tag = "outgoingServer" if service.protocol == "smtp" else "incomingServer"
        server = _child(provider, tag, type=service.protocol)
        _child(server, "hostname", hostname)
        _child(server, "port", service.port)
        _child(server, "socketType", service.socket_type)
        _child(server, "authentication", "password-cleartext")
        _child(server, "username", "%EMAILADDRESS%")
    return _xml(root)


def autodiscover_address(body: bytes) -> str:
    """The ``EMailAddress`` of an Outlook POX request; InvalidInput for anything else."""
    if len(body) > MAX_AUTODISCOVER_REQUEST:
        raise InvalidInput("body", "request too large")
    try:
        root = fromstring(body)
    except Exception:
        raise InvalidInput("body", "not an Autodiscover request") from None
    for element in root.iter():
        if element.tag.rpartition("}")[2] == "EMailAddress" and element.text and "@" in element.text:
            return element.text.strip()
    raise InvalidInput("EMailAddress", "the request names no EMailAddress")


def _pox_protocol(account: ET.Element, service: ClientService, hostname: str, address: str) -> None:
    protocol = _child(account, "Protocol")
    _child(protocol, "Type", {"smtp": "SMTP", "imap": "IMAP", "pop3": "POP3"}[service.protocol])
    _child(protocol, "Server", hostname)
    _child(protocol, "Port", service.port)
    _child(protocol, "DomainRequired", "off")
    _child(protocol, "LoginName", address)
    _child(protocol, "SPA", "off")
    _child(protocol, "Encryption", "SSL" if service.implicit_tls else "TLS")
    _child(protocol, "AuthRequired", "on")


def autodiscover(address: str, hostname: str, ports: Mapping[str, int]) -> bytes:
    root = ET.Element("Autodiscover", xmlns=AUTODISCOVER_RESPONSE)
    response = _child(root, "Response", xmlns=OUTLOOK_RESPONSE)
    account = _child(response, "Account")
    _child(account, "AccountType", "email")
    _child(account, "Action", "settings")
    seen = set()
    for service in served(ports):  # the best of each protocol only: Outlook takes the first it likes
        if service.protocol not in seen:
            seen.add(service.protocol)
            _pox_protocol(account, service, hostname, address)
    return _xml(root)


def _first(ports: Mapping[str, int], protocol: str) -> ClientService | None:
    return next((s for s in served(ports) if s.protocol == protocol), None)


def mobileconfig(address: str, hostname: str, ports: Mapping[str, int]) -> bytes:
    """An unsigned profile for Apple Mail: IMAP (else POP3) in, submission out."""
    incoming = _first(ports, "imap") or _first(ports, "pop3")
    outgoing = _first(ports, "smtp")
    if incoming is None or outgoing is None:
        raise InvalidInput("listen", "no IMAP/POP3 or submission listener is configured")
    reverse = ".".join(reversed(hostname.split(".")))
    mail = {
        "PayloadType": "com.apple.mail.managed", "PayloadVersion": 1,
        "PayloadIdentifier": f"{reverse}.mail.{address}", "PayloadUUID": str(uuid.uuid4()).upper(),
        "PayloadDisplayName": address, "EmailAccountDescription": address, "EmailAddress": address,
        "EmailAccountType": "EmailTypeIMAP" if incoming.protocol == "imap" else "EmailTypePOP",
        "IncomingMailServerHostName": hostname, "IncomingMailServerPortNumber": incoming.port,
        "IncomingMailServerUseSSL": True, "IncomingMailServerUsername": address,
        "IncomingMailServerAuthentication": "EmailAuthPassword",
        "OutgoingMailServerHostName": hostname, "OutgoingMailServerPortNumber": outgoing.port,
        "OutgoingMailServerUseSSL": True, "OutgoingMailServerUsername": address,
        "OutgoingMailServerAuthentication": "EmailAuthPassword", "OutgoingPasswordSameAsIncomingPassword": True,
    }
    profile = {
        "PayloadType": "Configuration", "PayloadVersion": 1, "PayloadIdentifier": f"{reverse}.mail",
        "PayloadUUID": str(uuid.uuid4()).upper(), "PayloadDisplayName": f"Mail for {address}",
        "PayloadContent": [mail],
    }
    return plistlib.dumps(profile, fmt=plistlib.FMT_XML)
