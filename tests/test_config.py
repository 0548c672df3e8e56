"""Tests for pillarbox.config: defaults, lookup order, every refusal as one line naming file and key."""

from __future__ import annotations

import contextlib
import dataclasses
import ipaddress
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pillarbox import config as config_module
from pillarbox import paths
from pillarbox.config import (
    Config,
    Endpoint,
    LimitsConfig,
    ListenConfig,
    load_config,
    parse_hostname,
    parse_size,
)
from pillarbox.errors import ConfigError

MiB = 1024 * 1024


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run every test from an empty directory with no PILLARBOX_CONFIG, whatever the real machine has; the
    default places (``paths``) are those of a non-root user whose XDG folders are under tmp_path/home."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PILLARBOX_CONFIG", raising=False)
    monkeypatch.setattr(paths, "_is_root", lambda: False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "home" / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "home" / "data"))


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def refusal(tmp_path: Path, text: str) -> str:
    """Load a file holding ``text`` and return the ConfigError message, checking it is one line."""
    path = write(tmp_path / "pillarbox.toml", text)
    with pytest.raises(ConfigError) as info:
        load_config(path, environ={})
    message = str(info.value)
    assert "\n" not in message and "\r" not in message
    assert message.startswith(f"{path}: ")
    return message


# --------------------------------------------------------------------------------------------------
# Defaults and lookup order.


def test_defaults_without_any_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(config_module.socket, "getfqdn", lambda: "Mail.Example.COM")
    config = load_config(environ={})
    assert config.source is None
    assert config.hostname == "mail.example.com"
    assert config.data_dir == tmp_path / "home" / "data" / "pillarbox"
    assert config.listen.smtp == (Endpoint("0.0.0.0", 25),)
    assert config.listen.submission == (Endpoint("0.0.0.0", 587),)
    assert config.listen.submissions == (Endpoint("0.0.0.0", 465),)
    assert config.listen.imap == (Endpoint("0.0.0.0", 143),)
    assert config.listen.imaps == (Endpoint("0.0.0.0", 993),)
    assert config.listen.pop3 == (Endpoint("0.0.0.0", 110),)
    assert config.listen.pop3s == (Endpoint("0.0.0.0", 995),)
    assert config.listen.http == (Endpoint("127.0.0.1", 8080),)
    assert config.tls.cert is None and config.tls.key is None
    assert config.dns.nameservers == () and config.dns.timeout == 5.0
    assert config.log.level == "info" and config.log.format == "kv"


@pytest.mark.parametrize(("cpus", "processes"), [(1, 1), (2, 2), (64, 8)])
def test_by_default_one_server_process_per_cpu_up_to_eight(monkeypatch: pytest.MonkeyPatch, cpus: int,
                                                          processes: int) -> None:
    """One process delivered 0.95x the peer on two CPUs where two processes did 1.7x: the default is
    fast, and memory stays bounded on a big machine (about 55 MB a process)."""
    from pillarbox.workers import worker_count

    monkeypatch.setattr("os.sched_getaffinity", lambda pid: set(range(cpus)))
    config = load_config(environ={})
    assert config.workers == 0 and config.store.flag_flush_delay == 1.0
    assert worker_count(config) == processes
    assert worker_count(dataclasses.replace(config, workers=12)) == 12  # a number given is taken as is


def test_default_limits() -> None:
    limits = load_config(environ={}).limits
    assert limits == LimitsConfig()
    assert limits.max_message_size == 50 * MiB == limits.imap_max_literal
    assert limits.max_recipients == 100
    assert (limits.max_line_length, limits.max_command_errors) == (4096, 10)
    assert (limits.smtp_timeout, limits.imap_timeout, limits.pop3_timeout) == (300, 1800, 600)
    assert limits.auth_failures_per_ip == 10
    assert (limits.smtp_connections, limits.smtp_connections_per_ip) == (500, 50)  # Postfix: 50 per client
    assert (limits.imap_connections, limits.imap_connections_per_ip, limits.imap_connections_per_user_ip) == (
        2000, 20, 10)  # Dovecot: 10 per user and address
    assert (limits.http_connections, limits.reserved_for_users) == (100, 10)
    assert (limits.imap_login_timeout, limits.transfer_timeout, limits.min_transfer_rate) == (60, 300, 1024)
    assert (limits.send_timeout, limits.buffer_memory) == (300, 256 * MiB)
    assert (limits.max_header_size, limits.max_header_lines) == (256 * 1024, 5000)


def test_old_connection_keys_set_every_listener_not_given(tmp_path: Path) -> None:
    path = write(tmp_path / "p.toml", "[limits]\nmax_connections = 40\nmax_connections_per_ip = 4\n"
                                      "imap_connections = 900\n")
    limits = load_config(path).limits
    assert (limits.smtp_connections, limits.submission_connections, limits.pop3_connections) == (40, 40, 40)
    assert limits.imap_connections == 900 and limits.http_connections == 100
    assert (limits.smtp_connections_per_ip, limits.imap_connections_per_ip, limits.pop3_connections_per_ip) == (4, 4, 4)


@pytest.mark.parametrize("fqdn", ["", "bad_name.local", "-x", "127.0.0.1"])
def test_unusable_fqdn_falls_back_to_localhost(monkeypatch: pytest.MonkeyPatch, fqdn: str) -> None:
    monkeypatch.setattr(config_module.socket, "getfqdn", lambda: fqdn)
    assert load_config(environ={}).hostname == "localhost"


def test_pillarbox_toml_in_cwd_is_not_read(tmp_path: Path) -> None:
    # where a command runs must not change which store it opens
    write(tmp_path / "pillarbox.toml", 'hostname = "mx.example.org"\n')
    config = load_config()
    assert config.source is None and config.hostname != "mx.example.org"


def test_the_default_file_is_in_the_xdg_config_folder(tmp_path: Path) -> None:
    default = tmp_path / "home" / "config" / "pillarbox" / "pillarbox.toml"
    default.parent.mkdir(parents=True)
    write(default, 'hostname = "mx.example.org"\n')
    config = load_config()
    assert (config.hostname, config.source) == ("mx.example.org", default)


def test_root_defaults_are_the_system_places() -> None:
    assert paths.default_config_path({}, root=True) == Path("/etc/pillarbox/pillarbox.toml")
    assert paths.default_data_dir({}, root=True) == Path("/var/lib/pillarbox")


def test_xdg_defaults_fall_back_to_home_and_ignore_relative_values() -> None:
    environ = {"HOME": "/home/ann", "XDG_DATA_HOME": "relative/data"}
    assert paths.default_data_dir(environ, root=False) == Path("/home/ann/.local/share/pillarbox")
    assert paths.default_config_path(environ, root=False) == Path("/home/ann/.config/pillarbox/pillarbox.toml")


def test_env_var_wins_over_default_file(tmp_path: Path) -> None:
    default = tmp_path / "home" / "config" / "pillarbox" / "pillarbox.toml"
    default.parent.mkdir(parents=True)
    write(default, 'hostname = "cwd.example"\n')
    other = write(tmp_path / "other.toml", 'hostname = "env.example"\n')
    assert load_config(environ={"PILLARBOX_CONFIG": str(other)}).hostname == "env.example"


def test_env_var_read_from_os_environ(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    other = write(tmp_path / "other.toml", 'hostname = "env.example"\n')
    monkeypatch.setenv("PILLARBOX_CONFIG", str(other))
    assert load_config().hostname == "env.example"


def test_explicit_path_wins_over_env(tmp_path: Path) -> None:
    env = write(tmp_path / "env.toml", 'hostname = "env.example"\n')
    explicit = write(tmp_path / "explicit.toml", 'hostname = "explicit.example"\n')
    config = load_config(str(explicit), environ={"PILLARBOX_CONFIG": str(env)})
    assert config.hostname == "explicit.example"
    assert config.source == explicit


@pytest.mark.parametrize("how", ["argument", "env"])
def test_named_file_that_does_not_exist(tmp_path: Path, how: str) -> None:
    missing = tmp_path / "nope.toml"
    with pytest.raises(ConfigError) as info:
        if how == "argument":
            load_config(missing, environ={})
        else:
            load_config(environ={"PILLARBOX_CONFIG": str(missing)})
    assert str(info.value) == f"{missing}: no such file"


def test_empty_file_gives_defaults(tmp_path: Path) -> None:
    config = load_config(write(tmp_path / "empty.toml", ""), environ={})
    assert config.listen == ListenConfig()
    assert config.source == tmp_path / "empty.toml"


def test_config_is_frozen() -> None:
    config = Config()
    with pytest.raises(AttributeError):
        config.hostname = "x"  # type: ignore[misc]


# --------------------------------------------------------------------------------------------------
# Values.


def test_full_file(tmp_path: Path) -> None:
    (tmp_path / "certs").mkdir()
    write(tmp_path / "certs" / "cert.pem", "x")
    write(tmp_path / "certs" / "key.pem", "x")
    path = write(tmp_path / "pillarbox.toml", """
hostname = "mail.example.net."
data_dir = "data"

[listen]
smtp = ["0.0.0.0:25", "[::]:25"]
imaps = "[2001:DB8::0001]:993"
http = ["localhost:8080"]

[tls]
cert = "certs/cert.pem"
key = "certs/key.pem"

[dns]
nameservers = ["9.9.9.9", "[2620:fe::fe]:5353", "::1"]
timeout = 2

[limits]
max_message_size = "10M"
max_recipients = 5
smtp_timeout = 60

[log]
level = "DEBUG"
format = "json"
""")
    config = load_config(path, environ={})
    assert config.hostname == "mail.example.net"
    assert config.data_dir == tmp_path / "data"
    assert config.listen.smtp == (Endpoint("0.0.0.0", 25), Endpoint("::", 25))
    assert config.listen.imaps == (Endpoint("2001:db8::1", 993),)
    assert config.listen.http == (Endpoint("localhost", 8080),)
    assert config.listen.imap == () and config.listen.pop3 == () and config.listen.submission == ()
    assert config.tls.cert == tmp_path / "certs" / "cert.pem"
    assert config.tls.key == tmp_path / "certs" / "key.pem"
    assert config.dns.nameservers == (Endpoint("9.9.9.9", 53), Endpoint("2620:fe::fe", 5353),
                                      Endpoint("::1", 53))
    assert config.dns.timeout == 2.0 and isinstance(config.dns.timeout, float)
    assert config.limits.max_message_size == 10 * MiB
    assert config.limits.imap_max_literal == 10 * MiB  # follows max_message_size unless set
    assert config.limits.max_recipients == 5 and config.limits.smtp_timeout == 60
    assert config.limits.smtp_connections == 500
    assert (config.log.level, config.log.format) == ("debug", "json")


def test_relative_paths_resolve_against_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    etc = tmp_path / "etc"
    etc.mkdir()
    write(etc / "c.pem", "x")
    write(etc / "k.pem", "x")
    path = write(etc / "pillarbox.toml", 'data_dir = "../var/mail"\n[tls]\ncert = "c.pem"\nkey = "k.pem"\n')
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    config = load_config("../etc/pillarbox.toml", environ={})
    assert config.data_dir == tmp_path / "var" / "mail"
    assert config.tls.cert == etc / "c.pem"
    assert config.source == path
    # The built-in default never depends on the current directory, even when a file is used.
    assert load_config(write(elsewhere / "x.toml", ""), environ={}).data_dir == paths.default_data_dir()


def test_absolute_data_dir_is_kept(tmp_path: Path) -> None:
    path = write(tmp_path / "pillarbox.toml", f'data_dir = "{tmp_path / "abs"}"\n')
    assert load_config(path, environ={}).data_dir == tmp_path / "abs"


def test_empty_listen_table_starts_nothing(tmp_path: Path) -> None:
    config = load_config(write(tmp_path / "pillarbox.toml", "[listen]\n"), environ={})
    assert config.listen.endpoints() == {}


def test_imap_max_literal_can_be_set_apart(tmp_path: Path) -> None:
    path = write(tmp_path / "p.toml", '[limits]\nmax_message_size = "10M"\nimap_max_literal = 1048576\n')
    limits = load_config(path, environ={}).limits
    assert (limits.max_message_size, limits.imap_max_literal) == (10 * MiB, MiB)


def test_auth_defaults_and_a_cache_turned_off(tmp_path: Path) -> None:
    auth = Config().auth
    assert (auth.argon2_memory, auth.argon2_time_cost, auth.argon2_parallelism) == (19 * MiB, 2, 1)
    assert (auth.scram_iterations, auth.cache_ttl, auth.cache_size) == (600_000, 900, 10_000)
    assert (auth.failure_window, auth.account_failures, auth.trusted_network_days) == (900, 10, 30)
    path = write(tmp_path / "p.toml", '[auth]\ncache_ttl = 0\nfailure_delay = 0\nargon2_memory = "64M"\n')
    loaded = load_config(path, environ={}).auth
    assert (loaded.cache_ttl, loaded.failure_delay, loaded.argon2_memory) == (0, 0.0, 64 * MiB)


def test_header_limits(tmp_path: Path) -> None:
    path = write(tmp_path / "p.toml", '[limits]\nmax_header_size = "64K"\nmax_header_lines = 1000\n')
    limits = load_config(path, environ={}).limits
    assert (limits.max_header_size, limits.max_header_lines) == (64 * 1024, 1000)


def test_port_zero_is_allowed_for_tests(tmp_path: Path) -> None:
    path = write(tmp_path / "p.toml", '[listen]\nsmtp = "127.0.0.1:0"\nimap = "127.0.0.1:0"\n')
    assert load_config(path, environ={}).listen.imap == (Endpoint("127.0.0.1", 0),)


# --------------------------------------------------------------------------------------------------
# Refusals: one line, naming the file and the key.


@pytest.mark.parametrize(("text", "expected"), [
    ('[limits]\nmax_recipients = "x"', 'limits.max_recipients: expected a positive integer, got "x"'),
    ("[limits]\nmax_recipients = -1", "limits.max_recipients: expected a positive integer, got -1"),
    ("[limits]\nmax_connections = 0", "limits.max_connections: expected a positive integer, got 0"),
    ("[limits]\nreserved_for_users = 95", "limits.reserved_for_users: expected a percentage from 0 to 90, got 95"),
    ("[limits]\nbuffer_memory = \"1.5M\"",
     'limits.buffer_memory: expected a size such as "50M" or a number of bytes, got "1.5M"'),
    ("[limits]\nsmtp_timeout = 1.5", "limits.smtp_timeout: expected a positive integer, got 1.5"),
    ("[limits]\nmax_recipients = true", "limits.max_recipients: expected a positive integer, got true"),
    ("[limits]\nmax_line_length = 100", "limits.max_line_length: expected an integer of at least 512"),
    ('[limits]\nmax_message_size = "10Q"', "limits.max_message_size: expected a size"),
    ("[limits]\nmax_message_size = 0", "limits.max_message_size: expected a size above zero, got 0"),
    ('[limits]\nimap_max_literal = "-5M"', "limits.imap_max_literal: expected a size"),
    ("[limits]\nmax_header_size = 0", "limits.max_header_size: expected a size above zero, got 0"),
    ("[limits]\nmax_header_lines = 0", "limits.max_header_lines: expected a positive integer, got 0"),
    ("[dns]\ntimeout = -1", "dns.timeout: expected a positive number, got -1"),
    ('[dns]\ntimeout = "5"', 'dns.timeout: expected a positive number, got "5"'),
    ('[dns]\nnameservers = ["dns.google"]', 'dns.nameservers: expected an IP address with optional :port'),
    ('[dns]\nnameservers = "1.1.1.1:99999"', "dns.nameservers: expected an IP address"),
    ('[listen]\nsmtp = ["0.0.0.0:65536"]', "listen.smtp: expected an address"),
    ('[listen]\nsmtp = ["0.0.0.0"]', "listen.smtp: expected an address"),
    ('[listen]\nsmtp = ["::1:25"]', "needs brackets"),
    ('[listen]\nsmtp = ["[1.2.3.4]:25"]', "only an IPv6 address goes in brackets"),
    ('[listen]\nsmtp = ["bad_host:25"]', "listen.smtp: expected an address"),
    ('[listen]\nsmtp = ["0.0.0.0:+25"]', "listen.smtp: expected an address"),
    ("[listen]\nsmtp = [25]", "listen.smtp: expected an address"),
    ("[listen]\nsmtp = 25", "listen.smtp: expected an array of addresses, got 25"),
    ('[listen]\nsmtp = "[::]:25"\nimap = "[::]:25"', "listen.imap: [::]:25 is also used by listen.smtp"),
    ("listen = 5", "listen: expected a table, got 5"),
    ('[log]\nlevel = "verbose"',
     'log.level: expected one of "debug", "info", "warning", "error", got "verbose"'),
    ('[log]\nformat = "xml"', 'log.format: expected one of "kv", "json", got "xml"'),
    ('hostname = "not a host"', 'hostname: expected a host name such as mail.example.com, got "not a host"'),
    ('hostname = "a..b"', "hostname: expected a host name"),
    ('hostname = "10.0.0.1"', "hostname: expected a host name"),
    ("hostname = 5", "hostname: expected a host name, got 5"),
    ("data_dir = 5", "data_dir: expected a path, got 5"),
    ('data_dir = ""', 'data_dir: expected a path, got ""'),
    ('event_loop = "trio"', 'event_loop: expected one of "auto", "uvloop", "asyncio", got "trio"'),
    ("[auth]\nscram_iterations = 4095", "auth.scram_iterations: expected an integer of at least 4096, got 4095"),
    ('[auth]\nargon2_memory = "4K"', "auth.argon2_memory: expected at least 8K for 1 lane(s), got 4096"),
    ('[auth]\nargon2_memory = "16K"\nargon2_parallelism = 4', "auth.argon2_memory: expected at least 32K"),
    ("[auth]\nfailure_delay = -1", "auth.failure_delay: expected a number of at least 0, got -1"),
    ("[auth]\ncache_ttl = -5", "auth.cache_ttl: expected an integer of at least 0, got -5"),
    ('postmaster = "<b>x</b>@example.com"', "postmaster: expected a mail address"),
    ('[policy]\nreports_to = "dmarc@example.com"', "policy.reports_to: expected the part of an address before the @"),
    ('[policy]\nreports_to = "a b"', "policy.reports_to: expected the part of an address before the @"),
    ('[policy]\nreceived_report_max_size = 0', "policy.received_report_max_size: expected a size above zero"),
    ("[web]\ndns_status_ttl = 5", "web.dns_status_ttl: expected an integer of at least 60"),
])
def test_bad_values(tmp_path: Path, text: str, expected: str) -> None:
    assert expected in refusal(tmp_path, text)


def test_unknown_key_in_table(tmp_path: Path) -> None:
    message = refusal(tmp_path, '[listen]\nsmpt = ["0.0.0.0:25"]\n')
    assert message == f"{tmp_path / 'pillarbox.toml'}: unknown key listen.smpt (did you mean listen.smtp?)"


@pytest.mark.parametrize(("text", "key"), [
    ("[queue]\nretry = 5", "queue"),
    ("source = 'x'", "source"),  # Config.source is set by the loader, never by the file
    ("[limits.sub]\nx = 1", "limits.sub"),
    ('"weird\\nkey" = 1', '"weird\\nkey"'),
])
def test_unknown_keys_and_tables(tmp_path: Path, text: str, key: str) -> None:
    assert f"unknown key {key}" in refusal(tmp_path, text)


def test_tls_needs_both(tmp_path: Path) -> None:
    write(tmp_path / "c.pem", "x")
    assert "tls.key: missing; tls.cert and tls.key must be given together" in \
        refusal(tmp_path, '[tls]\ncert = "c.pem"\n')


def test_tls_file_must_exist(tmp_path: Path) -> None:
    message = refusal(tmp_path, '[tls]\ncert = "c.pem"\nkey = "k.pem"\n')
    assert f'tls.cert: no such file: "{tmp_path / "c.pem"}"' in message


def test_toml_syntax_error(tmp_path: Path) -> None:
    message = refusal(tmp_path, 'hostname = "unterminated\n')
    assert "TOML syntax error" in message and "line 1" in message


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "pillarbox.toml"
    path.write_bytes(b'hostname = "\xff"\n')
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_config(path, environ={})


def test_directory_instead_of_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path, environ={})


def test_long_value_is_shortened(tmp_path: Path) -> None:
    message = refusal(tmp_path, f'hostname = "{"x_" * 500}"\n')
    assert len(message) < 250 and message.endswith('..."')


# --------------------------------------------------------------------------------------------------
# Endpoint, hostname and size parsing.


@pytest.mark.parametrize(("text", "host", "port", "canonical"), [
    ("127.0.0.1:25", "127.0.0.1", 25, "127.0.0.1:25"),
    ("[::1]:143", "::1", 143, "[::1]:143"),
    ("0.0.0.0:25", "0.0.0.0", 25, "0.0.0.0:25"),
    ("[::]:993", "::", 993, "[::]:993"),
    ("[2001:DB8:0:0::1]:587", "2001:db8::1", 587, "[2001:db8::1]:587"),
    ("Mail.Example.com:25", "mail.example.com", 25, "mail.example.com:25"),
    (" 10.0.0.1:65535 ", "10.0.0.1", 65535, "10.0.0.1:65535"),
])
def test_endpoint_parse(text: str, host: str, port: int, canonical: str) -> None:
    endpoint = Endpoint.parse(text)
    assert (endpoint.host, endpoint.port) == (host, port)
    assert str(endpoint) == canonical


@pytest.mark.parametrize("text", ["", ":25", "1.2.3.4", "1.2.3.4:", "1.2.3.4:x", "[::1]", "[::1:25",
                                  "[::1]25", "::1:25", "1.2.3.4:-1", "1.2.3.4:70000", "a b:25", "[x]:25",
                                  "1.2.3.4:２５"])
def test_endpoint_parse_refuses(text: str) -> None:
    with pytest.raises(ValueError):
        Endpoint.parse(text)


def test_endpoint_default_port() -> None:
    assert Endpoint.parse("8.8.8.8", default_port=53) == Endpoint("8.8.8.8", 53)
    assert Endpoint.parse("::1", default_port=53) == Endpoint("::1", 53)
    assert Endpoint.parse("[::1]", default_port=53) == Endpoint("::1", 53)
    assert Endpoint.parse("[::1]:5353", default_port=53) == Endpoint("::1", 5353)


_label = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True)
_hostnames = st.lists(_label, min_size=1, max_size=4).map(".".join).filter(
    lambda name: not name.rsplit(".", 1)[-1].isdigit())
_hosts = st.one_of(
    st.ip_addresses(v=4).map(str),
    st.ip_addresses(v=6).map(str),
    _hostnames,
)


@given(host=_hosts, port=st.integers(min_value=0, max_value=65535))
def test_endpoint_round_trip(host: str, port: int) -> None:
    endpoint = Endpoint(host, port)
    assert Endpoint.parse(str(endpoint)) == endpoint
    assert str(Endpoint.parse(str(endpoint))) == str(endpoint)


@given(address=st.ip_addresses(v=6), port=st.integers(min_value=0, max_value=65535))
def test_ipv6_is_always_bracketed(address: ipaddress.IPv6Address, port: int) -> None:
    text = str(Endpoint.parse(f"[{address.exploded}]:{port}"))
    assert text == f"[{address}]:{port}"


def test_parse_hostname() -> None:
    assert parse_hostname("MX1.Example.ORG.") == "mx1.example.org"
    assert parse_hostname("localhost") == "localhost"
    assert parse_hostname("xn--bcher-kva.example") == "xn--bcher-kva.example"
    for bad in ["", ".", "a..b", "-a.b", "a-.b", "a_b.c", "bücher.example", "x" * 64 + ".com", "1.2.3.4"]:
        with pytest.raises(ValueError):
            parse_hostname(bad)


@pytest.mark.parametrize(("text", "size"), [
    ("100", 100), (100, 100), ("0", 0), ("512K", 512 * 1024), ("2M", 2 * MiB), ("10G", 10 * 1024 * MiB),
    ("1T", 1024**4), ("50m", 50 * MiB), ("50MB", 50 * MiB), ("50MiB", 50 * MiB), (" 7 k ", 7 * 1024),
    ("100B", 100),
])
def test_parse_size(text: str | int, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("junk", ["", "M", "1.5M", "-1", -1, "10Q", "1 2", "0x10", True, None, 1.0, "１０"])
def test_parse_size_refuses(junk: object) -> None:
    with pytest.raises(ValueError):
        parse_size(junk)  # type: ignore[arg-type]


_UNITS = [("", 1), ("K", 1024), ("M", MiB), ("G", 1024 * MiB), ("k", 1024), ("g", 1024 * MiB), ("MiB", MiB)]


@given(number=st.integers(min_value=0, max_value=10**12), unit=st.sampled_from(_UNITS))
def test_parse_size_property(number: int, unit: tuple[str, int]) -> None:
    suffix, factor = unit
    assert parse_size(f"{number}{suffix}") == number * factor
    assert parse_size(number) == number


@given(st.text(max_size=12))
def test_parse_size_only_raises_value_error(text: str) -> None:
    with contextlib.suppress(ValueError):
        assert parse_size(text) >= 0


def test_acme_keys_and_public_web_listeners(tmp_path: Path) -> None:
    path = write(tmp_path / "pillarbox.toml", '[listen]\nweb = ["0.0.0.0:80"]\nhttps = "0.0.0.0:443"\n'
                 '[acme]\ndirectory = "https://acme.example/dir"\nemail = "Ops@Example.COM"\n')
    config = load_config(path, environ={})
    assert (config.acme.directory, config.acme.email, config.acme.ca_file) == (
        "https://acme.example/dir", "ops@example.com", None)
    assert [str(e) for e in config.listen.web + config.listen.https] == ["0.0.0.0:80", "0.0.0.0:443"]
    assert load_config(environ={}).acme.directory == ""  # off by default
    assert load_config(environ={}).listen.web == ()


def test_acme_refusals(tmp_path: Path) -> None:
    assert "acme.directory: expected an https:// URL" in refusal(tmp_path, '[acme]\ndirectory = "http://x/dir"\n')
    message = refusal(tmp_path, '[acme]\ndirectory = "https://acme.example/dir"\n')
    assert "listen.https" in message and "listen.web" in message
    assert "acme.ca_file: no such file" in refusal(tmp_path, '[acme]\nca_file = "missing.pem"\n')
