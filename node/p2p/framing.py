"""Length-prefixed framing with a size cap, checked before any allocation.

A frame on the wire is a 4-byte big-endian length ``n`` followed by ``n``
bytes of body.  :class:`FrameDecoder` buffers the bytes it is given and
yields whole bodies.  The length prefix is checked against the cap the
moment its four bytes are in: a peer that announces an oversize frame is
refused before a single byte of that body is buffered, so announcing 4 GiB
costs the peer four bytes and us nothing.

The decoder never raises on peer input: it returns :class:`FrameTooLarge`
and stops; the caller turns that into a protocol error.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

__all__ = ["LENGTH_PREFIX_SIZE", "FrameDecoder", "FrameTooLarge", "frame"]

LENGTH_PREFIX_SIZE = 4
_LEN = struct.Struct(">I")


@dataclass(frozen=True, slots=True)
class FrameTooLarge:
    """The next frame announced ``length`` bytes, over the cap ``limit``."""

    length: int
    limit: int


def frame(body: bytes) -> bytes:
    """Prefix ``body`` with its length."""
    if len(body) > 0xFFFFFFFF:
        raise ValueError("frame body longer than a 32-bit length prefix allows")
    return _LEN.pack(len(body)) + body


class FrameDecoder:
    """Bytes in, whole frame bodies out.

    ``max_body`` may be changed between calls (the secure channel allows
    small frames during the handshake and large ones after it).
    """

    def __init__(self, max_body: int):
        self.max_body = max_body
        self._buf = bytearray()
        self._failed: FrameTooLarge | None = None

    @property
    def buffered(self) -> int:
        """Bytes held that do not yet form a whole frame."""
        return len(self._buf)

    def feed(self, data: bytes) -> None:
        if self._failed is None:
            self._buf += data

    def next_frame(self) -> bytes | FrameTooLarge | None:
        """The next whole body, a :class:`FrameTooLarge`, or ``None`` (need more data)."""
        if self._failed is not None:
            return self._failed
        buf = self._buf
        if len(buf) < LENGTH_PREFIX_SIZE:
            return None
        (length,) = _LEN.unpack_from(buf, 0)
        if length > self.max_body:
            self._failed = FrameTooLarge(length, self.max_body)
            self._buf = bytearray()  # drop whatever followed; we will not read it
            return self._failed
        end = LENGTH_PREFIX_SIZE + length
        if len(buf) < end:
            return None
        body = bytes(buf[LENGTH_PREFIX_SIZE:end])
        del buf[:end]
        return body
