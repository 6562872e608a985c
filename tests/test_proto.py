"""The committed protobuf/gRPC modules must be exactly what mooseng.proto generates."""

import pathlib

import pytest

from mooseng.proto import generate

pytest.importorskip("grpc_tools")


def test_generated_modules_are_not_stale(tmp_path):
    generate.generate(tmp_path)
    fresh = tmp_path / "mooseng" / "proto"
    committed = pathlib.Path(generate.PROTO_DIR)
    for name in ("mooseng_pb2.py", "mooseng_pb2_grpc.py"):
        assert (fresh / name).read_bytes() == (committed / name).read_bytes(), (
            f"{name} is stale: run `python -m mooseng.proto.generate` and commit the result")


def test_generated_modules_import_and_name_the_services():
    from mooseng.proto import mooseng_pb2, mooseng_pb2_grpc

    services = set(mooseng_pb2.DESCRIPTOR.services_by_name)
    assert services == {"Master", "ChunkServerRegistry", "ChunkServer"}
    assert hasattr(mooseng_pb2_grpc, "MasterStub")
    assert mooseng_pb2.DESCRIPTOR.package == "mooseng.v1"
