"""Keeping spam out (docs/antispam.md): connection screening and greylisting on port 25, the content
filter (a per-user classifier built in, rspamd when configured), learning from users' moves into and
out of Junk, per-user allow/block lists, and limits on what each account sends.

Sits below ``smtp/`` and ``policy/``; ``imap/`` never imports it (learning reads the change log).
"""
