#!/usr/bin/env bash
# A flow image with Prefect 1.4.1, built locally on the Docker engine (no registry needed).
# The image holds this machine's own Python (interpreter, standard library and the shared
# libraries they load, found with ldd) and a copy of the Prefect 1.4.1 venv
# (scripts/prefect1-venv.sh) at /opt/prefect1, first on PATH, so `prefect execute flow-run`
# and `python -m prefect` work in it as in Prefect's own images. It runs on any engine of
# this machine's architecture without volumes. Built once per venv content and Python (the
# tag is their hash); later calls only print the name: local/prefect1-flow:<hash>.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="${PREFECT1_VENV:-}"
if [ -z "$venv" ] || [ ! -x "$venv/bin/python" ]; then
    venv="$("$root/scripts/prefect1-venv.sh")"
fi
python="$(readlink -f "$venv/bin/python")"
version="$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
site="$venv/lib/python$version/site-packages"
tag="$( { sha1sum < "$0"; "$python" -VV; ls "$site"; } | sha1sum | cut -c1-12)"
image="local/prefect1-flow:$tag"
if docker image inspect "$image" >/dev/null 2>&1; then
    echo "$image"
    exit 0
fi
rootfs="$(mktemp -d "${TMPDIR:-/tmp}/prefect1-image.XXXXXX")"
trap 'rm -rf "$rootfs"' EXIT
"$python" -I - "$rootfs" "$python" "$version" "$site" <<'PY'
import os, shutil, subprocess, sys, sysconfig
from pathlib import Path

rootfs, python, version, site = Path(sys.argv[1]), sys.argv[2], sys.argv[3], Path(sys.argv[4])
stdlib = Path(sysconfig.get_paths()["stdlib"])  # of the base interpreter (-I: no venv)
SKIP = {"test", "idlelib", "tkinter", "turtledemo", "ensurepip", "lib2to3", "site-packages",
        f"config-{version}-{sys.implementation._multiarch}"}  # tests, GUIs, the static libpython

for name in ("bin", "lib", "lib64", "sbin"):  # the usr-merged layout of the host
    (rootfs / "usr" / name).mkdir(parents=True, exist_ok=True)
    (rootfs / name).symlink_to(f"usr/{name}")


def place(path: Path) -> Path:
    """Where a host file goes in the image: its directory resolved, its own name kept
    (a library is looked up by its soname, often a symlink)."""
    return rootfs / os.path.realpath(path.parent).lstrip("/") / path.name


def copy(path: Path) -> None:
    target = place(path)
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(os.path.realpath(path), target)


copy(Path(python))
shutil.copytree(stdlib, place(stdlib), symlinks=True,
                ignore=lambda d, names: [n for n in names if d == str(stdlib) and n in SKIP])
venv = rootfs / "opt/prefect1"
shutil.copytree(site, venv / f"lib/python{version}/site-packages", symlinks=True,
                ignore=shutil.ignore_patterns("pip", "pip-*"))
(venv / "bin").mkdir(parents=True)
(venv / "bin/python").symlink_to(os.path.realpath(python))
(venv / "bin/python3").symlink_to("python")
(venv / "pyvenv.cfg").write_text(f"home = {os.path.dirname(python)}\ninclude-system-site-packages = false\nversion = {version}\n")
(venv / "bin/prefect").write_text(
    "#!/opt/prefect1/bin/python\nimport sys\nfrom prefect.cli import cli\nsys.exit(cli())\n"
)
(venv / "bin/prefect").chmod(0o755)

# Every shared library the interpreter and any extension module loads, and the loader.
objects = [python, *map(str, stdlib.rglob("*.so")), *map(str, site.rglob("*.so*"))]
needed = set()
for start in range(0, len(objects), 200):
    out = subprocess.run(["ldd", *objects[start:start + 200]], capture_output=True, text=True).stdout
    for line in out.splitlines():
        parts = line.split()
        if "=>" in parts and len(parts) > parts.index("=>") + 1 and parts[parts.index("=>") + 1].startswith("/"):
            needed.add(parts[parts.index("=>") + 1])
        elif parts and parts[0].startswith("/") and "ld-linux" in parts[0]:
            needed.add(parts[0])
for library in sorted(needed):
    copy(Path(library))
for directory in ("etc", "tmp", "root"):
    (rootfs / directory).mkdir(exist_ok=True)
(rootfs / "tmp").chmod(0o1777)
(rootfs / "etc/passwd").write_text("root:x:0:0:root:/root:/bin/sh\n")
(rootfs / "etc/group").write_text("root:x:0:\n")
PY
# Imported under a provisional tag: only an image that imports Prefect 1.4.1 gets the real one.
building="local/prefect1-flow:building-$tag-$$"
tar -C "$rootfs" -c . | docker import \
    -c 'ENV PATH=/opt/prefect1/bin:/usr/local/bin:/usr/bin:/bin' \
    -c 'ENV HOME=/root' -c 'ENV LANG=C.UTF-8' -c 'WORKDIR /root' \
    -c 'CMD ["prefect", "--help"]' - "$building" >/dev/null
check='import prefect, sys; sys.exit(prefect.__version__ != "1.4.1")'
if ! docker run --rm --network none "$building" python -c "$check" >&2 \
        || ! docker run --rm --network none "$building" prefect version >&2; then
    docker rmi "$building" >/dev/null
    echo "prefect1-image.sh: the image cannot run Prefect 1.4.1 (see above)" >&2
    exit 1
fi
docker tag "$building" "$image"
docker rmi "$building" >/dev/null
echo "$image"
