"""Progress of the long-running commands: a bar or live counts on stderr, never in pipes."""

from __future__ import annotations

import io

import pytest

from calsync_dev.cli.progress import Progress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_known_total_shows_a_bar_with_counts_on_a_terminal() -> None:
    # Given a terminal on stderr
    out = Terminal()
    # When three of five items are done
    progress = Progress(5, "sending", stream=out)
    progress.advance(3)
    progress.close()
    # Then the bar shows the label and the counts
    assert "sending" in out.getvalue()
    assert "3/5" in out.getvalue()


def test_an_unknown_total_shows_live_counts_and_notes() -> None:
    out = Terminal()
    progress = Progress(None, "backfill", stream=out)
    progress.advance(7)
    progress.note(events=2)
    progress.close()
    assert "backfill" in out.getvalue()
    assert "7" in out.getvalue()
    assert "events=2" in out.getvalue()


@pytest.mark.parametrize("quiet", [False, True])
def test_nothing_is_written_when_stderr_is_not_a_terminal_or_quiet_is_asked(quiet: bool) -> None:
    # Given a pipe (quiet=False) or a terminal with --quiet
    out = Terminal() if quiet else io.StringIO()
    progress = Progress(5, "sending", stream=out, quiet=quiet)
    progress.advance(5)
    progress.close()
    assert out.getvalue() == ""
