#!/usr/bin/env bash
# Install what `make image-test` and `make stack-test` need, from Debian packages, when
# missing: podman with runc (crun fails on this kind of host, /work/shared/CONTAINERS.md),
# mmdebstrap for the locally built base image.
set -euo pipefail
missing=()
for package in podman runc mmdebstrap; do
    command -v "$package" >/dev/null || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
    $SUDO apt-get update -q
    $SUDO apt-get install -y -q "${missing[@]}"
fi
