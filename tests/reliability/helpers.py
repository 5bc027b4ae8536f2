"""What the reliability tests compare: a listing that proves a directory was not touched, and du."""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path


def listing(top: Path) -> dict[str, tuple]:
    """Every path under ``top`` (``top`` included, links not followed) with its type, size,
    modification time (ns), inode and, for files, the sha256 of its content."""
    out: dict[str, tuple] = {}
    for dirpath, dirnames, filenames in os.walk(top):
        for p in [dirpath] + [os.path.join(dirpath, n) for n in dirnames + filenames]:
            st = os.lstat(p)
            if os.path.islink(p):
                out[p] = ("link", os.readlink(p), st.st_mtime_ns)
            elif os.path.isdir(p):
                out[p] = ("dir", st.st_mtime_ns, st.st_ino)
            else:
                with open(p, "rb") as fh:
                    digest = hashlib.sha256(fh.read()).hexdigest()
                out[p] = ("file", st.st_size, st.st_mtime_ns, st.st_ino, digest)
    return out


def du(root: Path) -> int:
    """``du -sB1 root``: disk bytes, each inode once, links not followed."""
    return int(subprocess.run(["du", "-sB1", str(root)], capture_output=True, text=True, check=True).stdout.split()[0])
