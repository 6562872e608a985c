"""The chunk server: stores chunk copies with per-block CRCs and serves them over gRPC."""
