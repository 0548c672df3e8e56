"""Reports other domains send us: DMARC aggregate (RFC 7489 7.2, Appendix C) and SMTP TLS (RFC 8460).

``intake.py`` recognises them in mail delivered to our rua address, ``dmarc.py`` and ``tlsrpt.py``
parse them into ``model.ParsedReport``; the store keeps the rows the reports page and the JSON API show.
"""
