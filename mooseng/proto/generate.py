"""Regenerate the protobuf/gRPC modules from mooseng.proto: `python -m mooseng.proto.generate`.

The generated files are committed so that an installed package needs no grpcio-tools;
tests/test_proto.py fails when they are stale.
"""

import pathlib
import sys

PROTO_DIR = pathlib.Path(__file__).resolve().parent
ROOT = PROTO_DIR.parent.parent


def generate(out_dir: pathlib.Path = ROOT) -> None:
    from grpc_tools import protoc
    import grpc_tools

    include = pathlib.Path(grpc_tools.__file__).parent / "_proto"
    args = [
        "protoc",
        f"-I{ROOT}",
        f"-I{include}",
        f"--python_out={out_dir}",
        f"--grpc_python_out={out_dir}",
        str(PROTO_DIR / "mooseng.proto"),
    ]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")


if __name__ == "__main__":
    generate(pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT)
