"""Files that several processes may create at once (the development secrets and signing
keys in the data directory, written by whichever worker starts first)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def create_once(path: Path, data: bytes) -> bool:
    """Create `path` (mode 0600) holding `data`, unless it exists; False if it did.

    The data is written and synced into a temporary file of the same directory first, then
    linked to `path`, which fails if `path` exists: a reader never sees the file empty or
    half-written, and of processes racing to create it exactly one wins."""
    fd, temporary = tempfile.mkstemp(prefix=".new-", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(temporary, path)
        except FileExistsError:
            return False
        return True
    finally:
        os.unlink(temporary)
