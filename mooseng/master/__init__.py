"""The metadata master: namespace, changelog, chunk placement, goal keeping, gRPC services."""
