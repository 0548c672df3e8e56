"""Pillarbox: a complete mail server in one Python program."""

__version__ = "0.1.0"
