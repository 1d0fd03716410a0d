"""The pure-Python TFRecord reader and writer, the CRC-32C and the protobuf wire decoding."""

from __future__ import annotations

import gzip
import os
import struct

import pytest

from stepgym.episodes.offline import wire
from stepgym.episodes.offline.a11y import encode_forest, parse_forest
from stepgym.episodes.offline.crc32c import _raw_small, crc32c, masked_crc32c
from stepgym.episodes.offline.tfrecord import (
    TFRecordError,
    encode_example,
    parse_example,
    read_examples,
    read_records,
    write_records,
)


def test_crc32c_check_values_and_parallel_path_agree_with_the_byte_loop():
    assert crc32c(b"123456789") == 0xE3069283  # the standard check value of CRC-32C
    assert crc32c(b"") == 0
    assert crc32c(bytes(32)) == 0x8A9136AA  # RFC 3720 test vector: 32 zero bytes
    assert crc32c(bytes(range(32))) == 0x46DD794E  # RFC 3720: 0x00..0x1f
    for n in (1 << 15, (1 << 15) + 1, 1_000_003):  # large inputs take the chunked numpy path
        data = os.urandom(n)
        assert crc32c(data) == _raw_small(data, 0xFFFFFFFF) ^ 0xFFFFFFFF


def test_example_round_trip_and_agreement_with_the_protobuf_runtime():
    feats = {"episode_id": b"123", "step_id": 4, "image/ui_annotations_positions": [0.25, 0.5, 0.125, 0.75],
             "results/type_action": "", "names": [b"a", b"b"], "neg": [-3, 2**40]}
    data = encode_example(feats)
    back = parse_example(data)
    assert back["episode_id"] == [b"123"] and back["step_id"] == [4] and back["neg"] == [-3, 2**40]
    assert back["image/ui_annotations_positions"] == [0.25, 0.5, 0.125, 0.75]
    assert back["results/type_action"] == [b""] and back["names"] == [b"a", b"b"]
    # an independent encoder: the protobuf runtime with tf.train.Example's schema built at run time
    pytest.importorskip("google.protobuf")
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

    f = descriptor_pb2.FileDescriptorProto(name="ex.proto", package="tf", syntax="proto3")
    def msg(name, *fields):
        m = f.message_type.add(name=name)
        for fname, num, ftype, label, tname in fields:
            fd = m.field.add(name=fname, number=num, type=ftype, label=label)
            if tname:
                fd.type_name = tname
        return m
    T, L = descriptor_pb2.FieldDescriptorProto, descriptor_pb2.FieldDescriptorProto
    msg("BytesList", ("value", 1, T.TYPE_BYTES, L.LABEL_REPEATED, None))
    msg("FloatList", ("value", 1, T.TYPE_FLOAT, L.LABEL_REPEATED, None))
    msg("Int64List", ("value", 1, T.TYPE_INT64, L.LABEL_REPEATED, None))
    feature = msg("Feature", ("bytes_list", 1, T.TYPE_MESSAGE, L.LABEL_OPTIONAL, ".tf.BytesList"),
                  ("float_list", 2, T.TYPE_MESSAGE, L.LABEL_OPTIONAL, ".tf.FloatList"),
                  ("int64_list", 3, T.TYPE_MESSAGE, L.LABEL_OPTIONAL, ".tf.Int64List"))
    feature.oneof_decl.add(name="kind")
    for fd in feature.field:
        fd.oneof_index = 0
    feats_msg = msg("Features", ("feature", 1, T.TYPE_MESSAGE, L.LABEL_REPEATED, ".tf.Features.FeatureEntry"))
    entry = feats_msg.nested_type.add(name="FeatureEntry")
    entry.options.map_entry = True
    entry.field.add(name="key", number=1, type=T.TYPE_STRING, label=L.LABEL_OPTIONAL)
    entry.field.add(name="value", number=2, type=T.TYPE_MESSAGE, label=L.LABEL_OPTIONAL, type_name=".tf.Feature")
    msg("Example", ("features", 1, T.TYPE_MESSAGE, L.LABEL_OPTIONAL, ".tf.Features"))
    pool = descriptor_pool.DescriptorPool()
    pool.Add(f)
    Example = message_factory.GetMessageClass(pool.FindMessageTypeByName("tf.Example"))
    theirs = Example.FromString(data)  # they read ours
    assert list(theirs.features.feature["neg"].int64_list.value) == [-3, 2**40]
    assert list(theirs.features.feature["names"].bytes_list.value) == [b"a", b"b"]
    ex = Example()  # we read theirs
    ex.features.feature["xs"].float_list.value.extend([1.5, -2.0])
    ex.features.feature["ids"].int64_list.value.extend([7, -1])
    ex.features.feature["s"].bytes_list.value.append("é".encode())
    assert parse_example(ex.SerializeToString()) == {"xs": [1.5, -2.0], "ids": [7, -1], "s": ["é".encode()]}


@pytest.mark.parametrize("compress", [False, True])
def test_records_round_trip_plain_and_gzip(tmp_path, compress):
    payloads = [encode_example({"i": i, "blob": os.urandom(40_000 if i == 1 else 10)}) for i in range(3)]
    path = write_records(tmp_path / "x.tfrecord", payloads, compress=compress)
    assert (path.read_bytes()[:2] == b"\x1f\x8b") is compress
    assert list(read_records(path)) == payloads
    assert [e["i"] for e in read_examples(path)] == [[0], [1], [2]]


def test_corrupt_and_truncated_files_are_named(tmp_path):
    payloads = [encode_example({"i": i}) for i in range(2)]
    path = write_records(tmp_path / "x.tfrecord", payloads)
    raw = bytearray(path.read_bytes())
    raw[14] ^= 0xFF  # a byte of the first record's data
    (tmp_path / "bad").write_bytes(raw)
    with pytest.raises(TFRecordError, match=r"record 0 .*data checksum mismatch"):
        list(read_records(tmp_path / "bad"))
    (tmp_path / "short").write_bytes(bytes(path.read_bytes())[:-3])
    with pytest.raises(TFRecordError, match="record 1 .* truncated"):
        list(read_records(tmp_path / "short"))
    (tmp_path / "text").write_bytes(b"this is not a tfrecord file at all")
    with pytest.raises(TFRecordError, match="length checksum mismatch"):
        list(read_records(tmp_path / "text"))
    with gzip.open(tmp_path / "cut.gz", "wb") as f:
        f.write(path.read_bytes())
    (tmp_path / "cut").write_bytes((tmp_path / "cut.gz").read_bytes()[:-12])
    with pytest.raises(TFRecordError, match="cut"):
        list(read_records(tmp_path / "cut"))


def test_malformed_wire_data_raises_wire_error_not_index_error():
    with pytest.raises(TFRecordError, match="not a tf.train.Example"):
        parse_example(b"\x0a\x05ab")  # a field claiming 5 bytes with 2 left
    with pytest.raises(wire.WireError, match="truncated varint"):
        list(wire.fields(b"\x08\xff"))
    assert struct.unpack("<I", struct.pack("<I", masked_crc32c(b"x")))[0] == masked_crc32c(b"x")


def test_accessibility_forest_round_trip():
    nodes = [{"id": 0, "bbox": [0, 0, 1080, 2400], "class_name": "android.widget.FrameLayout", "children": [1, 2]},
             {"id": 1, "bbox": [10, 20, 300, 120], "class_name": "android.widget.Button", "text": "Send",
              "clickable": True, "depth": 1},
             {"id": 2, "bbox": [-5, 0, 40, 40], "content_description": "Back", "depth": 1}]
    parsed = parse_forest(encode_forest([{"window_type": 1, "nodes": nodes}, {"window_type": 2, "nodes": nodes[:1]}]))
    assert [n["bbox"] for n in parsed] == [[0, 0, 1080, 2400], [10, 20, 300, 120], [-5, 0, 40, 40], [0, 0, 1080, 2400]]
    assert parsed[1]["text"] == "Send" and parsed[1]["clickable"] and parsed[0]["children"] == [1, 2]
    assert parsed[2]["content_description"] == "Back" and parsed[3]["window_type"] == "input_method"
