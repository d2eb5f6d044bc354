"""`calsync --help`: the command list reads as written (one command a line), not run together."""

from __future__ import annotations

import pytest

from calsync_dev import cli


def test_help_prints_the_command_list_one_command_a_line(capsys: pytest.CaptureFixture[str]) -> None:
    # When a person asks for help
    with pytest.raises(SystemExit) as exited:
        cli.main(["--help"])
    assert exited.value.code == 0
    lines = capsys.readouterr().out.splitlines()
    # Then each command of the module's list is on a line of its own, as written there
    listed = [line for line in (cli.__doc__ or "").splitlines() if line.startswith("    calsync ")]
    assert len(listed) > 5
    for line in listed:
        assert line in lines
    # And the paragraph after it is kept apart from the list
    assert any(line.startswith("Against the local stack by default") for line in lines)
