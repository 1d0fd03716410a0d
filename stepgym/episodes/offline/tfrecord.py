"""TFRecord files of `tf.train.Example`s, read and written in pure Python (no tensorflow).

A TFRecord file is a run of records: `uint64 length`, `uint32 masked_crc32c(length)`,
`data`, `uint32 masked_crc32c(data)` (little endian). The AITW and AndroidControl releases are
GZIP-compressed; `read_records` detects gzip by its magic bytes. Every checksum is verified: a
corrupt or truncated file raises `TFRecordError` naming the file, the record and the offset.

An Example decodes to `{feature name: list}`: bytes lists as `list[bytes]`, float lists as
`list[float]`, int64 lists as `list[int]`.
"""

from __future__ import annotations

import gzip
import struct
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import BinaryIO

from stepgym.episodes.offline import wire
from stepgym.episodes.offline.crc32c import masked_crc32c

Feature = list[bytes] | list[float] | list[int]


class TFRecordError(ValueError):
    """A TFRecord file that is corrupt, truncated or not a TFRecord file at all."""


def _open(path: Path) -> BinaryIO:
    with open(path, "rb") as f:
        magic = f.read(2)
    return gzip.open(path, "rb") if magic == b"\x1f\x8b" else open(path, "rb")  # type: ignore[return-value]


def read_records(path: str | Path, verify: bool = True) -> Iterator[bytes]:
    """Yield the payload of each record in a (possibly gzipped) TFRecord file, checksums verified."""
    path = Path(path)
    with _open(path) as f:
        index = offset = 0
        while True:
            try:
                head = f.read(12)
            except (OSError, EOFError) as exc:  # a gzip stream cut short
                raise TFRecordError(f"{path}: unreadable at record {index} ({exc})") from None
            if not head:
                return
            if len(head) < 12:
                raise TFRecordError(f"{path}: truncated header of record {index} at byte {offset}")
            length_bytes, length_crc = head[:8], struct.unpack("<I", head[8:])[0]
            if verify and masked_crc32c(length_bytes) != length_crc:
                raise TFRecordError(f"{path}: record {index} at byte {offset}: length checksum mismatch "
                                    "(not a TFRecord file, or corrupt)")
            (length,) = struct.unpack("<Q", length_bytes)
            try:
                data = f.read(length)
                tail = f.read(4)
            except (OSError, EOFError) as exc:
                raise TFRecordError(f"{path}: unreadable at record {index} ({exc})") from None
            if len(data) < length or len(tail) < 4:
                raise TFRecordError(f"{path}: record {index} at byte {offset} is truncated "
                                    f"({len(data)} of {length} bytes)")
            if verify and masked_crc32c(data) != struct.unpack("<I", tail)[0]:
                raise TFRecordError(f"{path}: record {index} at byte {offset}: data checksum mismatch (corrupt)")
            yield data
            index += 1
            offset += 12 + length + 4


def write_records(path: str | Path, payloads: Iterable[bytes], compress: bool = False) -> Path:
    """Write payloads as a TFRecord file (gzip-compressed with `compress=True`); returns the path."""
    path = Path(path)
    opener = gzip.open if compress else open
    with opener(path, "wb") as f:
        for data in payloads:
            length = struct.pack("<Q", len(data))
            f.write(length + struct.pack("<I", masked_crc32c(length)) + data
                    + struct.pack("<I", masked_crc32c(data)))
    return path


def _feature(buf: memoryview, name: str) -> Feature:
    for number, wtype, value in wire.fields(buf):
        if wtype != wire.LEN:
            continue
        if number == 1:  # BytesList
            return [bytes(v) for n, w, v in wire.fields(value) if n == 1 and w == wire.LEN]
        if number == 2:  # FloatList: packed, or one fixed32 per value
            out: list = []
            for n, w, v in wire.fields(value):
                if n != 1:
                    continue
                if w == wire.LEN:
                    out += wire.packed_floats(v)
                elif w == wire.I32:
                    out.append(struct.unpack("<f", int(v).to_bytes(4, "little"))[0])
            return out
        if number == 3:  # Int64List: packed, or one varint per value
            out = []
            for n, w, v in wire.fields(value):
                if n != 1:
                    continue
                if w == wire.LEN:
                    out += [wire.signed64(x) for x in wire.packed_varints(v)]
                elif w == wire.VARINT:
                    out.append(wire.signed64(int(v)))
            return out
    return []  # a Feature with no kind set


def parse_example(data: bytes | memoryview) -> dict[str, Feature]:
    """A serialized `tf.train.Example` as `{feature name: values}`."""
    out: dict[str, Feature] = {}
    try:
        for number, wtype, features in wire.fields(data):
            if number != 1 or wtype != wire.LEN:
                continue
            for n, w, entry in wire.fields(features):
                if n != 1 or w != wire.LEN:
                    continue
                key, value = "", memoryview(b"")
                for en, ew, ev in wire.fields(entry):
                    if en == 1 and ew == wire.LEN:
                        key = bytes(ev).decode("utf-8")
                    elif en == 2 and ew == wire.LEN:
                        value = ev
                out[key] = _feature(value, key)
    except (wire.WireError, UnicodeDecodeError) as exc:
        raise TFRecordError(f"not a tf.train.Example: {exc}") from None
    return out


def read_examples(path: str | Path) -> Iterator[dict[str, Feature]]:
    """Yield each record of a TFRecord file decoded as a `tf.train.Example`."""
    for i, data in enumerate(read_records(path)):
        try:
            yield parse_example(data)
        except TFRecordError as exc:
            raise TFRecordError(f"{path}: record {i}: {exc}") from None


def encode_example(features: Mapping[str, Sequence[bytes] | Sequence[float] | Sequence[int] | bytes | str | int | float]) -> bytes:
    """Serialize `{name: values}` as a `tf.train.Example` (bytes/str → BytesList, float → FloatList,
    int → Int64List; a scalar is a one-value list)."""
    entries = b""
    for name, values in features.items():
        if isinstance(values, (bytes, str, int, float)):
            values = [values]
        values = [v.encode("utf-8") if isinstance(v, str) else v for v in values]
        if values and isinstance(values[0], bytes):
            kind = wire.field_bytes(1, b"".join(wire.field_bytes(1, v) for v in values))
        elif values and all(isinstance(v, int) and not isinstance(v, bool) for v in values):
            kind = wire.field_bytes(3, wire.field_bytes(1, b"".join(wire.varint(v) for v in values)))
        else:
            packed = struct.pack(f"<{len(values)}f", *values)
            kind = wire.field_bytes(2, wire.field_bytes(1, packed) if values else b"")
        entry = wire.field_bytes(1, name.encode("utf-8")) + wire.field_bytes(2, kind)
        entries += wire.field_bytes(1, entry)
    return wire.field_bytes(1, entries)
