"""Where the local stack listens and what it is called: ports, stage, credentials."""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from calsync_dev.events import DEFAULT_LOCAL_KEY
from calsync_dev.template import ROOT

STAGE = "local"
LOCAL_CONNECTION = "local"
REGION = "us-east-1"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local", "AWS_DEFAULT_REGION": REGION}
# The template's ConnectReturnOrigins locally: an app on this machine's usual development ports
# may be a return_to (docs/connect.md); CALSYNC_CONNECT_RETURN_ORIGINS replaces the list.
CONNECT_RETURN_ORIGINS = ",".join(
    f"http://{host}:{port}" for host in ("localhost", "127.0.0.1") for port in (5173, 8000, 8080)
)


def state_file(environ: Mapping[str, str] = os.environ) -> Path | None:
    """Where the local stack saves its state (``CALSYNC_LOCAL_STATE``; empty: nowhere)."""
    state = environ.get("CALSYNC_LOCAL_STATE", str(ROOT / ".calsync" / "local-state.json"))
    return Path(state) if state else None


class PortInUse(Exception):
    pass


@dataclass(frozen=True)
class LocalConfig:
    host: str = "127.0.0.1"
    emulator_port: int = 5000
    api_port: int = 3000
    calendly_port: int = 3001
    signing_key: str = DEFAULT_LOCAL_KEY
    state_file: Path | None = ROOT / ".calsync" / "local-state.json"
    receiver_instances: int = 2
    # SQS batches of one queue run at once while it has a backlog (Lambda starts with five), and
    # instances a function may scale out to (started when needed, as Lambda's cold starts)
    batches_per_queue: int = 3
    fanout_concurrency: str | None = None  # FanOutMaximumConcurrency (None: the template's default)
    connect_return_origins: str = CONNECT_RETURN_ORIGINS
    # The local lake's buffer (as Firehose's): a Parquet file per date once this many records
    # are held or the first has waited this long, and at stop
    lake_flush_records: int = 1000
    lake_flush_seconds: float = 5.0

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> LocalConfig:
        return cls(
            host=environ.get("CALSYNC_HOST", "127.0.0.1"),
            emulator_port=int(environ.get("CALSYNC_EMULATOR_PORT", "5000")),
            api_port=int(environ.get("CALSYNC_API_PORT", "3000")),
            calendly_port=int(environ.get("CALSYNC_CALENDLY_PORT", "3001")),
            signing_key=environ.get("CALSYNC_LOCAL_SIGNING_KEY", DEFAULT_LOCAL_KEY),
            state_file=state_file(environ),
            batches_per_queue=max(1, int(environ.get("CALSYNC_LOCAL_BATCHES_PER_QUEUE", "3"))),
            fanout_concurrency=environ.get("CALSYNC_LOCAL_FANOUT_CONCURRENCY") or None,
            connect_return_origins=environ.get("CALSYNC_CONNECT_RETURN_ORIGINS", CONNECT_RETURN_ORIGINS),
            lake_flush_records=max(1, int(environ.get("CALSYNC_LOCAL_LAKE_FLUSH_RECORDS", "1000"))),
            lake_flush_seconds=max(0.0, float(environ.get("CALSYNC_LOCAL_LAKE_FLUSH_SECONDS", "5"))),
        )

    @property
    def parameters(self) -> dict[str, str]:
        """The template parameters the local stack is provisioned with."""
        fanout = {"FanOutMaximumConcurrency": self.fanout_concurrency} if self.fanout_concurrency else {}
        return {"Stage": STAGE, "ConnectReturnOrigins": self.connect_return_origins, **fanout}

    @property
    def state_dir(self) -> Path:
        """The folder of the saved state (``.calsync``), where the local stack's outputs go too."""
        return self.state_file.parent if self.state_file is not None else ROOT / ".calsync"

    @property
    def events_file(self) -> Path:
        """Where the local stack appends every lifecycle event (beside the saved state)."""
        return self.state_dir / "events.jsonl"

    @property
    def lake_dir(self) -> Path:
        """The local analytics lake (``dt=YYYY-MM-DD/*.parquet``, beside the saved state)."""
        return self.state_dir / "lake"

    @property
    def endpoint_url(self) -> str:
        return f"http://{self.host}:{self.emulator_port}"

    @property
    def api_url(self) -> str:
        return f"http://{self.host}:{self.api_port}"

    @property
    def calendly_url(self) -> str:
        return f"http://{self.host}:{self.calendly_port}"

    def check_ports_free(self) -> None:
        check_port_free(self.host, self.emulator_port, "AWS emulator", "CALSYNC_EMULATOR_PORT")
        check_port_free(self.host, self.api_port, "API", "CALSYNC_API_PORT")
        check_port_free(self.host, self.calendly_port, "fake Calendly", "CALSYNC_CALENDLY_PORT")


def check_port_free(host: str, port: int, what: str, variable: str) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the servers do: TIME_WAIT is fine
        try:
            probe.bind((host, port))
        except OSError:
            raise PortInUse(
                f"port {port} ({what}) is already in use: stop what holds it, or set {variable} to another port"
            ) from None
