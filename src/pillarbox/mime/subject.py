"""The base subject of RFC 5256 2.1, which SORT (SUBJECT) and THREAD compare.

    subj-trailer = "(fwd)" / WSP
    subj-blob    = "[" *BLOBCHAR "]" *WSP
    subj-refwd   = ("re" / ("fw" ["d"])) *WSP [subj-blob] ":"
    subj-leader  = (*subj-blob subj-refwd) / WSP
    subj-fwd-hdr = "[fwd:" ; subj-fwd-trl = "]"

The procedure: (1) decode encoded words (done at delivery) and collapse whitespace; (2) remove
trailers; (3) remove leaders; (4) remove a leading blob if something remains after it; (5) repeat
(3) and (4); (6) unwrap "[fwd: ... ]" and start again at (2). The subject is a reply or forward if
a subj-refwd, a "(fwd)" trailer or a "[fwd: ]" wrapper went.

The naive way, cutting the string with regular expressions and slicing the rest again, is quadratic
in a subject of 100,000 "Re: " or "[x]" (each cut copies what is left, and each failed leader
rescans the same run of blobs). Here the cuts only move a start and an end index; a run of blobs is
scanned once, however many of them step (4) then removes one by one.
"""

from __future__ import annotations

import functools
import re
import unicodedata

from pillarbox.mime.casemap import casemap

_BLOB = re.compile(r"\[[^\[\]]*\][ \t]*")
_REFWD = re.compile(rf"(?:re|fwd?)[ \t]*(?:{_BLOB.pattern})?:", re.IGNORECASE)
_WHITESPACE = re.compile(r"\s+")
_SPECIAL = re.compile(r"[\[(:]|^\s|\s$")  # without one of these no step but (1) can apply


@functools.lru_cache(maxsize=8192)
def base_subject(subject: str) -> tuple[str, bool]:
    """RFC 5256 2.1: (the base subject in i;unicode-casemap form, whether it marked a reply or forward)."""
    text = subject if subject.isascii() else unicodedata.normalize("NFKC", subject)
    text = _WHITESPACE.sub(" ", text)  # step 1: one space for any run (tabs and line ends included)
    if not _SPECIAL.search(text):
        return casemap(text), False
    start, end, marked = 0, len(text), False
    while True:
        end, cut = _strip_trailers(text, start, end)  # step 2
        marked |= cut
        start, cut = _strip_leaders(text, start, end)  # steps 3-5
        marked |= cut
        if end - start >= 6 and text[start : start + 5].lower() == "[fwd:" and text[end - 1] == "]":  # step 6
            start, end, marked = start + 5, end - 1, True
            continue
        return casemap(text[start:end]), marked


def _strip_trailers(text: str, start: int, end: int) -> tuple[int, bool]:
    marked = False
    while end > start:
        if text[end - 1] == " ":
            end -= 1
        elif end - start >= 5 and text[end - 5 : end].lower() == "(fwd)":
            end, marked = end - 5, True
        else:
            break
    return end, marked


def _strip_leaders(text: str, start: int, end: int) -> tuple[int, bool]:
    marked = False
    blobs_end = -1  # where the run of blobs starting at or before ``start`` ends
    while start < end:
        if text[start] == " ":
            start += 1
            continue
        if start > blobs_end:
            blobs_end = _blob_run_end(text, start, end)
        refwd = _REFWD.match(text, blobs_end, end)
        if refwd is not None:  # *subj-blob subj-refwd: a leader
            start, marked = refwd.end(), True
            continue
        blob = _BLOB.match(text, start, end)
        if blob is None or blob.end() >= end:  # step 4 only when a subj-base remains
            break
        start = blob.end()
    return start, marked


def _blob_run_end(text: str, start: int, end: int) -> int:
    while (blob := _BLOB.match(text, start, end)) is not None:
        start = blob.end()
    return start
