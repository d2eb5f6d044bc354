"""The local stack patches moto's private names (calsync_dev.local: speedups, atomic, faults),
written against one moto version: it refuses to start on any other, saying which it expected
and which it found, instead of failing later in some patched corner."""

from __future__ import annotations

import re
import tomllib
from importlib.metadata import version

import pytest

from calsync_dev.local.config import LocalConfig
from calsync_dev.local.stack import LocalStack, run
from calsync_dev.local.versions import MOTO_VERSION, WrongMotoVersion, check_moto_version
from calsync_dev.template import ROOT


@pytest.mark.parametrize("found", ["5.2.4", "5.2.6", "5.3.0", "5.1.0", "6.0.0"])
def test_another_moto_version_is_refused_naming_both_versions(found: str) -> None:
    # Given a moto other than the one the patches were written against
    # When the local stack checks it, Then it refuses with both versions and what to do
    with pytest.raises(WrongMotoVersion) as refused:
        check_moto_version(found)
    message = str(refused.value)
    assert f"moto {MOTO_VERSION}" in message
    assert f"found moto {found}" in message
    assert "make venv" in message


def test_the_expected_version_and_the_installed_one_pass() -> None:
    check_moto_version(MOTO_VERSION)
    check_moto_version()  # what this venv has: requirements/dev.txt pins it
    assert version("moto") == MOTO_VERSION


def test_the_project_pins_exactly_the_version_the_local_stack_expects() -> None:
    # Given pyproject.toml and the hash-pinned requirements made from it
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    dev = project["project"]["optional-dependencies"]["dev"]
    # Then moto is pinned to exactly that version, in both
    assert [d for d in dev if d.startswith("moto")] == [f"moto[server]=={MOTO_VERSION}"]
    pinned = re.findall(r"^moto==(\S+) \\", (ROOT / "requirements" / "dev.txt").read_text(), re.MULTILINE)
    assert pinned == [MOTO_VERSION]


def test_the_stack_refuses_before_it_starts_anything(capsys: pytest.CaptureFixture[str]) -> None:
    # Given another moto (injected), When the local stack starts, Then it refuses at once: no
    # port probed, no emulator started (this test may open no socket)
    stack = LocalStack(LocalConfig(), moto_version="5.3.0")
    with pytest.raises(WrongMotoVersion, match=r"moto 5\.2\.5.*found moto 5\.3\.0"):
        stack.start()
    # And `calsync local` (make run) prints the reason and exits 2, without a traceback
    assert run(LocalConfig(), moto_version="5.3.0") == 2
    err = capsys.readouterr().err
    assert err.startswith("calsync local: ")
    assert "found moto 5.3.0" in err
    assert "Traceback" not in err
