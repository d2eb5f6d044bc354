"""A real browser for the tests: Debian's headless Chromium (``apt-get install chromium``;
.ci/run installs it), and a small PNG reader for its screenshots (no imaging library needed)."""

from __future__ import annotations

import shutil
import struct
import subprocess
import zlib
from pathlib import Path

NAMES = ("chromium", "chromium-browser", "google-chrome")
WINDOW = "--window-size=1000,700"


def chromium() -> str | None:
    """The browser's path, or ``None`` when none is installed."""
    return next((found for name in NAMES if (found := shutil.which(name))), None)


def _run(browser: str, *args: str, timeout: float = 90) -> subprocess.CompletedProcess[bytes]:
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", WINDOW]
    return subprocess.run([browser, *flags, *args], capture_output=True, timeout=timeout, check=True)


def dump_dom(browser: str, page: Path) -> str:
    """The DOM as the browser built it from ``page`` (parsed, CSP applied)."""
    return _run(browser, "--dump-dom", page.as_uri()).stdout.decode()


def screenshot(browser: str, page: Path, out: Path) -> Path:
    _run(browser, f"--screenshot={out}", page.as_uri())
    return out


class Png:
    """An 8-bit, non-interlaced RGB(A) PNG (what Chromium writes), decoded: ``pixel(x, y)`` is RGB."""

    def __init__(self, path: Path) -> None:
        data = path.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
        offset, idat, header = 8, b"", b""
        while offset < len(data):
            (length,) = struct.unpack(">I", data[offset : offset + 4])
            kind, body = data[offset + 4 : offset + 8], data[offset + 8 : offset + 8 + length]
            offset += 12 + length
            if kind == b"IHDR":
                header = body
            elif kind == b"IDAT":
                idat += body
        self.width, self.height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", header)
        assert depth == 8, "an 8-bit PNG"
        assert interlace == 0, "a non-interlaced PNG"
        assert colour in (2, 6), "an RGB(A) PNG"
        self.bpp = 4 if colour == 6 else 3
        self.rows = _unfilter(zlib.decompress(idat), self.width * self.bpp, self.height, self.bpp)

    def pixel(self, x: int, y: int) -> tuple[int, int, int]:
        at = x * self.bpp
        r, g, b = self.rows[y][at : at + 3]
        return r, g, b

    def colours(self) -> set[tuple[int, int, int]]:
        return {self.pixel(x, y) for y in range(0, self.height, 4) for x in range(0, self.width, 4)}


def _unfilter(raw: bytes, stride: int, height: int, bpp: int) -> list[bytes]:
    rows: list[bytes] = []
    previous = bytes(stride)
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        if kind == 2:
            line = bytearray((a + b) & 0xFF for a, b in zip(line, previous, strict=True))
        elif kind:
            for i in range(stride):
                left = line[i - bpp] if i >= bpp else 0
                up, corner = previous[i], (previous[i - bpp] if i >= bpp else 0)
                if kind == 1:
                    line[i] = (line[i] + left) & 0xFF
                elif kind == 3:
                    line[i] = (line[i] + (left + up) // 2) & 0xFF
                else:
                    p = left + up - corner
                    pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                    line[i] = (line[i] + (left if pa <= pb and pa <= pc else up if pb <= pc else corner)) & 0xFF
        rows.append(bytes(line))
        previous = rows[-1]
    return rows
