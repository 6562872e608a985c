#!/usr/bin/env bash
# Build (only if its content hash changed) the MooseNG image for the `docker` backend.
# Prints the tag `mooseng:<hash>` and writes it to .cache/mooseng-image.
# BASE_IMAGE=python:3.11-slim uses a registry image instead of the local debootstrap base.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-docker.sh
PYTHON=python3
[ -x .venv/bin/python ] && PYTHON=.venv/bin/python
exec "$PYTHON" -m support.docker_images
