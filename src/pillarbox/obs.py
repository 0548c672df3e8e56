"""Observability: one structured log line per event, and Prometheus metrics without a dependency.

Logs. Code calls ``log_event(log, "info", "transaction", queue_id=..., mail_from=...)``; the fields travel
in ``extra={"fields": {...}}`` and the formatter writes ONE line per record, either ``key=value`` pairs
(``kv``, for people and grep) or one JSON object (``json``, for collectors). Field values often come from
peers (a MAIL FROM address, an EHLO name), so the formatter is the one place that makes a hostile value
harmless: every line break and control character is escaped, never written raw, so no peer can forge a
log line. Exceptions are escaped the same way (the traceback becomes one ``exc="..."`` value).

Metrics. A Counter, a Gauge and a Histogram, each with optional labels, registered in ``REGISTRY`` and
rendered by ``render_metrics`` in the Prometheus text exposition format 0.0.4, which the web module
serves at /metrics with ``CONTENT_TYPE``. Increments come from the event loop and from worker threads,
so every metric guards its samples with a lock.
"""

from __future__ import annotations

import json
import logging
import math
import re
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, TextIO

ROOT_LOGGER = "pillarbox"
LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}
_LEVEL_NAMES = {logging.DEBUG: "debug", logging.INFO: "info", logging.WARNING: "warning",
                logging.ERROR: "error", logging.CRITICAL: "critical"}
_RESERVED = ("ts", "level", "logger", "node", "proc", "msg", "exc")

# --------------------------------------------------------------------------------------------------
# Logging.


def get_logger(name: str) -> logging.Logger:
    """``get_logger("smtp")`` → the ``pillarbox.smtp`` logger (also fine: ``logging.getLogger(__name__)``)."""
    return logging.getLogger(name if name.startswith(ROOT_LOGGER) else f"{ROOT_LOGGER}.{name}")


def log_event(logger: logging.Logger | str, level: str | int, event: str, **fields: Any) -> None:
    """Log ``event`` with structured ``fields``: the call every module makes for a log line."""
    log = get_logger(logger) if isinstance(logger, str) else logger
    levelno = LEVELS[level] if isinstance(level, str) else level
    if log.isEnabledFor(levelno):  # skip building the record for filtered-out debug lines
        # straight to the handlers: Logger.log would walk the stack for a source line no format shows
        log.handle(log.makeRecord(log.name, levelno, "", 0, event, (), None, extra={"fields": fields}))


def _short_name(name: str) -> str:
    # "pillarbox.smtp.server" reads as "smtp.server": every line is ours, the prefix says nothing.
    return name[len(ROOT_LOGGER) + 1:] if name.startswith(ROOT_LOGGER + ".") else name


def _timestamp(record: logging.LogRecord) -> str:
    when = datetime.fromtimestamp(record.created, UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z"


_process_label: str | None = None
_node_name: str | None = None


def name_os_thread(name: str) -> None:
    """Give the calling thread ``name`` (15 bytes at most) where the OS shows it: top -H, ps -L, strace
    -f with /proc/PID/task/TID/comm, py-spy. Python's threading names only its own objects. Linux only;
    elsewhere nothing happens."""
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(15, name.encode()[:15], 0, 0, 0)  # PR_SET_NAME
    except (OSError, AttributeError):
        pass


def set_process_label(label: str | None) -> None:
    """With several server processes (``workers``), every line says which one wrote it (``proc=``)."""
    global _process_label
    _process_label = label


def set_node_name(name: str | None) -> None:
    """With several nodes (``serve --node NAME``), every line says which one wrote it (``node=``)."""
    global _node_name
    _node_name = name


def _record_fields(record: logging.LogRecord) -> dict[str, Any]:
    """Everything a line carries, in order: the fixed keys first, then the caller's fields."""
    out: dict[str, Any] = {"ts": _timestamp(record), "level": _LEVEL_NAMES.get(record.levelno, "info"),
                           "logger": _short_name(record.name)}
    if _node_name is not None:
        out["node"] = _node_name
    if _process_label is not None:
        out["proc"] = _process_label
    out["msg"] = record.getMessage()
    extra = getattr(record, "fields", None)
    for key, value in (extra.items() if isinstance(extra, Mapping) else ()):
        name = _safe_key(str(key))
        out[name + "_" if name in _RESERVED else name] = value  # a field never overwrites a fixed key
    if record.exc_info:
        out["exc"] = logging.Formatter().formatException(record.exc_info)
    return out


_KEY_BAD = re.compile(r"[^A-Za-z0-9_.\-]")
_NEEDS_QUOTES = re.compile(r'[\s"=\\]')


def _safe_key(key: str) -> str:
    return _KEY_BAD.sub("_", key) or "_"


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, bytes):
        return value.decode("utf-8", "backslashreplace")
    return str(value)


def _escape_char(char: str) -> str:
    special = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}
    if char in special:
        return special[char]
    if char.isprintable() or char == " ":
        return char
    code = ord(char)  # U+2028, NEL, ESC...: anything a terminal or a line splitter might act on
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def kv_value(value: Any) -> str:
    """One value as it appears after ``key=``: bare if it is plain, else quoted with escapes."""
    text = _text(value)
    if text and not _NEEDS_QUOTES.search(text) and text.isprintable():
        return text
    return _quoted(text)


def _quoted(text: str) -> str:
    if text.isprintable() and "\\" not in text and '"' not in text:  # the common case: nothing to escape
        return '"' + text + '"'
    return '"' + "".join(_escape_char(c) for c in text) + '"'


class KVFormatter(logging.Formatter):
    """``ts=... level=info logger=smtp msg="transaction" key=value`` on one line."""

    def format(self, record: logging.LogRecord) -> str:
        parts = []
        for key, value in _record_fields(record).items():
            shown = _quoted(_text(value)) if key == "msg" else kv_value(value)
            parts.append(f"{key}={shown}")
        return " ".join(parts)


class JSONFormatter(logging.Formatter):
    """One JSON object per line. ensure_ascii keeps U+2028 and friends escaped, so lines stay lines."""

    def format(self, record: logging.LogRecord) -> str:
        return json.dumps(_record_fields(record), ensure_ascii=True, default=_text, separators=(",", ":"))


class _PillarboxHandler(logging.StreamHandler):
    """Marks the handler we installed, so that setting up twice replaces it instead of doubling lines."""


def setup_logging(level: str = "info", fmt: str = "kv", stream: TextIO | None = None) -> logging.Handler:
    """Send log records to ``stream`` (default stderr), one line each, in format ``kv`` or ``json``.

    Pillarbox's own loggers log at ``level``; other libraries' loggers (asyncio, ...) at warning or
    above, so that a debug session shows our detail rather than theirs."""
    if level not in LEVELS or fmt not in ("kv", "json"):
        raise ValueError(f"bad log level or format: {level!r}, {fmt!r}")
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _PillarboxHandler)]:
        root.removeHandler(old)
    handler = _PillarboxHandler(sys.stderr if stream is None else stream)
    handler.setFormatter(KVFormatter() if fmt == "kv" else JSONFormatter())
    root.addHandler(handler)
    root.setLevel(max(LEVELS[level], logging.WARNING))
    logging.getLogger(ROOT_LOGGER).setLevel(LEVELS[level])
    return handler


class SessionTally:
    """What a protocol session's one summary line says about its use: how long it lasted and how many
    commands it ran (the connection counts the bytes). ``clock`` is monotonic seconds."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self.started = clock()
        self.commands = 0

    def fields(self, bytes_in: int, bytes_out: int) -> dict[str, Any]:
        return {"duration": round(self._clock() - self.started, 3), "commands": self.commands,
                "bytes_in": bytes_in, "bytes_out": bytes_out}


# --------------------------------------------------------------------------------------------------
# Metrics.

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
DEFAULT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*\Z")
_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*\Z")


def format_number(value: float) -> str:
    """A sample value as the exposition format spells it (Go's ParseFloat reads all of these)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value))


def _escape_label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _labels_text(pairs: Sequence[tuple[str, str]]) -> str:
    if not pairs:
        return ""
    return "{" + ",".join(f'{name}="{_escape_label(value)}"' for name, value in pairs) + "}"


class Registry:
    """The metrics that /metrics shows, in registration order. A name can be registered only once."""

    def __init__(self) -> None:
        self._metrics: dict[str, Metric] = {}
        self._lock = threading.Lock()

    def register(self, metric: Metric) -> None:
        with self._lock:
            if metric.name in self._metrics:
                raise ValueError(f"metric {metric.name} is already registered")
            self._metrics[metric.name] = metric

    def unregister(self, name: str) -> None:
        with self._lock:
            self._metrics.pop(name, None)

    def get(self, name: str) -> Metric | None:
        return self._metrics.get(name)

    def metrics(self) -> list[Metric]:
        with self._lock:
            return list(self._metrics.values())


REGISTRY = Registry()


class Metric:
    """Common part: name, help, label names, and samples keyed by the tuple of label values."""

    kind = "untyped"

    def __init__(self, name: str, help: str, labelnames: Sequence[str] = (),
                 registry: Registry | None = REGISTRY) -> None:
        if not _METRIC_NAME.match(name):
            raise ValueError(f"bad metric name {name!r}")
        for label in labelnames:
            if not _LABEL_NAME.match(label) or label.startswith("__") or label in self._reserved_labels():
                raise ValueError(f"bad label name {label!r} for metric {name}")
        self.name, self.help, self.labelnames = name, help, tuple(labelnames)
        self._lock = threading.Lock()
        self._samples: dict[tuple[str, ...], Any] = {}
        if not self.labelnames:
            self._samples[()] = self._zero()  # an unlabelled metric is shown (as 0) from the start
        if registry is not None:
            registry.register(self)

    def _reserved_labels(self) -> tuple[str, ...]:
        return ()

    def _zero(self) -> Any:
        return 0

    def _key(self, labels: Mapping[str, Any]) -> tuple[str, ...]:
        if set(labels) != set(self.labelnames):
            raise ValueError(f"metric {self.name} takes labels {self.labelnames}, got {tuple(labels)}")
        return tuple(str(labels[name]) for name in self.labelnames)

    def _add(self, amount: float, labels: Mapping[str, Any]) -> None:
        key = self._key(labels)
        with self._lock:
            self._samples[key] = self._samples.get(key, 0) + amount

    def value(self, **labels: Any) -> Any:
        """The current value for these labels (for tests and the admin pages)."""
        with self._lock:
            return self._samples.get(self._key(labels), self._zero())

    def _snapshot(self) -> list[tuple[tuple[str, ...], Any]]:
        with self._lock:
            items = [(key, self._copy(sample)) for key, sample in self._samples.items()]
        return sorted(items, key=lambda item: item[0])  # stable output, easy to diff and to test

    def _copy(self, sample: Any) -> Any:
        return sample

    def render(self, others: Sequence[list[Any]] = ()) -> list[str]:
        """The exposition lines; ``others``: ``export()`` results of other processes, added in."""
        samples = dict(self._snapshot())
        for exported in others:
            for key, value in exported:
                key = tuple(key)
                samples[key] = self._combine(samples[key], value) if key in samples else self._restore(value)
        lines = [f"# HELP {self.name} {_escape_help(self.help)}", f"# TYPE {self.name} {self.kind}"]
        for key, sample in sorted(samples.items(), key=lambda item: item[0]):
            lines.extend(self._sample_lines(list(zip(self.labelnames, key, strict=True)), sample))
        return lines

    def export(self) -> list[list[Any]]:
        """The samples as JSON-able data, for the primary process to add to its own (``workers``)."""
        return [[list(key), self._plain(sample)] for key, sample in self._snapshot()]

    def _plain(self, sample: Any) -> Any:
        return sample

    def _restore(self, value: Any) -> Any:
        return value

    def _combine(self, sample: Any, value: Any) -> Any:
        return sample + value

    def _sample_lines(self, pairs: list[tuple[str, str]], sample: Any) -> list[str]:
        return [f"{self.name}{_labels_text(pairs)} {format_number(sample)}"]


class Counter(Metric):
    """Only goes up (restarts reset it; Prometheus copes). By convention its name ends in ``_total``."""

    kind = "counter"

    def inc(self, amount: float = 1, **labels: Any) -> None:
        if amount < 0:
            raise ValueError(f"counter {self.name} cannot go down")
        self._add(amount, labels)


class Gauge(Metric):
    """A value that goes up and down: open connections, queue length."""

    kind = "gauge"

    def set(self, value: float, **labels: Any) -> None:
        key = self._key(labels)
        with self._lock:
            self._samples[key] = value

    def inc(self, amount: float = 1, **labels: Any) -> None:
        self._add(amount, labels)

    def dec(self, amount: float = 1, **labels: Any) -> None:
        self._add(-amount, labels)


class _HistogramSample:
    def __init__(self, buckets: int) -> None:
        self.counts = [0] * buckets  # per bucket, not cumulative; rendering accumulates
        self.sum: float = 0
        self.count = 0


class Histogram(Metric):
    """Counts observations into fixed buckets (upper bounds, inclusive) plus +Inf, with sum and count."""

    kind = "histogram"

    def __init__(self, name: str, help: str, labelnames: Sequence[str] = (),
                 buckets: Sequence[float] = DEFAULT_BUCKETS, registry: Registry | None = REGISTRY) -> None:
        bounds = [float(b) for b in buckets if not math.isinf(b)]
        if not bounds or bounds != sorted(set(bounds)):
            raise ValueError(f"histogram {name}: buckets must be increasing, got {tuple(buckets)}")
        self.buckets = (*bounds, math.inf)
        super().__init__(name, help, labelnames, registry)

    def _reserved_labels(self) -> tuple[str, ...]:
        return ("le",)

    def _zero(self) -> Any:
        return _HistogramSample(len(self.buckets))

    def observe(self, value: float, **labels: Any) -> None:
        key = self._key(labels)
        # NaN is below no bound: it lands in +Inf only, as in the reference client.
        index = next((i for i, bound in enumerate(self.buckets) if value <= bound), len(self.buckets) - 1)
        with self._lock:
            sample = self._samples.setdefault(key, self._zero())
            sample.counts[index] += 1
            sample.sum += value
            sample.count += 1

    @contextmanager
    def time(self, **labels: Any) -> Iterator[None]:
        """Observe how many seconds the ``with`` block took."""
        start = time.perf_counter()
        try:
            yield
        finally:
            self.observe(time.perf_counter() - start, **labels)

    def _copy(self, sample: Any) -> Any:
        copy = _HistogramSample(len(self.buckets))
        copy.counts, copy.sum, copy.count = list(sample.counts), sample.sum, sample.count
        return copy

    def _plain(self, sample: Any) -> Any:
        return [sample.counts, sample.sum, sample.count]

    def _restore(self, value: Any) -> Any:
        return self._combine(self._zero(), value)

    def _combine(self, sample: Any, value: Any) -> Any:
        counts, total, count = value
        sample.counts = [mine + theirs for mine, theirs in zip(sample.counts, counts, strict=True)]
        sample.sum += total
        sample.count += count
        return sample

    def _sample_lines(self, pairs: list[tuple[str, str]], sample: Any) -> list[str]:
        lines, running = [], 0
        for bound, count in zip(self.buckets, sample.counts, strict=True):
            running += count
            le = _labels_text([*pairs, ("le", format_number(bound))])
            lines.append(f"{self.name}_bucket{le} {running}")
        lines.append(f"{self.name}_sum{_labels_text(pairs)} {format_number(sample.sum)}")
        lines.append(f"{self.name}_count{_labels_text(pairs)} {sample.count}")
        return lines


def render_metrics(registry: Registry = REGISTRY, others: Sequence[Mapping[str, list[Any]]] = ()) -> str:
    """Every metric of ``registry`` in the text exposition format 0.0.4 (ends with a newline).

    ``others``: ``export_metrics`` of other server processes (``workers``): their counters, gauges and
    histograms are added to this process's, so one scrape sees the whole server."""
    lines = [line for metric in registry.metrics()
             for line in metric.render([other[metric.name] for other in others if metric.name in other])]
    return "\n".join(lines) + "\n" if lines else ""


def export_metrics(registry: Registry = REGISTRY) -> dict[str, list[Any]]:
    """Every metric's samples as JSON-able data, by name (for ``render_metrics(others=...)``)."""
    return {metric.name: metric.export() for metric in registry.metrics()}
