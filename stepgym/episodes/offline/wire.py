"""The protobuf wire format, read and written by hand (tf.train.Example, Android a11y forests).

Only what those two schemas need: varints, 64-bit and 32-bit fixed fields and length-delimited
fields. Reading yields `(field_number, wire_type, value)`; a truncated or malformed buffer raises
`WireError` naming the offset, never an IndexError.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

VARINT, I64, LEN, I32 = 0, 1, 2, 5


class WireError(ValueError):
    """A buffer that is not valid protobuf wire format."""


def read_varint(buf: memoryview, pos: int) -> tuple[int, int]:
    """(value, next position) of the varint at `pos`."""
    result = shift = 0
    while True:
        if pos >= len(buf):
            raise WireError(f"truncated varint at byte {pos}")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise WireError(f"varint longer than 10 bytes at byte {pos}")


def fields(buf: bytes | memoryview) -> Iterator[tuple[int, int, int | memoryview]]:
    """Yield (field number, wire type, value) for each field of one message.

    Varints come back as unsigned ints, fixed fields as ints of their raw bits, and
    length-delimited fields as memoryviews into `buf` (no copy).
    """
    buf = memoryview(buf)
    pos, n = 0, len(buf)
    while pos < n:
        key, pos = read_varint(buf, pos)
        number, wire = key >> 3, key & 7
        if wire == VARINT:
            value, pos = read_varint(buf, pos)
        elif wire == I64:
            if pos + 8 > n:
                raise WireError(f"truncated 64-bit field {number} at byte {pos}")
            value = int.from_bytes(buf[pos:pos + 8], "little")
            pos += 8
        elif wire == I32:
            if pos + 4 > n:
                raise WireError(f"truncated 32-bit field {number} at byte {pos}")
            value = int.from_bytes(buf[pos:pos + 4], "little")
            pos += 4
        elif wire == LEN:
            length, pos = read_varint(buf, pos)
            if pos + length > n:
                raise WireError(f"field {number} claims {length} bytes at byte {pos}, only {n - pos} left")
            value = buf[pos:pos + length]
            pos += length
        else:
            raise WireError(f"unsupported wire type {wire} (field {number}) at byte {pos}")
        yield number, wire, value


def signed32(value: int) -> int:
    """An int32 field's value (negative int32s are sent as 10-byte varints)."""
    value &= 0xFFFFFFFF
    return value - (1 << 32) if value >= 1 << 31 else value


def signed64(value: int) -> int:
    """An int64 field's value from its unsigned varint."""
    value &= 0xFFFFFFFFFFFFFFFF
    return value - (1 << 64) if value >= 1 << 63 else value


def packed_varints(buf: memoryview) -> list[int]:
    """The values of a packed repeated varint field."""
    out, pos = [], 0
    while pos < len(buf):
        v, pos = read_varint(buf, pos)
        out.append(v)
    return out


def packed_floats(buf: memoryview) -> list[float]:
    """The values of a packed repeated float field."""
    if len(buf) % 4:
        raise WireError(f"packed floats of {len(buf)} bytes (not a multiple of 4)")
    return list(struct.unpack(f"<{len(buf) // 4}f", buf))


# -- writing (fixtures and the step-dataset exporter) -----------------------------------------
def varint(value: int) -> bytes:
    """The varint encoding of a non-negative int (negative ints as their 64-bit two's complement)."""
    if value < 0:
        value &= 0xFFFFFFFFFFFFFFFF
    out = bytearray()
    while True:
        b = value & 0x7F
        value >>= 7
        if value:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def field_varint(number: int, value: int) -> bytes:
    """One varint field."""
    return varint(number << 3 | VARINT) + varint(value)


def field_bytes(number: int, payload: bytes) -> bytes:
    """One length-delimited field (bytes, strings, nested messages, packed lists)."""
    return varint(number << 3 | LEN) + varint(len(payload)) + payload
