"""Reading an uploaded artifact safely: bounded size, gzip with a decompression limit,
text decoded whatever the bytes."""

from __future__ import annotations

import codecs
import zlib

from faultmaven.preprocessing.errors import InvalidArtifactError

GZIP_MAGIC = b"\x1f\x8b"
MAX_DECOMPRESSED_BYTES = 25 * 1024 * 1024
_CHUNK = 256 * 1024


def is_gzip(data: bytes) -> bool:
    return data[:2] == GZIP_MAGIC


def gunzip(data: bytes, *, limit: int = MAX_DECOMPRESSED_BYTES) -> bytes:
    """Decompress every member (`cat a.gz b.gz` and bgzip files have several), refusing
    more than `limit` bytes of output (a gzip bomb) and truncated or corrupt streams, with
    a reason a user can act on."""
    out = bytearray()
    remaining = data
    while remaining:
        decompressor = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        fed = 0
        try:
            view = memoryview(remaining)
            for start in range(0, len(remaining), _CHUNK):
                fed = start + _CHUNK
                out += decompressor.decompress(view[start : start + _CHUNK], limit + 1 - len(out))
                if len(out) > limit or decompressor.unconsumed_tail:
                    raise InvalidArtifactError(
                        f"The gzip file expands beyond {limit // (1024 * 1024)} MiB; "
                        "upload the part that matters"
                    )
                if decompressor.eof:
                    break
            out += decompressor.flush()
        except zlib.error:
            raise InvalidArtifactError("The gzip file is corrupt") from None
        if not decompressor.eof:
            raise InvalidArtifactError("The gzip file is truncated")
        remaining = decompressor.unused_data + remaining[fed:]
        if remaining and not is_gzip(remaining):
            if remaining.strip(b"\0"):
                raise InvalidArtifactError("The gzip file has trailing data that is not gzip")
            break  # zero padding after the last member, as some tools write
    return bytes(out)


def head_sample(data: bytes, size: int) -> bytes:
    """The first `size` bytes of the content, decompressing only what that needs."""
    if not is_gzip(data):
        return data[:size]
    decompressor = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        return decompressor.decompress(data[: max(size, 64 * 1024)], size)
    except zlib.error:
        return data[:size]


# Byte-order marks, longest first: the UTF-32 LE mark begins with the UTF-16 LE one.
_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
SNIFF_BYTES = 8192
# Control bytes that text does not contain (tab, line feed, form feed, carriage return and
# ESC, which starts the colour codes of terminal logs, are text).
_CONTROL_BYTES = bytes(b for b in range(32) if b not in (9, 10, 12, 13, 27))
_MAX_CONTROL_SHARE = 0.02
_MAX_REPLACEMENT_SHARE = 0.02
# A NUL-padded layout, read as the share of NULs at each position modulo the unit width.
_WIDE_SHARE = 0.9


def sniff_encoding(data: bytes) -> str | None:
    """The encoding to read `data` with, or None when it is binary.

    The one text/binary rule of preprocessing: the classifier reads its sample with it and
    the pipeline reads the whole artifact with it, so a file classified as text is analysed
    as text. Decided from the first SNIFF_BYTES:

    * a byte-order mark names the encoding (UTF-8, UTF-16 or UTF-32, either byte order);
    * without one, NUL bytes are either the padding of UTF-16/UTF-32 text holding mostly
      ASCII (a NUL at the same position of nearly every 2- or 4-byte unit) or binary;
    * more than 2% control bytes is binary;
    * text that is not valid UTF-8 is read as Latin-1 rather than rejected, since old logs
      often are. Every byte decodes in Latin-1, so nothing is lost.
    """
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return encoding
    head = data[:SNIFF_BYTES]
    if b"\x00" in head:
        return _wide_encoding(head)
    controls = len(head) - len(head.translate(None, _CONTROL_BYTES))
    if controls > _MAX_CONTROL_SHARE * len(head):
        return None
    # A multi-byte character cut by the end of the window is not a sign of Latin-1.
    sample = head.decode("utf-8", errors="replace")
    if len(head) == SNIFF_BYTES:
        sample = sample[:-4]
    if sample.count("\ufffd") > _MAX_REPLACEMENT_SHARE * max(len(sample), 1):
        return "latin-1"
    return "utf-8"


def _wide_encoding(head: bytes) -> str | None:
    """UTF-32 or UTF-16 (LE or BE) without a BOM, told apart by where the NULs are."""
    for width, encodings in ((4, ("utf-32-le", "utf-32-be")), (2, ("utf-16-le", "utf-16-be"))):
        units = len(head) // width
        if units < 4:
            continue
        body = head[: units * width]
        # Little endian: ASCII characters put their NULs after the first byte of a unit.
        little = all(body[k::width].count(0) > _WIDE_SHARE * units for k in range(1, width))
        big = all(body[k::width].count(0) > _WIDE_SHARE * units for k in range(width - 1))
        if little and body[0::width].count(0) < units:
            return encodings[0]
        if big and body[width - 1 :: width].count(0) < units:
            return encodings[1]
    return None


def decode_text(data: bytes, encoding: str | None = None) -> str:
    """`data` read as text: in `encoding` (sniff_encoding's choice when not given; binary
    content is read as UTF-8 too, for callers that want its printable parts), without the
    BOM, invalid sequences replaced, line endings normalised."""
    encoding = encoding or sniff_encoding(data) or "utf-8"
    for bom, bom_encoding in _BOMS:
        if bom_encoding == encoding and data.startswith(bom):
            data = data[len(bom) :]
            break
    text = data.decode(encoding, errors="replace")
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text


def looks_binary(data: bytes) -> bool:
    """Binary by the one rule (see sniff_encoding)."""
    return sniff_encoding(data) is None
