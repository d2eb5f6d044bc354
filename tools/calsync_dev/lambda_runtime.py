"""Load a function's handler the way Lambda does: its CodeUri on the path, its environment."""

from __future__ import annotations

import dataclasses
import importlib.util
import os
import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from types import ModuleType
from typing import Any

from calsync_dev.provision import FunctionSpec


@dataclass
class LambdaContext:
    function_name: str
    memory_limit_in_mb: int = 512
    timeout_seconds: int = 10
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = "local"
    log_stream_name: str = "local"
    function_version: str = "$LATEST"

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:us-east-1:123456789012:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return self.timeout_seconds * 1000


def load_handler(spec: FunctionSpec, *, apply_environment: bool = True) -> Any:
    """Import ``app.lambda_handler`` from the function's folder as a module of its own."""
    if apply_environment:
        os.environ.update(spec.environment)
    module_name, _, attribute = spec.handler.rpartition(".")
    path = spec.code_uri / f"{module_name.replace('.', '/')}.py"
    unique = f"calsync_fn_{spec.logical_id}"
    module_spec = importlib.util.spec_from_file_location(unique, path)
    assert module_spec is not None
    assert module_spec.loader is not None
    module: ModuleType = importlib.util.module_from_spec(module_spec)
    sys.modules[unique] = module
    module_spec.loader.exec_module(module)
    return getattr(module, attribute)


def set_clock(handler: Any, now: datetime | Callable[[], datetime]) -> None:
    """Run a loaded handler on a clock of the caller's: its module's cached ``services()`` (the
    composition root's) hand out the same services with their ``clock`` replaced. For data
    whose times are fixed (``events/``'s samples): ``now`` a moment, or a callable."""
    module = sys.modules[handler.__module__]
    clock = now if callable(now) else (lambda: now)
    built = module.services

    @cache
    def services() -> Any:
        return dataclasses.replace(built(), clock=clock)

    module.services = services  # type: ignore[attr-defined]
