"""Regenerate the images of the visual_evidence corpus with the standard library only.

The classifier only looks at the first bytes of an upload, but the corpus should still hold
files that real decoders open: each writer below emits a complete, valid file (PNG with
zlib, baseline JPEG with DC-only blocks, GIF with fixed-width LZW, lossless WebP with
two-symbol prefix codes, 24-bit BMP) of a small synthetic "screenshot". Run it from the
repository root: `.venv/bin/python tests/data/classification/make_images.py`.
"""

from __future__ import annotations

import math
import struct
import zlib
from collections.abc import Callable
from pathlib import Path

OUT = Path(__file__).resolve().parent / "visual_evidence"
Rgb = tuple[int, int, int]
Painter = Callable[[int, int], Rgb]

WHITE: Rgb = (255, 255, 255)
GRID: Rgb = (225, 228, 232)
BLUE: Rgb = (38, 110, 220)
RED: Rgb = (214, 48, 49)
DARK: Rgb = (24, 26, 31)
TEXT: Rgb = (200, 205, 210)


def latency_chart(width: int, height: int) -> Painter:
    """A Grafana-like panel: grid, and a latency line with a spike in the middle."""

    def value(x: int) -> float:
        spike = 0.55 if 0.45 * width < x < 0.62 * width else 0.0
        return 0.25 + 0.05 * math.sin(x / 7) + spike

    def paint(x: int, y: int) -> Rgb:
        line_y = height - 10 - int(value(x) * (height - 20))
        if abs(y - line_y) <= 1:
            return RED if value(x) > 0.5 else BLUE
        if x % 40 == 0 or y % 30 == 0:
            return GRID
        return WHITE

    return paint


def error_dialog(width: int, height: int) -> Painter:
    """A modal dialog: red title bar, grey body, a darker button."""

    def paint(x: int, y: int) -> Rgb:
        if y < height // 5:
            return RED
        if height - 30 < y < height - 10 and width - 80 < x < width - 12:
            return (90, 90, 96)
        if 20 < x < width - 20 and y % 14 in (0, 1, 2) and y < height - 40:
            return (120, 120, 126)
        return (240, 240, 242)

    return paint


def terminal(width: int, height: int) -> Painter:
    """A dark terminal with light "text" runs of varying length on each row."""

    def paint(x: int, y: int) -> Rgb:
        row, offset = divmod(y, 12)
        run = 40 + (row * 37) % (width - 60)
        if 3 <= offset <= 8 and 6 <= x < run and (x // 7) % 5 != 4:
            return RED if row % 9 == 4 else TEXT
        return DARK

    return paint


def heatmap(width: int, height: int) -> Painter:
    """A latency heatmap: colour per 8x8 cell, hot band in the middle columns."""

    def paint(x: int, y: int) -> Rgb:
        cx, cy = x // 8, y // 8
        heat = max(0.0, 1.0 - abs(cx - width / 16) / 6) * (1 - cy / (height / 8))
        heat = min(1.0, heat + ((cx * 7 + cy * 3) % 5) / 20)
        return (int(30 + 220 * heat), int(60 + 120 * (1 - heat)), int(160 * (1 - heat)))

    return paint


def render(painter: Painter, width: int, height: int) -> list[list[Rgb]]:
    return [[painter(x, y) for x in range(width)] for y in range(height)]


# -- PNG ---------------------------------------------------------------------------------


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))


def png(pixels: list[list[Rgb]], alpha: bool = False) -> bytes:
    height, width = len(pixels), len(pixels[0])
    raw = bytearray()
    for row in pixels:
        raw.append(0)  # filter: none
        for r, g, b in row:
            raw += bytes((r, g, b, 255) if alpha else (r, g, b))
    header = struct.pack(">IIBBBBB", width, height, 8, 6 if alpha else 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"tEXt", b"Software\x00FaultMaven test corpus")
        + _png_chunk(b"IDAT", zlib.compress(bytes(raw), 9))
        + _png_chunk(b"IEND", b"")
    )


# -- baseline JPEG, every 8x8 block flat so that only DC coefficients are coded ------------

_DC_LUMA = ([0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0], list(range(12)))
_DC_CHROMA = ([0, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0], list(range(12)))
# Only the end-of-block symbol (0x00) is ever used; a one-symbol AC table is legal.
_AC_EOB_ONLY = ([1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], [0x00])


def _huffman_codes(counts: list[int], symbols: list[int]) -> dict[int, tuple[int, int]]:
    codes: dict[int, tuple[int, int]] = {}
    code, k = 0, 0
    for length, count in enumerate(counts, start=1):
        for _ in range(count):
            codes[symbols[k]] = (code, length)
            code += 1
            k += 1
        code <<= 1
    return codes


class _BitWriter:
    def __init__(self) -> None:
        self.out = bytearray()
        self.acc = 0
        self.n = 0

    def write(self, value: int, length: int) -> None:
        for i in range(length - 1, -1, -1):
            self.acc = (self.acc << 1) | ((value >> i) & 1)
            self.n += 1
            if self.n == 8:
                self.out.append(self.acc)
                if self.acc == 0xFF:
                    self.out.append(0)  # byte stuffing
                self.acc, self.n = 0, 0

    def flush(self) -> bytes:
        while self.n:
            self.write(1, 1)
        return bytes(self.out)


def jpeg(pixels: list[list[Rgb]]) -> bytes:
    height, width = len(pixels), len(pixels[0])
    assert width % 8 == 0 and height % 8 == 0
    tables = [
        (_huffman_codes(*_DC_LUMA), _huffman_codes(*_AC_EOB_ONLY)),
        (_huffman_codes(*_DC_CHROMA), _huffman_codes(*_AC_EOB_ONLY)),
        (_huffman_codes(*_DC_CHROMA), _huffman_codes(*_AC_EOB_ONLY)),
    ]
    bits = _BitWriter()
    previous = [0, 0, 0]
    for by in range(0, height, 8):
        for bx in range(0, width, 8):
            r, g, b = pixels[by + 4][bx + 4]
            ycc = (
                0.299 * r + 0.587 * g + 0.114 * b,
                128 - 0.168736 * r - 0.331264 * g + 0.5 * b,
                128 + 0.5 * r - 0.418688 * g - 0.081312 * b,
            )
            for c, level in enumerate(ycc):
                dc = round(8 * (level - 128))  # DCT of a flat block, quantiser 1
                diff, previous[c] = dc - previous[c], dc
                size = abs(diff).bit_length()
                code, length = tables[c][0][size]
                bits.write(code, length)
                if size:
                    bits.write(diff if diff > 0 else diff + (1 << size) - 1, size)
                code, length = tables[c][1][0x00]
                bits.write(code, length)
    scan = bits.flush()

    def segment(marker: int, body: bytes) -> bytes:
        return struct.pack(">BBH", 0xFF, marker, len(body) + 2) + body

    def dht(cls_id: int, table: tuple[list[int], list[int]]) -> bytes:
        return bytes([cls_id]) + bytes(table[0]) + bytes(table[1])

    return (
        b"\xff\xd8"
        + segment(0xE0, b"JFIF\x00\x01\x01\x00\x00\x48\x00\x48\x00\x00")
        + segment(0xDB, b"\x00" + b"\x01" * 64)
        + segment(
            0xC0,
            struct.pack(">BHHB", 8, height, width, 3) + b"\x01\x11\x00\x02\x11\x00\x03\x11\x00",
        )
        + segment(
            0xC4,
            dht(0x00, _DC_LUMA)
            + dht(0x01, _DC_CHROMA)
            + dht(0x10, _AC_EOB_ONLY)
            + dht(0x11, _AC_EOB_ONLY),
        )
        + segment(0xDA, b"\x03\x01\x00\x02\x11\x03\x11\x00\x3f\x00")
        + scan
        + b"\xff\xd9"
    )


# -- GIF: palette image, LZW with a clear code before the table would widen ----------------


def gif(frames: list[list[list[Rgb]]], delay_cs: int = 50) -> bytes:
    height, width = len(frames[0]), len(frames[0][0])
    palette: list[Rgb] = []
    for frame in frames:
        for row in frame:
            for colour in row:
                if colour not in palette:
                    palette.append(colour)
    assert len(palette) <= 256
    palette += [(0, 0, 0)] * (256 - len(palette))
    out = bytearray(b"GIF89a" + struct.pack("<HHBBB", width, height, 0xF7, 0, 0))
    out += b"".join(bytes(c) for c in palette)
    if len(frames) > 1:
        out += b"\x21\xff\x0bNETSCAPE2.0\x03\x01\x00\x00\x00"
    for frame in frames:
        out += b"\x21\xf9\x04\x04" + struct.pack("<H", delay_cs) + b"\x00\x00"
        out += b"\x2c" + struct.pack("<HHHHB", 0, 0, width, height, 0)
        indices = [palette.index(c) for row in frame for c in row]
        out += b"\x08" + _gif_sub_blocks(_lzw_fixed_width(indices))
    return bytes(out + b"\x3b")


def _lzw_fixed_width(indices: list[int]) -> bytes:
    """Every code is 9 bits: a clear code every 254 literals keeps the table from growing."""
    clear, end = 256, 257
    acc, n, out = 0, 0, bytearray()

    def emit(code: int) -> None:
        nonlocal acc, n
        acc |= code << n
        n += 9
        while n >= 8:
            out.append(acc & 0xFF)
            acc >>= 8
            n -= 8

    for i, index in enumerate(indices):
        if i % 254 == 0:
            emit(clear)
        emit(index)
    emit(end)
    if n:
        out.append(acc & 0xFF)
    return bytes(out)


def _gif_sub_blocks(data: bytes) -> bytes:
    blocks = b"".join(
        bytes([len(data[i : i + 255])]) + data[i : i + 255] for i in range(0, len(data), 255)
    )
    return blocks + b"\x00"


# -- lossless WebP (VP8L): two colours, each channel a two-symbol "simple" prefix code ------


class _LsbBits:
    def __init__(self) -> None:
        self.value = 0
        self.n = 0

    def write(self, value: int, length: int) -> None:
        self.value |= value << self.n
        self.n += length

    def to_bytes(self) -> bytes:
        return self.value.to_bytes((self.n + 7) // 8, "little")


def webp_two_colour(pixels: list[list[Rgb]]) -> bytes:
    height, width = len(pixels), len(pixels[0])
    colours = sorted({c for row in pixels for c in row})
    assert len(colours) == 2, "this writer only handles two-colour images"
    bits = _LsbBits()
    bits.write(0x2F, 8)
    bits.write(width - 1, 14)
    bits.write(height - 1, 14)
    bits.write(0, 1)  # alpha unused
    bits.write(0, 3)  # version
    bits.write(0, 1)  # no transform
    bits.write(0, 1)  # no colour cache
    bits.write(0, 1)  # no meta prefix codes
    channels = [(1, "g"), (0, "r"), (2, "b")]
    symbols = {name: sorted({c[i] for c in colours}) for i, name in channels}
    for _, name in channels:
        _simple_code(bits, symbols[name])
    _simple_code(bits, [255])  # alpha
    _simple_code(bits, [0])  # distance, never used
    for row in pixels:
        for colour in row:
            for i, name in channels:
                if len(symbols[name]) == 2:
                    bits.write(symbols[name].index(colour[i]), 1)
    payload = bits.to_bytes()
    if len(payload) % 2:
        payload += b"\x00"
    chunk = b"VP8L" + struct.pack("<I", len(payload)) + payload
    return b"RIFF" + struct.pack("<I", 4 + len(chunk)) + b"WEBP" + chunk


def _simple_code(bits: _LsbBits, symbols: list[int]) -> None:
    bits.write(1, 1)  # simple code
    bits.write(len(symbols) - 1, 1)
    bits.write(1, 1)  # first symbol uses 8 bits
    for symbol in symbols:
        bits.write(symbol, 8)


# -- BMP -----------------------------------------------------------------------------------


def bmp(pixels: list[list[Rgb]]) -> bytes:
    height, width = len(pixels), len(pixels[0])
    stride = (width * 3 + 3) & ~3
    rows = bytearray()
    for row in reversed(pixels):
        line = b"".join(bytes((b, g, r)) for r, g, b in row)
        rows += line + b"\x00" * (stride - len(line))
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 24, 0, len(rows), 2835, 2835, 0, 0)
    header = struct.pack("<2sIHHI", b"BM", 14 + len(info) + len(rows), 0, 0, 14 + len(info))
    return header + info + bytes(rows)


def main() -> None:
    OUT.mkdir(exist_ok=True)
    chart = render(latency_chart(320, 180), 320, 180)
    small_chart = render(latency_chart(160, 90), 160, 90)
    two_colour = [[WHITE if c in (WHITE, GRID) else BLUE for c in row] for row in small_chart]
    files = {
        "grafana-latency-panel.png": png(chart),
        "error-dialog.png": png(render(error_dialog(240, 120), 240, 120), alpha=True),
        "screenshot": png(render(terminal(300, 160), 300, 160)),
        "Screenshot 2026-11-22 at 10.12.44.png": png(render(heatmap(200, 96), 200, 96)),
        "latency-heatmap.jpg": jpeg(render(heatmap(128, 64), 128, 64)),
        "rack-temperature.jpeg": jpeg(render(latency_chart(160, 96), 160, 96)),
        "cpu-spike.gif": gif([small_chart]),
        "pod-restarts-animated.gif": gif(
            [render(error_dialog(120, 64), 120, 64), render(terminal(120, 64), 120, 64)]
        ),
        "dashboard-panel.webp": webp_two_colour(two_colour),
        "topology.bmp": bmp(render(heatmap(96, 48), 96, 48)),
        # A PNG saved under a .jpg name, as renamed downloads often are: content must win.
        "grafana-render.jpg": png(render(error_dialog(160, 80), 160, 80)),
    }
    for name, data in files.items():
        (OUT / name).write_bytes(data)
        print(f"{name:42} {len(data):6d} bytes")


if __name__ == "__main__":
    main()
