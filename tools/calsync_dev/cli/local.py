"""``calsync local``: run the whole stack on this machine (= ``make run``)."""

from __future__ import annotations

import argparse

from calsync_dev.cli.target import Commands


def register(commands: Commands) -> None:
    commands.add_parser("local", help="run calsync on this machine (AWS emulator, API, processors)").set_defaults(
        func=_local
    )


def _local(args: argparse.Namespace) -> int:
    from calsync_dev.local.stack import run

    return run()
