"""Start and stop VMware's vCenter simulator (vcsim) for tests and the demo.

vcsim is not on PyPI: ``tools/vcsim/main.go`` wraps govmomi's ``simulator`` package and
``tools/vcsim/build.sh`` builds it once into ``.cache/bin/vcsim`` (needs the Debian packages
``golang-go`` and ``golang-github-vmware-govmomi-dev``). This module builds the binary when
needed, runs it on a free (or given) port with a private ``TMPDIR`` for its datastores (on
``/dev/shm`` when available, which matters with thousands of VMs) and reads the connection
details it prints::

    with Simulator(username="user", password="pass", vm=3) as sim:
        si = SmartConnect(host=sim.host, port=sim.port, user=sim.username,
                          pwd=sim.password, protocol=sim.protocol)

Model size keywords map to the launcher's flags (``dc``, ``cluster``, ``host``,
``standalone_host``, ``vm``, ``ds``, ``pg``, ``pool``, ``app``, ``folder``). vcsim creates
``vm`` VMs per standalone host, per cluster root resource pool and per vApp, so a model holds
``dc * vm * (standalone_host + cluster * (1 + app))`` VMs; see :attr:`Simulator.expected_vm_count`.
"""

from __future__ import annotations

import fcntl
import logging
import os
import queue
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import NoReturn
from urllib.parse import urlsplit

logger = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[2]
BUILD_SCRIPT = REPO_ROOT / "tools" / "vcsim" / "build.sh"

#: Model size keywords accepted by :class:`Simulator`, with vcsim's VPX defaults.
MODEL_DEFAULTS = {
    "dc": 1,
    "cluster": 1,
    "host": 3,
    "standalone_host": 1,
    "vm": 2,
    "ds": 1,
    "pg": 1,
    "pool": 0,
    "app": 0,
    "folder": 0,
}

START_TIMEOUT = 60.0
STOP_TIMEOUT = 10.0
PORT_RETRY_SECONDS = 5.0

_build_lock = threading.Lock()
_binary: Path | None = None


def build_binary(*, force: bool = False) -> Path:
    """Build the simulator with ``tools/vcsim/build.sh`` if needed and return its path.

    Safe to call from several threads and processes (pytest-xdist): a file lock serialises
    the build and the script skips it when the binary is up to date.
    """
    global _binary
    with _build_lock:
        if _binary is not None and not force and _binary.exists():
            return _binary
        lock_path = REPO_ROOT / ".cache" / "vcsim-build.lock"
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ)
        if force:
            env["VCSIM_FORCE_BUILD"] = "1"
        with open(lock_path, "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            started = time.monotonic()
            result = subprocess.run(
                ["bash", str(BUILD_SCRIPT)],
                capture_output=True,
                text=True,
                env=env,
                check=False,
            )
        if result.returncode != 0:
            raise RuntimeError(
                f"building vcsim failed (exit {result.returncode}):\n{result.stderr.strip()}"
            )
        lines = result.stdout.strip().splitlines()
        if not lines:
            raise RuntimeError("tools/vcsim/build.sh printed no binary path")
        _binary = Path(lines[-1])
        logger.debug("vcsim binary %s ready in %.1fs", _binary, time.monotonic() - started)
        return _binary


def _temp_parent() -> str | None:
    """Prefer a tmpfs for the datastores: creating thousands of VM folders on disk is slow."""
    shm = "/dev/shm"
    if os.path.isdir(shm) and os.access(shm, os.W_OK | os.X_OK):
        return shm
    return None


class Simulator:
    """A vcsim process serving one inventory model; usable as a context manager.

    Attributes set by :meth:`start`: ``url``, ``host``, ``port``, ``protocol``,
    ``datastore_dir`` (the first datastore's local folder, or ``None``), ``datastore_dirs``
    (``"DC0/LocalDS_0"`` to folder) and ``vm_count`` (as reported by the simulator).
    """

    def __init__(
        self,
        username: str | None = "user",
        password: str | None = "pass",
        tls: bool = False,
        extra_args: tuple[str, ...] | list[str] = (),
        *,
        listen_host: str = "127.0.0.1",
        port: int = 0,
        session_timeout: float | None = None,
        delay_ms: int | None = None,
        start_timeout: float = START_TIMEOUT,
        **model: int,
    ) -> None:
        """Describe the simulator; nothing runs until :meth:`start`.

        With both ``username`` and ``password`` set only those credentials log in; with either
        ``None`` vcsim accepts any non-empty pair (and ``user``/``pass`` are used to connect).
        ``session_timeout`` is the idle session expiry in seconds, ``delay_ms`` a delay added
        to every SOAP call. ``model`` takes the size keywords of :data:`MODEL_DEFAULTS`.
        """
        unknown = set(model) - set(MODEL_DEFAULTS)
        if unknown:
            raise TypeError(f"unknown model size keyword(s): {', '.join(sorted(unknown))}")
        self.strict_login = bool(username and password)
        self.username = username if self.strict_login else "user"
        self.password = password if self.strict_login else "pass"
        self.tls = tls
        self.extra_args = tuple(extra_args)
        self.listen_host = listen_host
        self.session_timeout = session_timeout
        self.delay_ms = delay_ms
        self.start_timeout = start_timeout
        self.model = {**MODEL_DEFAULTS, **model}

        self.host = listen_host
        self.port = port
        self.protocol = "https" if tls else "http"
        self.url: str | None = None
        self.datastore_dir: str | None = None
        self.datastore_dirs: dict[str, str] = {}
        self.vm_count: int | None = None

        self._process: subprocess.Popen[str] | None = None
        self._tmpdir: str | None = None
        self._stderr_file = None
        self._serving = False

    # -- model ---------------------------------------------------------------------------

    @property
    def expected_vm_count(self) -> int:
        """VMs vcsim creates for this model: ``vm`` per standalone host, cluster and vApp.

        Cluster hosts (``host``) and child resource pools (``pool``) hold no model VMs.
        """
        m = self.model
        return m["dc"] * m["vm"] * (m["standalone_host"] + m["cluster"] * (1 + m["app"]))

    def command(self, binary: Path | str) -> list[str]:
        """Return the launcher's command line for the current settings."""
        args = [str(binary), "-listen", f"{self.listen_host}:{self.port}"]
        if self.tls:
            args.append("-tls")
        if self.strict_login:
            args += ["-username", self.username]  # the password goes in VCSIM_PASSWORD
        for key, value in self.model.items():
            args += [f"-{key.replace('_', '-')}", str(int(value))]
        if self.session_timeout is not None:
            args += ["-session-timeout", f"{float(self.session_timeout)}s"]
        if self.delay_ms is not None:
            args += ["-delay", str(int(self.delay_ms))]
        args += list(self.extra_args)
        return args

    # -- lifecycle -----------------------------------------------------------------------

    @property
    def running(self) -> bool:
        """Whether the simulator process is alive."""
        return self._process is not None and self._process.poll() is None

    def start(self) -> Simulator:
        """Build if needed, launch the simulator and wait until it serves.

        With a fixed port (after a first start, or ``port=`` given) a port still held by
        another process is retried for a few seconds.
        """
        if self.running:
            return self
        binary = build_binary()
        deadline = time.monotonic() + PORT_RETRY_SECONDS
        while True:
            try:
                self._launch(binary)
                return self
            except _PortBusyError:
                if self.port == 0 or time.monotonic() >= deadline:
                    raise
                logger.debug("vcsim port %s busy, retrying", self.port)
                time.sleep(0.2)

    def stop(self) -> None:
        """Terminate the simulator (kill after 10 s) and remove its temporary folder."""
        process, self._process = self._process, None
        if process is not None:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=STOP_TIMEOUT)
                except subprocess.TimeoutExpired:
                    logger.warning("vcsim pid %s ignored SIGTERM, killing it", process.pid)
                    process.kill()
                    process.wait()
            if process.stdout is not None:
                process.stdout.close()
            if self._serving:
                logger.info("vcsim at %s stopped", self.url)
        self._serving = False
        self._cleanup()

    def restart(self) -> Simulator:
        """Stop and start again on the same port, e.g. to make clients lose their sessions.

        The model is rebuilt from scratch: any change made through the API is gone. VM, host
        and network managed object ids come back the same; datastore ids do not (vcsim uses
        the datastore's temporary folder as its id).
        """
        self.stop()
        return self.start()

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = self.url if self.running else "stopped"
        return f"<Simulator {state}>"

    # -- internals -----------------------------------------------------------------------

    def _launch(self, binary: Path) -> None:
        self._tmpdir = tempfile.mkdtemp(prefix="kstack-vcsim-", dir=_temp_parent())
        stderr_path = os.path.join(self._tmpdir, "vcsim.stderr")
        self._stderr_file = open(stderr_path, "w+")  # closed in _cleanup
        env = {**os.environ, "TMPDIR": self._tmpdir}
        if self.strict_login:
            env["VCSIM_PASSWORD"] = self.password  # not on the command line: `ps` shows that
        args = self.command(binary)
        started = time.monotonic()
        logger.debug("starting vcsim: %s", " ".join(args))
        self._process = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self._stderr_file,
            text=True,
            env=env,
            cwd=self._tmpdir,
        )
        try:
            info = self._read_banner(self._process, started + self.start_timeout)
        except BaseException:
            self.stop()
            raise

        parts = urlsplit(info["URL"])
        self.url = info["URL"]
        self.protocol = parts.scheme
        self.host = parts.hostname or self.listen_host
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.datastore_dir = info.get("DATASTORE_DIR")
        self.datastore_dirs = dict(info["DATASTORES"])
        self.vm_count = int(info["VMS"]) if "VMS" in info else None
        self._serving = True
        logger.info(
            "vcsim serving %s (%s VMs) in %.1fs, pid %s",
            self.url,
            self.vm_count,
            time.monotonic() - started,
            self._process.pid,
        )

    def _read_banner(self, process: subprocess.Popen[str], deadline: float) -> dict:
        """Read ``KEY=value`` lines up to ``READY``; URL must be the first line."""
        lines: queue.Queue[str | None] = queue.Queue()

        def reader() -> None:
            assert process.stdout is not None
            for line in process.stdout:
                lines.put(line.rstrip("\n"))
                if line.startswith("READY"):
                    break
            lines.put(None)

        threading.Thread(target=reader, name="vcsim-banner", daemon=True).start()
        info: dict = {"DATASTORES": {}}
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self._fail(f"vcsim did not print its URL within {self.start_timeout:.0f}s")
            try:
                line = lines.get(timeout=min(remaining, 0.5))
            except queue.Empty:
                continue
            if line is None:
                self._fail(f"vcsim exited early with status {process.wait()}")
            if line == "READY":
                if "URL" not in info:
                    self._fail("vcsim printed no URL line")
                return info
            key, _, value = line.partition("=")
            if "URL" not in info and key != "URL":
                self._fail(f"vcsim's first line is not URL=...: {line!r}")
            if key == "DATASTORE":
                name, _, path = value.partition("=")
                info["DATASTORES"][name] = path
            else:
                info[key] = value

    def _stderr(self) -> str:
        if self._stderr_file is None:
            return ""
        self._stderr_file.flush()
        self._stderr_file.seek(0)
        return self._stderr_file.read().strip()

    def _fail(self, message: str) -> NoReturn:
        stderr = self._stderr()
        if "address already in use" in stderr:
            raise _PortBusyError(f"{message}; port {self.port} is in use:\n{stderr}")
        args = self.command("vcsim")
        raise RuntimeError(f"{message}; command: {' '.join(args)}\n{stderr}")

    def _cleanup(self) -> None:
        if self._stderr_file is not None:
            self._stderr_file.close()
            self._stderr_file = None
        if self._tmpdir is not None:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = None


class _PortBusyError(RuntimeError):
    """The requested port is held by another process."""
