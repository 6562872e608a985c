"""Generated protobuf/gRPC modules for the mooseng.v1 protocol (see mooseng.proto)."""
