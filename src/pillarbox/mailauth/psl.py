"""Organizational domains (RFC 7489 3.2) from the Public Suffix List.

The list comes from the maintained ``publicsuffixlist`` package (pinned in pyproject.toml, updated by
bumping the pin); it is loaded once, on first use, because parsing it takes a moment.
"""

from __future__ import annotations

from functools import lru_cache

from publicsuffixlist import PublicSuffixList


@lru_cache(maxsize=1)
def _list() -> PublicSuffixList:
    return PublicSuffixList()


@lru_cache(maxsize=4096)
def organizational_domain(domain: str) -> str:
    """The public suffix plus one label ("mail.example.co.uk" → "example.co.uk"); a domain that is
    itself a public suffix (or unknown to the list) is its own organizational domain."""
    domain = domain.rstrip(".").lower()
    return _list().privatesuffix(domain) or domain
