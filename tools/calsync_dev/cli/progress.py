"""Progress for the commands that run more than a few seconds (tqdm, on stderr).

A bar when the total is known (``calsync load``, ``replay``, ``dlq redrive``), live counts when
it is not (``calsync reconcile`` pages through Calendly). Silent when stderr is not a terminal
(pipes, CI logs) or with ``--quiet``; the command's final summary line is printed either way.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from typing import IO, Any

from tqdm import tqdm


def add_quiet_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress bar (only the final summary)")


class Progress:
    """A progress bar (or live counts for ``total=None``) on stderr, off unless it is a terminal."""

    def __init__(
        self,
        total: int | None,
        label: str,
        *,
        enabled: bool | None = None,
        quiet: bool = False,
        stream: IO[str] | None = None,
    ) -> None:
        out = stream if stream is not None else sys.stderr
        self.enabled = (out.isatty() and not quiet) if enabled is None else enabled
        self.label = label
        self._bar: Any = tqdm(
            total=total,
            desc=label,
            file=out,
            disable=not self.enabled,
            unit=" items",
            dynamic_ncols=shutil.get_terminal_size((0, 0)).columns > 0,  # 0 columns (some ptys): tqdm's default width
            mininterval=0.2,
        )

    @property
    def total(self) -> int | None:
        total: int | None = self._bar.total
        return total

    @total.setter
    def total(self, value: int | None) -> None:
        self._bar.total = value
        self._bar.refresh()

    @property
    def done(self) -> int:
        done: int = self._bar.n
        return done

    def advance(self, n: int = 1) -> None:
        self._bar.update(n)
        if self._bar.total is not None and self._bar.n >= self._bar.total:
            self.close()

    def set_done(self, n: int) -> None:
        """For progress read from elsewhere (a queue draining): the count so far."""
        self._bar.update(n - self._bar.n)

    def note(self, **counts: object) -> None:
        """Live figures beside the bar (``events=12 skipped=1``)."""
        self._bar.set_postfix_str(" ".join(f"{k}={v}" for k, v in counts.items()), refresh=True)

    def close(self) -> None:
        self._bar.close()


def progress_for(args: argparse.Namespace, total: int | None, label: str) -> Progress:
    return Progress(total, label, quiet=bool(getattr(args, "quiet", False)))
