"""The checkout itself: what a merge can leave behind that no other test reads (scripts, docs)."""

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONFLICT_MARKER = re.compile(rb"^(<{7} |={7}$|>{7} )", re.MULTILINE)
NOT_OURS = {".git", ".venv", "build", "dist", ".pytest_cache", ".ruff_cache", ".hypothesis", "__pycache__"}


def checked_in_files() -> list[Path]:
    """The tracked files; the whole tree but tools' folders where the checkout has no git metadata."""
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True)
    if listed.returncode == 0 and listed.stdout:
        return [ROOT / name for name in listed.stdout.decode().split("\0") if name]
    return [path for path in ROOT.rglob("*") if not NOT_OURS & set(path.relative_to(ROOT).parts)
            and not any(part.endswith(".egg-info") for part in path.parts)]


def test_no_merge_conflict_markers_in_tracked_files():
    marked = [path for path in checked_in_files() if path.is_file() and not path.name.endswith(".tar.gz")
              and CONFLICT_MARKER.search(path.read_bytes())]
    assert marked == []
