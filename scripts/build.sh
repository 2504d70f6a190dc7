#!/usr/bin/env bash
# Configures and builds sluice into build/ (Ninja, RelWithDebInfo). Extra arguments go to cmake,
# e.g. scripts/build.sh -DSLUICE_SANITIZE=ON (use a separate BUILD_DIR for that).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
JOBS=${JOBS:-$(nproc)}
if [ ! -f "$BUILD_DIR/build.ninja" ] || [ $# -gt 0 ]; then
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@"
fi
echo "build: compiling with $JOBS jobs into $BUILD_DIR/"
cmake --build "$BUILD_DIR" -j "$JOBS"
