"""Reading an uploaded artifact safely: bounded size, gzip with a decompression limit,
text decoded whatever the bytes."""

from __future__ import annotations

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


def decode_text(data: bytes) -> str:
    """UTF-8 (with a BOM or not), invalid sequences replaced, line endings normalised."""
    text = data.decode("utf-8-sig", errors="replace")
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text


def looks_binary(data: bytes) -> bool:
    window = data[:8192]
    return b"\x00" in window or (
        bool(window) and sum(b < 9 or 13 < b < 32 for b in window) > len(window) // 10
    )
