"""Debian's mbsync (isync) as a real IMAP client: one account, every folder both ways, into a Maildir."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from tests.smtp.conftest import PASSWORD


def run_mbsync(port: int, certificate: Path, home: Path, user: str, auth_mechs: str = "*",
               network_log: bool = False) -> subprocess.CompletedProcess[str]:
    """One ``mbsync -a`` over STARTTLS to 127.0.0.1:``port`` (``localhost``), its state under ``home``;
    ``network_log``: the IMAP conversation on stdout (``-Dn``)."""
    binary = shutil.which("mbsync")
    assert binary, "mbsync is installed by scripts/test.sh (Debian package isync)"
    local = home / "Mail"
    local.mkdir(exist_ok=True)
    config = home / ".mbsyncrc"
    config.write_text(
        f"IMAPAccount pb\nHost localhost\nPort {port}\nUser {user}\nPass \"{PASSWORD}\"\n"
        f"SSLType STARTTLS\nCertificateFile {certificate}\nAuthMechs {auth_mechs}\n\n"
        "IMAPStore pb-remote\nAccount pb\n\n"
        f"MaildirStore pb-local\nPath {local}/\nInbox {local}/INBOX\nSubFolders Verbatim\n\n"
        "Channel pb\nFar :pb-remote:\nNear :pb-local:\nPatterns *\nCreate Both\nExpunge Both\nSyncState *\n"
    )
    return subprocess.run([binary, *(["-Dn"] if network_log else []), "-c", str(config), "-a"],
                          capture_output=True, text=True, timeout=120, env={"HOME": str(home), "PATH": "/usr/bin:/bin"})
