"""A subprocess sandbox for model-written Python: namespaces where Linux allows, rlimits always.

    sandbox = PythonSandbox(SandboxLimits(wall_seconds=5))
    result = sandbox.run("print(2 ** 10)")
    result.output, result.ok, result.error   # '1024\\n', True, None

What it guarantees, per isolation mode, is in README.md ("Tool use: what the python sandbox
guarantees"); the security tests in tests/envs/test_tooluse_security.py check each claim.
"""

from __future__ import annotations

import json
import os
import selectors
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

_BOOT = Path(__file__).with_name("_sandbox_boot.py")
_SETUP_FAILED = 121
_MODES = ("auto", "namespace", "audit")


@dataclass(frozen=True)
class SandboxLimits:
    """Resource limits for one run of sandboxed code."""

    cpu_seconds: int = 5
    """CPU seconds per process (RLIMIT_CPU); a process over it gets SIGXCPU."""
    wall_seconds: float = 10.0
    """Wall-clock seconds before every process of the run is killed."""
    memory_mb: int = 512
    """Address space per process (RLIMIT_AS), MiB."""
    file_size_mb: int = 16
    """Largest file a process may write (RLIMIT_FSIZE), MiB."""
    tmpfs_mb: int = 32
    """Size of the writable /sandbox directory (namespace mode), MiB."""
    max_processes: int = 16
    """RLIMIT_NPROC: processes of the sandbox's user (nobody when run as root)."""
    max_open_files: int = 64
    """RLIMIT_NOFILE."""
    max_output_bytes: int = 4096
    """Output (stdout and stderr together) kept and returned; the rest is dropped."""
    kill_output_bytes: int = 1 << 20
    """A run that writes more than this is killed (it is flooding, not computing)."""

    def __post_init__(self) -> None:
        for name in ("cpu_seconds", "memory_mb", "file_size_mb", "tmpfs_mb", "max_processes",
                     "max_open_files", "max_output_bytes", "kill_output_bytes"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"SandboxLimits.{name} must be a positive int, got {value!r}")
        if not (isinstance(self.wall_seconds, (int, float)) and self.wall_seconds > 0):
            raise ValueError(f"SandboxLimits.wall_seconds must be > 0, got {self.wall_seconds!r}")


@dataclass
class SandboxResult:
    """What one run produced: output (truncated), exit status and, on failure, a one-line error."""

    output: str
    exit_code: int | None
    error: str | None = None
    truncated: bool = False
    timed_out: bool = False
    duration_s: float = 0.0
    mode: str = ""

    @property
    def ok(self) -> bool:
        return self.error is None


class SandboxUnavailable(RuntimeError):
    """The requested isolation mode cannot be set up on this machine."""


_probe_cache: dict[str, bool] = {}
_probe_error: list[str] = []


@dataclass
class PythonSandbox:
    """Runs Python code in a fresh, isolated, resource-limited process per call."""

    limits: SandboxLimits = field(default_factory=SandboxLimits)
    isolation: str = "auto"
    """'namespace' (fail if unavailable), 'audit' (the fallback) or 'auto' (namespace if it works)."""
    python_path: tuple[str, ...] = ()
    """Extra import directories (e.g. a site-packages) exposed read-only to the code."""

    def __post_init__(self) -> None:
        if self.isolation not in _MODES:
            raise ValueError(f"isolation must be one of {_MODES}, got {self.isolation!r}")
        self.python_path = tuple(os.path.realpath(p) for p in self.python_path)
        for p in self.python_path:
            if not os.path.isdir(p):
                raise ValueError(f"python_path entry {p!r} is not a directory")
            if p == "/" or p.split("/")[1] in ("proc", "sys", "dev", "sandbox"):
                raise ValueError(f"python_path entry {p!r} would expose system paths; name a library directory")

    @property
    def mode(self) -> str:
        """The isolation mode runs use: 'namespace' or 'audit'."""
        if self.isolation == "auto":
            if namespaces_available():
                return "namespace"
            if _probe_error and not _probe_error[-1].startswith("warned"):
                warnings.warn(f"python sandbox: namespaces unavailable ({_probe_error[-1]}); falling "
                              "back to the weaker audit-hook isolation (see README)", stacklevel=2)
                _probe_error.append("warned")
            return "audit"
        if self.isolation == "namespace" and not namespaces_available():
            raise SandboxUnavailable(
                "isolation='namespace' needs unshare(2) of user/mount/net/pid namespaces, which this "
                "machine refuses; use isolation='audit' (weaker, see README) or 'auto'")
        return self.isolation

    def run(self, code: str) -> SandboxResult:
        """Run `code` (a Python program) and return its output; never raises for bad code."""
        if not isinstance(code, str):
            raise TypeError(f"code must be a str, got {type(code).__name__}")
        return _run(code, self.limits, self.mode, self.python_path)


def namespaces_available() -> bool:
    """True when a namespace sandbox can be built here (probed once per process)."""
    if "namespace" not in _probe_cache:
        res = _run("print('ok')", SandboxLimits(wall_seconds=10), "namespace", ())
        _probe_cache["namespace"] = res.ok and res.output.strip() == "ok"
        if not _probe_cache["namespace"]:
            _probe_error.append(res.error or res.output.strip()[:200])
    return _probe_cache["namespace"]


def _readonly_dirs() -> list[str]:
    """The Python installation: what the interpreter needs to start and import the stdlib."""
    dirs = {os.path.realpath(sys.base_prefix), os.path.realpath(sysconfig.get_paths()["stdlib"])}
    exe = os.path.realpath(sys.executable)
    if not any(exe.startswith(d + "/") for d in dirs):
        dirs.add(os.path.dirname(exe))
    # /usr is mounted anyway; listing it again would hide nothing
    return sorted(d for d in dirs if not (d == "/usr" or d.startswith("/usr/")))


def _clean_env() -> dict[str, str]:
    return {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": "/sandbox", "TMPDIR": "/sandbox",
            "LANG": "C.UTF-8", "PYTHONIOENCODING": "utf-8", "PYTHONHASHSEED": "0"}


def _run(code: str, limits: SandboxLimits, mode: str, python_path: tuple[str, ...]) -> SandboxResult:
    t0 = time.perf_counter()
    base = tempfile.mkdtemp(prefix="stepgym-sbx-")
    try:
        work, root = os.path.join(base, "work"), os.path.join(base, "root")
        os.mkdir(work)
        os.mkdir(root)
        code_path = os.path.join(base, "code.py")
        with open(code_path, "w", encoding="utf-8") as f:
            f.write(code)
        env = _clean_env()
        if mode == "audit":
            env.update(HOME=work, TMPDIR=work)
            os.chmod(base, 0o711)  # nobody (the audit child's uid under root) must reach work/
        report_r, report_w = os.pipe()
        cfg = {
            "mode": mode, "code_path": code_path, "root": root, "work": work,
            "readonly": _readonly_dirs() + list(python_path), "pythonpath": list(python_path),
            "report_fd": report_w, "cpu_seconds": limits.cpu_seconds,
            "memory_mb": limits.memory_mb, "file_size_mb": limits.file_size_mb,
            "tmpfs_mb": limits.tmpfs_mb, "max_processes": limits.max_processes,
            "max_open_files": limits.max_open_files,
        }
        try:
            proc = subprocess.Popen(
                [os.path.realpath(sys.executable), "-I", "-S", "-B", str(_BOOT), json.dumps(cfg)],
                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                env=env, cwd=base, start_new_session=True, pass_fds=(report_w,), close_fds=True)
        finally:
            os.close(report_w)
        result = _supervise(proc, report_r, limits)
        result.mode = mode
        result.duration_s = time.perf_counter() - t0
        return result
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _supervise(proc: subprocess.Popen, report_r: int, limits: SandboxLimits) -> SandboxResult:
    """Collect output until exit, the wall-clock limit or an output flood; kill everything after."""
    deadline = time.monotonic() + limits.wall_seconds
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ, "out")
    sel.register(report_r, selectors.EVENT_READ, "report")
    kept, total, report, pidfd = bytearray(), 0, b"", None
    timed_out = flooded = False
    open_streams = 2
    try:
        while open_streams:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                timed_out = True
                break
            for key, _ in sel.select(timeout=min(remaining, 0.5)):
                chunk = os.read(key.fd, 65536)
                if not chunk:
                    sel.unregister(key.fileobj)
                    open_streams -= 1
                    continue
                if key.data == "report":
                    report += chunk
                    if report.endswith(b"\n") and pidfd is None:
                        pidfd = _pidfd(int(report))
                    continue
                total += len(chunk)
                if len(kept) < limits.max_output_bytes:
                    kept += chunk[: limits.max_output_bytes - len(kept)]
                if total > limits.kill_output_bytes:
                    flooded = True
                    break
            if flooded:
                break
    finally:
        _kill_all(proc, pidfd)
        sel.close()
        proc.stdout.close()
        os.close(report_r)
    exit_code = proc.returncode
    output = kept.decode("utf-8", errors="replace")
    truncated = total > len(kept)
    if truncated:
        output += f"\n[output truncated: {total - len(kept)} more bytes]"
    return SandboxResult(output=output, exit_code=exit_code, truncated=truncated, timed_out=timed_out,
                         error=_diagnose(output, exit_code, timed_out, flooded, limits))


def _pidfd(pid: int) -> int | None:
    try:
        return os.pidfd_open(pid)
    except (OSError, AttributeError):
        return None


def _kill_all(proc: subprocess.Popen, pidfd: int | None) -> None:
    """Kill the namespace's PID 1 (which takes every process in it along) and the process group."""
    if pidfd is not None:
        try:
            signal.pidfd_send_signal(pidfd, signal.SIGKILL)
        except OSError:
            pass
        os.close(pidfd)
    try:  # also after a normal exit: stragglers left in its group go too (the unreaped leader
        os.killpg(proc.pid, signal.SIGKILL)  # keeps the group id from being reused meanwhile)
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()


def _diagnose(output: str, code: int | None, timed_out: bool, flooded: bool,
              limits: SandboxLimits) -> str | None:
    """One line saying why a run failed, or None when it exited 0."""
    if timed_out:
        return f"wall-clock limit of {limits.wall_seconds:g} s reached; all its processes were killed"
    if flooded:
        return f"output limit: the program wrote more than {limits.kill_output_bytes} bytes and was killed"
    if code == 0:
        return None
    if code == _SETUP_FAILED and output.startswith("sandbox setup failed"):
        return output.strip().splitlines()[0]
    if code in (128 + signal.SIGXCPU, -signal.SIGXCPU):  # RLIMIT_CPU's soft limit
        return f"CPU time limit of {limits.cpu_seconds} s reached (killed)"
    last = output.strip().splitlines()[-1] if output.strip() else ""
    if "MemoryError" in last:
        return f"memory limit of {limits.memory_mb} MiB reached (MemoryError)"
    sig = -code if code is not None and code < 0 else (code - 128 if code and code > 128 else 0)
    if sig and "Traceback" not in output:
        try:
            return f"killed by signal {signal.Signals(sig).name}"
        except ValueError:
            return f"killed by signal {sig}"
    if last:
        return f"exit status {code}: {last[:200]}"
    return f"exit status {code}"
