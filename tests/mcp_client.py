"""``calsync mcp`` as an assistant's MCP client runs it: spawned over stdio with ``env``, driven
with the MCP SDK's own client session."""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
from mcp import ClientSession, StdioServerParameters, stdio_client

ROOT = Path(__file__).resolve().parents[1]


def run_mcp(env: dict[str, str], work: Callable[[ClientSession], Awaitable[Any]], options: tuple[str, ...] = ()) -> Any:
    """Start ``calsync mcp <options>`` with ``env`` and run ``work`` with an initialised session to it."""
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "calsync_dev.cli", "mcp", *options], env=env, cwd=ROOT
    )

    async def main() -> Any:
        with anyio.fail_after(60):
            async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
                await session.initialize()
                return await work(session)

    return anyio.run(main)
