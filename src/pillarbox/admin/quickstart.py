"""``pillarbox quickstart ADDRESS``: from nothing to a working mail domain, in one command.

It writes a commented configuration (every service on its standard port, the public web ports for ACME
and MTA-STS, certificates from Let's Encrypt), creates the data_dir and the store, the domain with its
DKIM keys, and the user ADDRESS as an admin with a generated password printed once; then it prints the
DNS records to publish and what to do next. With ``--systemd`` it also writes a unit file
(``admin/systemd.py``) and, as root, creates the dedicated user the unit runs as and gives it the
data_dir.

Idempotent: run again, it keeps what exists (the file, the domain, the user and its password) and
prints the records again; files are rewritten only with ``--force``.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import os
import pwd
import secrets
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

from pillarbox.address import normalize_address, split_address
from pillarbox.admin import ops_directory as ops
from pillarbox.admin.common import EX_OK, CommandFailed
from pillarbox.admin.ops_outbound import domain_records
from pillarbox.admin.systemd import DEFAULT_UNIT, SERVICE_USER, unit_text
from pillarbox.config import LETS_ENCRYPT, Config, load_config, parse_hostname
from pillarbox.paths import default_config_path, default_data_dir
from pillarbox.store.sqlite.store import SQLiteStore

PORTS = (("smtp", 25), ("submission", 587), ("submissions", 465), ("imap", 143), ("imaps", 993),
         ("pop3", 110), ("pop3s", 995), ("web", 80), ("https", 443))


def config_text(address: str, hostname: str, data_dir: Path, acme_directory: str) -> str:
    listen = "\n".join(f'{name} = ["0.0.0.0:{port}"]' for name, port in PORTS)
    return f"""\
# Pillarbox configuration, written by `pillarbox quickstart {address}` on {datetime.date.today()}.
# Every key, its meaning and its default: docs/config.md. After a change: systemctl restart pillarbox.

# The name this server uses in SMTP and in its certificate; its A/AAAA records must point here.
hostname = "{hostname}"
# Mail, keys and certificates (back it up with: pillarbox backup DIR).
data_dir = "{data_dir}"
# Who reads postmaster@ and abuse@ of domains added later.
postmaster = "{address}"

# Every service on its standard port, on all IPv4 addresses (add "[::]:PORT" entries for IPv6).
# web (80) and https (443) answer ACME challenges and serve the MTA-STS policy; they never show metrics.
[listen]
{listen}
# health and Prometheus metrics, for this machine only
http = ["127.0.0.1:8080"]

# Certificates from Let's Encrypt, renewed on their own; until the first one, a self-signed certificate.
[acme]
directory = "{acme_directory}"
email = "{address}"
"""


async def _populate(config: Config, address: str) -> tuple[str | None, list[str]]:
    """Store, domain, DKIM keys and the admin user (the CLI's and the API's own operations); the new
    password (None when the user existed) and the DNS records to publish."""
    domain = split_address(address)[1]
    store = SQLiteStore.open(config.data_dir)
    try:
        if not await store.has_domain(domain):
            await ops.create_domain(store, domain)
        password = None
        if await store.get_account(address) is None:
            password = _new_password(config.accounts.password_min_length)
            await ops.create_user(store, address, password, config.accounts.password_min_length, admin=True)
        else:
            await ops.set_user_admin(store, address, True)
        records = await domain_records(store, config, domain)
        return password, records["records"]
    finally:
        await store.close()


def _new_password(min_length: int) -> str:
    return secrets.token_urlsafe(max(18, min_length))  # 144 bits and more; URL-safe: easy to type in a client


def _write(path: Path, text: str, force: bool, mode: int) -> bool:
    """Write ``text`` unless the file exists (and ``force`` is off); True when written."""
    if path.exists() and not force:
        return False
    if not path.parent.exists():
        path.parent.mkdir(parents=True)
        path.parent.chmod(0o755)  # /etc/pillarbox: the service user must reach the file in it
    tmp = path.with_name(f".{path.name}.new")
    tmp.write_text(text)
    tmp.chmod(mode)
    os.replace(tmp, path)
    return True


def quickstart(args: argparse.Namespace) -> int:
    address = normalize_address(args.address)
    domain = split_address(address)[1]
    hostname = _hostname(args.hostname or f"mail.{domain}")
    config_path = Path(args.config or default_config_path()).absolute()
    data_dir = Path(args.data_dir or default_data_dir()).absolute()
    wrote = _write(config_path, config_text(address, hostname, data_dir, args.acme_directory), args.force, 0o640)
    print(f"{'wrote' if wrote else 'kept the existing'} configuration {config_path}"
          + ("" if wrote else " (--force rewrites it)"))
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    config = replace(load_config(config_path), data_dir=data_dir)  # a kept file may name another data_dir
    password, records = asyncio.run(_populate(config, address))
    print(f"data_dir {data_dir}: domain {domain}, admin user {address}")
    if password is not None:
        print(f"\n  password for {address}: {password}\n  (shown once: note it now; change it with"
              f" pillarbox user passwd {address})\n")
    else:
        print(f"{address} existed already: its password is unchanged")
    if args.systemd is not None:
        _systemd(Path(args.systemd), config_path, data_dir, args)
    _print_records(records, hostname, domain)
    _print_next_steps(config_path, address, hostname, domain, args.systemd is not None)
    return EX_OK


def _hostname(text: str) -> str:
    try:
        return parse_hostname(text)
    except ValueError as exc:
        raise CommandFailed(f"--hostname: {exc}") from None


def _systemd(unit: Path, config_path: Path, data_dir: Path, args: argparse.Namespace) -> None:
    wrote = _write(unit, unit_text(config_path, data_dir, args.service_user), args.force, 0o644)
    print(f"{'wrote' if wrote else 'kept the existing'} systemd unit {unit}" + ("" if wrote else " (--force)"))
    if os.geteuid() != 0:
        print(f"not root: create the user {args.service_user} and give it {data_dir} yourself")
        return
    _ensure_user(args.service_user, data_dir)
    user = pwd.getpwnam(args.service_user)
    for folder, _dirs, files in os.walk(data_dir):
        for path in (folder, *(os.path.join(folder, name) for name in files)):
            os.chown(path, user.pw_uid, user.pw_gid)
    os.chown(config_path, 0, user.pw_gid)  # 0640: the service reads it, only root writes it


def _ensure_user(name: str, data_dir: Path) -> None:
    try:
        pwd.getpwnam(name)
        return
    except KeyError:
        pass
    useradd = shutil.which("useradd") or "/usr/sbin/useradd"
    done = subprocess.run([useradd, "--system", "--user-group", "--home-dir", str(data_dir), "--no-create-home",
                           "--shell", "/usr/sbin/nologin", name], capture_output=True, text=True)
    if done.returncode != 0:
        raise CommandFailed(f"cannot create the user {name}: {done.stderr.strip() or done.returncode}")
    print(f"created the system user {name}")


def _print_records(records: list[str], hostname: str, domain: str) -> None:
    print(f"\nPublish these DNS records for {domain} (zone-file lines):\n")
    print(f"{hostname}. 3600 IN A <this server's IPv4 address>")
    print(f"{hostname}. 3600 IN AAAA <this server's IPv6 address, if it has one>")
    for line in records:
        print(line)
    print(f"; and ask your hosting provider for the reverse DNS (PTR) of those addresses: {hostname}.")


def _print_next_steps(config_path: Path, address: str, hostname: str, domain: str, systemd: bool) -> None:
    start = ("systemctl daemon-reload && systemctl enable --now pillarbox" if systemd
             else f"pillarbox --config {config_path} serve")
    print(f"""
Next steps:
  1. publish the records above, then check them: pillarbox --config {config_path} check {domain}
  2. start the server: {start}
     (it fetches certificates for {hostname}, mta-sts.{domain} and autoconfig.{domain} from Let's Encrypt
      once the names resolve here; until then it serves a self-signed certificate: pillarbox acme status)
  3. in your mail client: {address}, the password above, server {hostname}
     (IMAP 993 with TLS, SMTP submission 465 with TLS)
  4. the admin and account pages: https://{hostname}/ (log in as {address})""")


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("quickstart", help="set up a mail domain: config, store, user, DNS records")
    parser.add_argument("address", metavar="ADDRESS", help="your address: the first user, an admin")
    parser.add_argument("--hostname", help="this server's host name (default: mail.DOMAIN)")
    parser.add_argument("--data-dir", metavar="DIR", help=f"where mail is kept (default: {default_data_dir()})")
    parser.add_argument("--systemd", nargs="?", const=str(DEFAULT_UNIT), metavar="PATH",
                        help=f"also write a systemd unit (default path: {DEFAULT_UNIT})")
    parser.add_argument("--service-user", default=SERVICE_USER, help="the user the unit runs as (default: pillarbox)")
    parser.add_argument("--acme-directory", default=LETS_ENCRYPT, metavar="URL",
                        help="the ACME CA (default: Let's Encrypt; its staging directory for trials)")
    parser.add_argument("--force", action="store_true", help="rewrite the configuration and unit if they exist")
    parser.set_defaults(func=quickstart, before_config=True)
