"""The AWS emulator: moto in server mode, in a process of its own."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import urllib.request


def start_emulator(host: str, port: int, *, timeout: float = 60) -> subprocess.Popen[bytes]:
    """moto in server mode, in a process of its own (its own GIL, so it keeps up under
    load); in its own session so Ctrl-C reaches only us, and we stop it after saving.
    It runs behind ``calsync_dev.local.faults`` (faults are off until a developer arms one)."""
    emulator = subprocess.Popen(
        [sys.executable, "-m", "calsync_dev.local.faults", "-H", host, "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        preexec_fn=_die_with_parent,
    )
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"http://{host}:{port}/moto-api/", timeout=2):
                return emulator
        except OSError:
            if emulator.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the AWS emulator (moto server) did not start") from None
            time.sleep(0.1)


def stop_emulator(emulator: subprocess.Popen[bytes]) -> None:
    emulator.terminate()
    try:
        emulator.wait(10)
    except subprocess.TimeoutExpired:
        emulator.kill()


def _die_with_parent() -> None:
    """Linux: the emulator gets SIGTERM if the stack's process dies without cleaning up."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
