#!/usr/bin/env bash
# A Debian 12 image with python3 (and venv), made locally with debootstrap, for building the
# agent image where no image registry is reachable (CI and tests: the Dockerfile's BASE_IMAGE
# defaults to an official Python image otherwise). Built once and cached by its tag; prints the tag.
#
# The host's CA bundle goes into the image and pip is pointed at it: where outbound HTTPS goes
# through an intercepting proxy, pip inside `docker build` must trust the same authorities.
set -euo pipefail
tag="${1:-local/prefect-agent-python-base:bookworm}"
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo -n "$@"; fi; }
if docker image inspect "$tag" >/dev/null 2>&1; then
    echo "$tag"
    exit 0
fi
if ! command -v debootstrap >/dev/null 2>&1; then
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        debootstrap >&2
fi
mirror="$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)"
mirror="${mirror:-http://deb.debian.org/debian}"
root="$(mktemp -d)"
trap 'as_root rm -rf "$root"' EXIT
echo "python-base-image: debootstrap bookworm from $mirror (about a minute)" >&2
as_root debootstrap --variant=minbase --include=python3,python3-venv bookworm "$root" "$mirror" \
    >"$root.log" 2>&1 || { tail -n 20 "$root.log" >&2; exit 1; }
rm -f "$root.log"
as_root mkdir -p "$root/etc/ssl/certs"
as_root cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
as_root rm -rf "$root/var/cache/apt/archives"/*.deb "$root/var/lib/apt/lists"/*
as_root tar -C "$root" -c . | docker import \
    -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    -c 'ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt' \
    -c 'ENV LANG=C.UTF-8' \
    -c 'CMD ["python3"]' - "$tag" >/dev/null
echo "$tag"
