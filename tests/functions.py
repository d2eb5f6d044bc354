"""A function's handler module (``functions/<name>/app.py``) loaded afresh for a unit test, under
a module name of the test's own (so two test files never share a loaded module)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

FUNCTIONS = Path(__file__).resolve().parents[1] / "functions"


def load_app(function: str, module_name: str) -> ModuleType:
    """``functions/<function>/app.py`` executed as a new module named ``module_name``."""
    spec = importlib.util.spec_from_file_location(module_name, FUNCTIONS / function / "app.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
