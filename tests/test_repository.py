"""The checkout itself: what a merge can leave behind that no other test reads (scripts, docs)."""

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONFLICT_MARKER = re.compile(rb"^(<{7} |={7}$|>{7} )", re.MULTILINE)


def test_no_merge_conflict_markers_in_tracked_files():
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    marked = [name for name in tracked.decode().split("\0") if name and not name.endswith(".tar.gz")
              and (ROOT / name).is_file() and CONFLICT_MARKER.search((ROOT / name).read_bytes())]
    assert marked == []
