"""Certificates from an ACME CA (RFC 8555): the account, orders and their challenges, renewal.

``files`` keeps the account key and certificates in ``data_dir/acme`` (mode 0600); ``challenges``
answers the CA's validation requests (HTTP-01 on the web port, TLS-ALPN-01 on 443); ``orders`` speaks
the protocol through certbot's ``acme`` library, blocking, so it runs in a thread; ``manager`` decides
what to order when and swaps new certificates into the listeners; ``status`` is what the CLI and the
admin pages show.
"""

from pillarbox.acme.status import status

__all__ = ["status"]
