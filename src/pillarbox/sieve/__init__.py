"""Sieve (RFC 5228) and its extensions: parser, compiler, sans-IO interpreter (script + message in, actions out)."""
