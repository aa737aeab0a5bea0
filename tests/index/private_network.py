"""Running Ray in tests: inside a private network namespace with only loopback, since Ray listens on every
interface whatever it is told (../shared/STACK.md); skipped, saying why, where that namespace is not allowed."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def require_private_network() -> None:
    """Skip unless `unshare -n` and `ip` work here (root, or unprivileged user namespaces) and Ray is installed."""
    pytest.importorskip("ray", reason="Ray is not installed (pip install 'ragtune[ray]')")
    if not (shutil.which("unshare") and shutil.which("ip")):
        pytest.skip("unshare or ip (util-linux, iproute2) is missing: Ray cannot be confined to loopback")
    probe = subprocess.run(["unshare", "-n", "ip", "link", "set", "lo", "up"], capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip(f"unshare -n is not permitted here ({probe.stderr.strip() or probe.returncode}): Ray would "
                    "listen on every interface")


def run_private(script: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """`script` (sh) in a new network namespace with loopback up, this checkout first on the path, Ray's token
    auth off and Ray's files in a private short folder (its socket paths must stay under 108 bytes)."""
    ray_tmp = tempfile.mkdtemp(prefix="rt-ray-", dir="/tmp")
    env = {**os.environ, "RAY_AUTH_MODE": "disabled", "RAY_TMPDIR": ray_tmp, "PATH": f"{BIN}:{os.environ['PATH']}",
           "PYTHONPATH": os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]),
           "RAY_USAGE_STATS_ENABLED": "0"}
    try:
        return subprocess.run(["unshare", "-n", "sh", "-ec", f"ip link set lo up\n{script}"], env=env,
                              capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    finally:
        shutil.rmtree(ray_tmp, ignore_errors=True)
