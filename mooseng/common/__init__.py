"""What every MooseNG role shares: configuration, logging, errors, gRPC and HTTP plumbing."""
