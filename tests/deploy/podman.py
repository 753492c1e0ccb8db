"""Podman as it works on these machines (/work/shared/CONTAINERS.md), for the container checks.

No registry is reachable: the base image is built here from Debian packages (mmdebstrap,
then `podman import`). Three adjustments the defaults fail without, all kept here and
out of the Dockerfile: no default rlimits (CONTAINERS_CONF), the cgroupfs manager with
runc, and the host's network for builds and containers.
"""

import os
import re
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from tests.servers import PROJECT_ROOT

BASE_IMAGE = "localhost/ccflare-base:bookworm"
IMAGE = "localhost/ccflare:test"
_CONF = Path(tempfile.gettempdir()) / "ccflare-containers.conf"


def podman_env() -> dict[str, str]:
    _CONF.write_text("[containers]\ndefault_ulimits = []\n")
    return {**os.environ, "CONTAINERS_CONF": str(_CONF)}


PODMAN = ["podman", "--cgroup-manager=cgroupfs", "--runtime", "runc"]


def podman(*args: str, check: bool = True, capture: bool = True, **kwargs: object) -> str:
    """Run `podman ARGS` with the settings above; returns its stdout."""
    result = subprocess.run(
        [*PODMAN, *args],
        env=podman_env(),
        check=False,
        text=True,
        stdout=subprocess.PIPE if capture else None,
        stderr=subprocess.PIPE if capture else None,
        **kwargs,  # type: ignore[call-overload]
    )
    if check and result.returncode != 0:
        detail = result.stderr if capture else "(its output is above)"
        raise RuntimeError(f"podman {' '.join(args)} failed ({result.returncode}): {detail}")
    return result.stdout or ""


def timed(label: str, step: Callable[[], object]) -> None:
    """Run one step of a check and print how long it took (the checks' own measurements)."""
    started = time.monotonic()
    step()
    print(f"== {label}: {time.monotonic() - started:.0f} s", flush=True)


def ensure_base_image() -> None:
    """The Debian bookworm base with python3, built once and then reused."""
    if _exists(BASE_IMAGE):
        return
    with tempfile.TemporaryDirectory() as tmp:
        rootfs = Path(tmp) / "rootfs.tar"
        subprocess.run(
            ["mmdebstrap", "--quiet", "--variant=minbase", "--include=python3", "bookworm", rootfs],
            check=True,
        )
        podman("import", str(rootfs), BASE_IMAGE)


def _exists(image: str) -> bool:
    return subprocess.run([*PODMAN, "image", "exists", image], env=podman_env()).returncode == 0


# Where this host keeps the certificate authorities it trusts (Debian's bundle).
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
_PIP_CONF = Path(tempfile.gettempdir()) / "ccflare-build-pip.conf"
_CA_IN_BUILD = "/tmp/host-ca-certificates.crt"


def trust_host_ca() -> list[str]:
    """Build-time mounts so pip in the build trusts what this host trusts.

    Machines whose outbound HTTPS goes through an intercepting proxy sign it with a CA
    only the host's bundle has; pip in a fresh base does not know it. Mounted for the
    build's RUN steps only: nothing of it is kept in the image.
    """
    if not HOST_CA_BUNDLE.exists():
        return []
    # Beside the image's own bundle, not over it: the build's apt-get installs that one.
    _PIP_CONF.write_text(f"[global]\ncert = {_CA_IN_BUILD}\n")
    return [
        "--volume", f"{HOST_CA_BUNDLE}:{_CA_IN_BUILD}:ro",
        "--volume", f"{_PIP_CONF}:/etc/pip.conf:ro",
    ]  # fmt: skip


def build(tag: str, context: Path = PROJECT_ROOT, *, dockerfile: str = "Dockerfile") -> None:
    """Build `tag`; its stages are tagged too (`tag`-STAGE), and what they replace removed.

    Left untagged, each check's earlier image and build stage stayed on disk for good:
    13 GB of them here after a day of CI runs. Tagged, an earlier one is known and removed
    once replaced, and the stages' layers stay as the next build's cache.
    """
    for stage in _stages(context / dockerfile):
        _build_replacing(f"{tag}-{stage}", context, dockerfile, "--target", stage)
    _build_replacing(tag, context, dockerfile)


def _build_replacing(tag: str, context: Path, dockerfile: str, *extra: str) -> None:
    earlier = _image_id(tag)
    podman(
        # The docker format keeps HEALTHCHECK (the OCI format has no such field).
        "build", "--format", "docker", "--network", "host", *trust_host_ca(),
        "--build-arg", f"BASE_IMAGE={BASE_IMAGE}", *extra,
        "-f", str(context / dockerfile), "-t", tag, str(context),
        capture=False,
    )  # fmt: skip
    if earlier and earlier != _image_id(tag):
        podman("rmi", earlier, check=False)  # in use by a container: kept, as podman will


def _stages(dockerfile: Path) -> list[str]:
    """The named stages before the last one (`FROM image AS name`)."""
    froms = re.findall(r"^FROM\s.*$", dockerfile.read_text(), re.IGNORECASE | re.MULTILINE)
    named = (re.search(r"\sAS\s+(\S+)\s*$", line, re.IGNORECASE) for line in froms[:-1])
    return [match.group(1) for match in named if match]


def _image_id(tag: str) -> str | None:
    found = podman("image", "inspect", "--format", "{{.Id}}", tag, check=False).strip()
    return found or None
