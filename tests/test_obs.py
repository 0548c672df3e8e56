"""Tests for pillarbox.obs: one-line structured logs that no value can break, and exact metrics text."""

from __future__ import annotations

import io
import json
import logging
import math
import re
import sys
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pillarbox.obs import (
    CONTENT_TYPE,
    REGISTRY,
    Counter,
    Gauge,
    Histogram,
    JSONFormatter,
    KVFormatter,
    Registry,
    export_metrics,
    get_logger,
    kv_value,
    log_event,
    render_metrics,
    setup_logging,
)

# 2026-11-27T02:00:00.123Z
FIXED_TIME = 1795744800.123


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """setup_logging changes process-wide state; put it back so other tests see what they expect."""
    root, ours = logging.getLogger(), logging.getLogger("pillarbox")
    saved = (list(root.handlers), root.level, ours.level)
    yield
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])
    ours.setLevel(saved[2])


def make_record(msg: str = "transaction", level: int = logging.INFO, name: str = "pillarbox.smtp",
                exc_info: Any = None, more: dict[str, Any] | None = None, **fields: Any) -> logging.LogRecord:
    """A record as ``log_event`` makes it, at a fixed time; ``more`` carries field names Python can't."""
    record = logging.getLogger(name).makeRecord(name, level, __file__, 1, msg, (), exc_info,
                                                extra={"fields": {**fields, **(more or {})}})
    record.created = FIXED_TIME
    record.msecs = 123.0
    return record


_PAIR = re.compile(r'([^\s=]+)=("(?:[^"\\]|\\.)*"|[^\s"]*)(?: |$)')


def parse_kv(line: str) -> list[tuple[str, str]]:
    """Split a kv line the way a log reader would; the whole line must be consumed."""
    pairs, pos = [], 0
    while pos < len(line):
        match = _PAIR.match(line, pos)
        assert match is not None, f"unparsable at {pos}: {line[pos:]!r}"
        pairs.append((match.group(1), match.group(2)))
        pos = match.end()
    return pairs


# --------------------------------------------------------------------------------------------------
# kv format.


def test_kv_line_exact() -> None:
    line = KVFormatter().format(make_record(queue_id="Q1", subject="quoted value", size=1234, tls=True))
    assert line == ('ts=2026-11-27T02:00:00.123Z level=info logger=smtp msg="transaction" '
                    'queue_id=Q1 subject="quoted value" size=1234 tls=true')


@pytest.mark.parametrize(("value", "shown"), [
    ("plain", "plain"),
    ("user@example.com", "user@example.com"),
    ("", '""'),
    (None, '""'),
    ("two words", '"two words"'),
    ('say "hi"', '"say \\"hi\\""'),
    ("a=b", '"a=b"'),
    ("back\\slash", '"back\\\\slash"'),
    ("line\nbreak", '"line\\nbreak"'),
    ("cr\rlf", '"cr\\rlf"'),
    ("tab\there", '"tab\\there"'),
    ("esc\x1b[31m", '"esc\\x1b[31m"'),
    ("sep\u2028x", '"sep\\u2028x"'),
    ("nel\x85x", '"nel\\x85x"'),
    ("café", "café"),
    (b"by\ntes\xff", '"by\\ntes\\\\xff"'),
    (3.5, "3.5"),
    (False, "false"),
])
def test_kv_value(value: Any, shown: str) -> None:
    assert kv_value(value) == shown


def test_kv_peer_cannot_inject_a_line() -> None:
    hostile = "x\r\nts=2026-01-01T00:00:00.000Z level=error logger=auth msg=\"login\" user=root"
    line = KVFormatter().format(make_record("ehlo " + hostile, helo=hostile))
    assert "\n" not in line and "\r" not in line
    # A reader that splits the line into pairs sees exactly our keys: the forged ones stay inside quotes.
    assert [key for key, _ in parse_kv(line)] == ["ts", "level", "logger", "msg", "helo"]
    assert dict(parse_kv(line))["helo"] == '"x\\r\\nts=2026-01-01T00:00:00.000Z level=error logger=auth ' \
        'msg=\\"login\\" user=root"'


def test_kv_reserved_and_odd_field_names() -> None:
    line = KVFormatter().format(make_record(more={"msg": "forged", "level": "x", "bad key\n": 1}))
    assert 'msg="transaction"' in line and " msg_=forged" in line and " level_=x" in line
    assert " bad_key_=1" in line


def test_kv_exception_is_one_line() -> None:
    try:
        raise RuntimeError("boom\nsecond line")
    except RuntimeError:
        record = make_record("failed", logging.ERROR, exc_info=sys.exc_info())
    line = KVFormatter().format(record)
    assert "\n" not in line
    assert 'level=error' in line and 'exc="Traceback (most recent call last):\\n' in line
    assert "RuntimeError: boom\\nsecond line" in line


def test_logger_name_outside_pillarbox_is_kept() -> None:
    assert " logger=asyncio " in KVFormatter().format(make_record(name="asyncio"))


@given(st.text())
def test_kv_never_breaks_a_line(text: str) -> None:
    line = KVFormatter().format(make_record(text, field=text))
    assert len(line.splitlines()) == 1
    assert [key for key, _ in parse_kv(line)] == ["ts", "level", "logger", "msg", "field"]


# --------------------------------------------------------------------------------------------------
# json format.


def test_json_line_exact() -> None:
    line = JSONFormatter().format(make_record(queue_id="Q1", size=3, helo="a\nb\u2028", when=object))
    assert "\n" not in line and "\u2028" not in line
    assert json.loads(line) == {"ts": "2026-11-27T02:00:00.123Z", "level": "info", "logger": "smtp",
                                "msg": "transaction", "queue_id": "Q1", "size": 3, "helo": "a\nb\u2028",
                                "when": str(object)}
    assert line.startswith('{"ts":"2026-11-27T02:00:00.123Z","level":"info","logger":"smtp"')


@given(st.text())
def test_json_never_breaks_a_line(text: str) -> None:
    line = JSONFormatter().format(make_record(text, field=text))
    assert len(line.splitlines()) == 1
    assert json.loads(line)["field"] == text


# --------------------------------------------------------------------------------------------------
# setup_logging and log_event end to end.

_KV_LINE = re.compile(r'ts=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z level=(\w+) logger=(\S+) msg="([^"]*)"(.*)')


def test_setup_kv_and_log_event() -> None:
    stream = io.StringIO()
    setup_logging("info", "kv", stream)
    log_event(get_logger("smtp"), "info", "transaction", queue_id="Q1", rcpts=2)
    log_event("imap.session", "debug", "hidden")
    log_event(logging.getLogger("pillarbox.pop3"), logging.WARNING, "slow", secs=1.5)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2
    first = _KV_LINE.fullmatch(lines[0])
    assert first is not None and first.groups() == ("info", "smtp", "transaction", " queue_id=Q1 rcpts=2")
    second = _KV_LINE.fullmatch(lines[1])
    assert second is not None and second.groups() == ("warning", "pop3", "slow", " secs=1.5")


def test_setup_json_debug() -> None:
    stream = io.StringIO()
    setup_logging("debug", "json", stream)
    log_event("imap", "debug", "select", mailbox="INBOX")
    record = json.loads(stream.getvalue())
    assert (record["level"], record["logger"], record["msg"], record["mailbox"]) == \
        ("debug", "imap", "select", "INBOX")


def test_setup_twice_does_not_double_lines() -> None:
    first, second = io.StringIO(), io.StringIO()
    setup_logging("info", "kv", first)
    setup_logging("info", "kv", second)
    log_event("smtp", "info", "once")
    assert first.getvalue() == "" and second.getvalue().count("\n") == 1


def test_other_libraries_only_from_warning() -> None:
    stream = io.StringIO()
    setup_logging("debug", "kv", stream)
    logging.getLogger("somelib").info("chatter")
    logging.getLogger("somelib").warning("important")
    assert "chatter" not in stream.getvalue() and 'msg="important"' in stream.getvalue()


def test_plain_logging_calls_work_too() -> None:
    stream = io.StringIO()
    setup_logging("info", "kv", stream)
    logging.getLogger("pillarbox.queue").info("retry %s in %d s", "Q1", 60)
    assert 'logger=queue msg="retry Q1 in 60 s"' in stream.getvalue()


def test_setup_refuses_bad_level() -> None:
    with pytest.raises(ValueError):
        setup_logging("verbose", "kv", io.StringIO())
    with pytest.raises(ValueError):
        setup_logging("info", "xml", io.StringIO())


# --------------------------------------------------------------------------------------------------
# Metrics.


def test_counter_exact() -> None:
    registry = Registry()
    counter = Counter("pillarbox_smtp_messages_total", "Messages accepted.", ["listener", "result"],
                      registry=registry)
    counter.inc(listener="smtp", result="ok")
    counter.inc(2, listener="smtp", result="ok")
    counter.inc(listener="submission", result="rejected")
    assert render_metrics(registry) == (
        "# HELP pillarbox_smtp_messages_total Messages accepted.\n"
        "# TYPE pillarbox_smtp_messages_total counter\n"
        'pillarbox_smtp_messages_total{listener="smtp",result="ok"} 3\n'
        'pillarbox_smtp_messages_total{listener="submission",result="rejected"} 1\n'
    )
    assert counter.value(listener="smtp", result="ok") == 3


def test_unlabelled_counter_starts_at_zero() -> None:
    registry = Registry()
    Counter("pillarbox_restarts_total", "Restarts.", registry=registry)
    assert render_metrics(registry) == (
        "# HELP pillarbox_restarts_total Restarts.\n"
        "# TYPE pillarbox_restarts_total counter\n"
        "pillarbox_restarts_total 0\n"
    )


def test_label_and_help_escaping() -> None:
    registry = Registry()
    help_text = 'Help with \\ and\nnewline and "quotes".'
    counter = Counter("pillarbox_x_total", help_text, ["v"], registry=registry)
    counter.inc(v='a"b\\c\nd')
    assert render_metrics(registry) == (
        '# HELP pillarbox_x_total Help with \\\\ and\\nnewline and "quotes".\n'
        "# TYPE pillarbox_x_total counter\n"
        'pillarbox_x_total{v="a\\"b\\\\c\\nd"} 1\n'
    )


def test_gauge_exact() -> None:
    registry = Registry()
    gauge = Gauge("pillarbox_connections", "Open connections.", ["proto"], registry=registry)
    gauge.inc(proto="imap")
    gauge.inc(proto="imap")
    gauge.dec(proto="imap")
    gauge.set(2.5, proto="pop3")
    gauge.set(float("inf"), proto="smtp")
    assert render_metrics(registry) == (
        "# HELP pillarbox_connections Open connections.\n"
        "# TYPE pillarbox_connections gauge\n"
        'pillarbox_connections{proto="imap"} 1\n'
        'pillarbox_connections{proto="pop3"} 2.5\n'
        'pillarbox_connections{proto="smtp"} +Inf\n'
    )


def test_histogram_exact() -> None:
    registry = Registry()
    histogram = Histogram("pillarbox_delivery_seconds", "Delivery time.", ["kind"],
                          buckets=(0.1, 1, 10), registry=registry)
    for value in (0.05, 0.1, 0.5, 20):
        histogram.observe(value, kind="local")
    assert render_metrics(registry) == (
        "# HELP pillarbox_delivery_seconds Delivery time.\n"
        "# TYPE pillarbox_delivery_seconds histogram\n"
        'pillarbox_delivery_seconds_bucket{kind="local",le="0.1"} 2\n'
        'pillarbox_delivery_seconds_bucket{kind="local",le="1.0"} 3\n'
        'pillarbox_delivery_seconds_bucket{kind="local",le="10.0"} 3\n'
        'pillarbox_delivery_seconds_bucket{kind="local",le="+Inf"} 4\n'
        'pillarbox_delivery_seconds_sum{kind="local"} 20.65\n'
        'pillarbox_delivery_seconds_count{kind="local"} 4\n'
    )


def test_unlabelled_histogram_and_timer() -> None:
    registry = Registry()
    histogram = Histogram("pillarbox_hash_seconds", "Hashing.", buckets=(1.0,), registry=registry)
    with histogram.time():
        pass
    text = render_metrics(registry)
    assert 'pillarbox_hash_seconds_bucket{le="1.0"} 1\n' in text
    assert 'pillarbox_hash_seconds_bucket{le="+Inf"} 1\n' in text
    assert "pillarbox_hash_seconds_count 1\n" in text


def test_histogram_nan_goes_to_inf_only() -> None:
    histogram = Histogram("h", "h", buckets=(1.0,), registry=None)
    histogram.observe(math.nan)
    expected = ['h_bucket{le="1.0"} 0', 'h_bucket{le="+Inf"} 1', "h_sum NaN", "h_count 1"]
    assert histogram.render()[2:] == expected


def test_every_rendered_line_is_well_formed() -> None:
    registry = Registry()
    Counter("a_total", "A.", ["x"], registry=registry).inc(x="1")
    Gauge("b", "B.", registry=registry).set(-3)
    Histogram("c", "C.", ["y"], registry=registry).observe(0.3, y="z")
    sample = re.compile(r'[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_]\w*="([^"\\\n]|\\[\\"n])*",?)*\})? \S+')
    lines = render_metrics(registry).split("\n")
    assert lines[-1] == ""
    for line in lines[:-1]:
        assert line.startswith(("# HELP ", "# TYPE ")) or sample.fullmatch(line), line


def test_registering_a_name_twice_raises() -> None:
    registry = Registry()
    Counter("dup_total", "First.", registry=registry)
    with pytest.raises(ValueError, match="dup_total is already registered"):
        Gauge("dup_total", "Second.", registry=registry)
    registry.unregister("dup_total")
    Gauge("dup_total", "Second.", registry=registry)


@pytest.mark.parametrize("call", [
    lambda: Counter("bad-name", "x", registry=None),
    lambda: Counter("ok", "x", ["bad-label"], registry=None),
    lambda: Counter("ok", "x", ["__reserved"], registry=None),
    lambda: Histogram("ok", "x", ["le"], registry=None),
    lambda: Histogram("ok", "x", buckets=(2, 1), registry=None),
    lambda: Counter("ok", "x", registry=None).inc(-1),
    lambda: Counter("ok", "x", ["a"], registry=None).inc(),
    lambda: Counter("ok", "x", ["a"], registry=None).inc(a="1", b="2"),
    lambda: Gauge("ok", "x", registry=None).set(1, a="1"),
])
def test_misuse_raises_value_error(call: Any) -> None:
    with pytest.raises(ValueError):
        call()


def test_increments_from_threads_are_not_lost() -> None:
    counter = Counter("threads_total", "x", ["t"], registry=None)
    histogram = Histogram("threads_seconds", "x", registry=None)

    def work() -> None:
        for _ in range(2000):
            counter.inc(t="a")
            histogram.observe(0.01)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert counter.value(t="a") == 16000
    assert histogram.render()[-1] == "threads_seconds_count 16000"


def test_module_registry_and_content_type() -> None:
    assert isinstance(REGISTRY, Registry)
    assert CONTENT_TYPE == "text/plain; version=0.0.4; charset=utf-8"
    assert render_metrics(Registry()) == ""


def test_other_processes_samples_are_added_in() -> None:
    """With workers, the primary's /metrics adds what each worker exported (as JSON, via a file)."""
    def registry_with(messages: int, open_now: int, seconds: float | None, label: str = "ok") -> Registry:
        registry = Registry()
        Counter("m_total", "Messages.", ["result"], registry=registry).inc(messages, result=label)
        Gauge("open", "Open.", registry=registry).set(open_now)
        timing = Histogram("t_seconds", "Time.", buckets=(1.0,), registry=registry)
        if seconds is not None:
            timing.observe(seconds)
        return registry

    primary = registry_with(3, 2, 0.5)
    worker = json.loads(json.dumps(export_metrics(registry_with(4, 5, 2.0, label="refused"))))
    other = json.loads(json.dumps(export_metrics(registry_with(1, 1, None))))
    assert render_metrics(primary, others=[worker, other]) == (
        "# HELP m_total Messages.\n# TYPE m_total counter\n"
        'm_total{result="ok"} 4\nm_total{result="refused"} 4\n'
        "# HELP open Open.\n# TYPE open gauge\nopen 8\n"
        "# HELP t_seconds Time.\n# TYPE t_seconds histogram\n"
        't_seconds_bucket{le="1.0"} 1\nt_seconds_bucket{le="+Inf"} 2\nt_seconds_sum 2.5\nt_seconds_count 2\n'
    )
    assert 'm_total{result="ok"} 3\n' in render_metrics(primary)  # its own samples are left as they were
