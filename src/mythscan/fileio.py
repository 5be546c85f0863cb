"""Atomic file writes (a temporary file beside the target, fsync, then rename) and lock files."""

from __future__ import annotations

import os
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable


def _mode_for(path: Path) -> int:
    """The existing file's permissions, or what a plain open() would give under the umask."""
    try:
        return path.stat().st_mode & 0o7777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, _mode_for(path))  # mkstemp creates 0600; give the file its usual permissions
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_text(path: str | Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


@contextmanager
def file_lock(path: str | Path, *, timeout: float, busy: Callable[[], Exception]):
    """Hold an exclusive fcntl lock on PATH (created if needed, removed on release).

    Waits up to ``timeout`` seconds (0: not at all), then raises ``busy()``. The lock dies with its
    process, so a killed holder never blocks anyone; the file is removed while still locked, and a
    waiter that then gets the lock on the removed file tries again on the new one. No lock where
    fcntl is missing (not POSIX)."""
    try:
        import fcntl
    except ImportError:
        yield
        return
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + timeout
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise busy() from None
                    time.sleep(0.05)
            try:
                st = os.stat(path)
                current = (st.st_dev, st.st_ino) == (os.fstat(fd).st_dev, os.fstat(fd).st_ino)
            except FileNotFoundError:
                current = False
        except BaseException:
            os.close(fd)
            raise
        if current:
            break
        os.close(fd)
    try:
        yield
    finally:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        os.close(fd)


def lock_timeout(default: float = 120.0) -> float:
    """Seconds to wait for a lock: MYTHSCAN_LOCK_TIMEOUT, else ``default``."""
    try:
        return max(0.0, float(os.environ.get("MYTHSCAN_LOCK_TIMEOUT", default)))
    except ValueError:
        return default
