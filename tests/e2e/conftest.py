"""The local stack as a user runs it: `calsync local` in a subprocess, on free ports."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest

from calsync_dev.cli.target import Target, local_target


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class RunningStack:
    api_port: int
    emulator_port: int
    calendly_port: int
    state_file: Path
    process: subprocess.Popen[str] | None = None
    lines: list[str] = field(default_factory=list)
    extra_env: dict[str, str] = field(default_factory=dict)  # e.g. CALSYNC_LOCAL_SIGNING_KEY

    @property
    def env(self) -> dict[str, str]:
        return {
            "CALSYNC_API_PORT": str(self.api_port),
            "CALSYNC_EMULATOR_PORT": str(self.emulator_port),
            "CALSYNC_CALENDLY_PORT": str(self.calendly_port),
            "CALSYNC_LOCAL_STATE": str(self.state_file),
        }

    @property
    def webhook_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}/webhooks/calendly/local"

    def start(self, timeout: float = 120) -> RunningStack:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CALSYNC_"))}
        env.update(self.env)
        env.update(self.extra_env)
        self.lines = []
        self.process = subprocess.Popen(
            [sys.executable, "-m", "calsync_dev.cli", "local"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        ready = threading.Event()

        def read(stream: Any) -> None:
            for line in stream:
                self.lines.append(line.rstrip())
                if "calsync local is ready" in line:
                    ready.set()

        threading.Thread(target=read, args=(self.process.stdout,), daemon=True).start()
        deadline = time.monotonic() + timeout
        while not ready.wait(0.2):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.kill()
                raise RuntimeError("local stack did not start:\n" + "\n".join(self.lines[-40:]))
        return self

    def stop(self, timeout: float = 90) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGINT)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    def target(self, monkeypatch: pytest.MonkeyPatch) -> Target:
        for name, value in self.env.items():
            monkeypatch.setenv(name, value)
        return local_target()

    def client(self, service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=f"http://127.0.0.1:{self.emulator_port}",
            region_name="us-east-1",
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )


def new_stack(tmp: Path) -> RunningStack:
    return RunningStack(free_port(), free_port(), free_port(), tmp / "local-state.json")


@pytest.fixture(scope="module")
def local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    stack = new_stack(tmp_path_factory.mktemp("stack")).start()
    yield stack
    try:
        stack.stop()
    finally:
        stack.kill()


@pytest.fixture
def target(local_stack: RunningStack, monkeypatch: pytest.MonkeyPatch) -> Target:
    return local_stack.target(monkeypatch)


def wait_for(condition: Any, *, timeout: float = 60, every: float = 0.3, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(every)
