"""Escape attempts through the `python` tool: each must be contained, reported as a tool error,
and leave the env (and this test process) working.

Runs every attack under each isolation mode this machine supports: `namespace` (skipped, with
the reason, where unshare is refused) and `audit` (the fallback, always). Network attacks only
aim at listeners this test opens on loopback.
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from pathlib import Path

import pytest

from stepgym.envs.tooluse import PythonSandbox, SandboxLimits, ToolUseEnv
from stepgym.envs.tooluse.sandbox import _BOOT, namespaces_available

ROOT = Path(__file__).resolve().parents[2]
SECRET = "stepgym-fake-secret-" + uuid.uuid4().hex
LIMITS = SandboxLimits(cpu_seconds=1, wall_seconds=2, memory_mb=256, file_size_mb=4, tmpfs_mb=16,
                       max_processes=12, max_open_files=32, max_output_bytes=2048,
                       kill_output_bytes=1 << 16)

MODES = [
    pytest.param("namespace", marks=pytest.mark.skipif(
        not namespaces_available(), reason="unshare of user/mount/net/pid namespaces refused here")),
    "audit",
]


@pytest.fixture(scope="module", params=MODES)
def mode_env(request):
    return ToolUseEnv(sandbox=PythonSandbox(LIMITS, isolation=request.param), max_steps=5)


@pytest.fixture
def env(mode_env):
    """One env per isolation mode, reset for each attack (the episode carries on after it)."""
    mode_env.reset(seed=0, options={"task_id": "arithmetic-000"})
    return mode_env


@pytest.fixture(autouse=True)
def _secret_in_parent_env(monkeypatch):
    monkeypatch.setenv("STEPGYM_FAKE_SECRET", SECRET)


def _sandbox_processes() -> list[int]:
    """Live processes started from the sandbox bootstrap (all sandboxed code runs in one)."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cmd = Path(f"/proc/{entry}/cmdline").read_bytes()
            state = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if str(_BOOT).encode() in cmd and state != "Z":
            pids.append(int(entry))
    return pids


def run_python(env: ToolUseEnv, code: str) -> tuple[str, dict]:
    obs, _, _, _, info = env.step({"name": "python", "arguments": {"code": code}})
    return obs["text"], info


def assert_contained(env: ToolUseEnv, text: str, info: dict, expect_error: bool = True) -> None:
    """The attack came back as a tool error; nothing of it survives; the env still works."""
    assert info["action_valid"], info["action_error"]
    if expect_error:
        assert "<tool_response>\nError: python:" in text, text
    deadline = time.monotonic() + 3
    while _sandbox_processes() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _sandbox_processes() == [], "sandboxed processes outlived the run"
    obs, _, _, _, info = env.step('<tool_call>{"name": "python", "arguments": {"code": "print(6 * 7)"}}</tool_call>'
                                  '<tool_call>{"name": "calculator", "arguments": {"expression": "2+2"}}</tool_call>')
    assert info["action_valid"]
    assert "<tool_response>\n42\n</tool_response>" in obs["text"]
    assert "<tool_response>\n4\n</tool_response>" in obs["text"]


@pytest.fixture
def tcp_listener():
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    srv.settimeout(0.3)
    yield srv
    srv.close()


def assert_no_connection(srv: socket.socket) -> None:
    with pytest.raises(socket.timeout):
        conn, _ = srv.accept()
        conn.close()


# -- network ---------------------------------------------------------------------------------
def test_tcp_connect_to_loopback_listener_fails(env, tcp_listener):
    port = tcp_listener.getsockname()[1]
    text, info = run_python(env, f"import socket\ns = socket.create_connection(('127.0.0.1', {port}), timeout=1)\ns.sendall(b'hi')")
    assert_no_connection(tcp_listener)
    assert_contained(env, text, info)


def test_raw_socket_connect_fails(env, tcp_listener):
    port = tcp_listener.getsockname()[1]
    text, info = run_python(env, f"import _socket\ns = _socket.socket(2, 1)\ns.connect(('127.0.0.1', {port}))")
    assert_no_connection(tcp_listener)
    assert_contained(env, text, info)


def test_udp_to_loopback_listener_is_not_delivered(env):
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(("127.0.0.1", 0))
    rx.settimeout(0.3)
    try:
        port = rx.getsockname()[1]
        text, info = run_python(env, f"import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
                                     f"s.sendto(b'leak', ('127.0.0.1', {port}))\ns.sendto(b'leak', ('127.0.0.1', {port}))")
        with pytest.raises(socket.timeout):
            rx.recvfrom(64)
    finally:
        rx.close()
    assert_contained(env, text, info)


def test_connect_through_subprocess_tool_fails(env, tcp_listener):
    port = tcp_listener.getsockname()[1]
    code = ("import subprocess, sys\nsubprocess.run([sys.executable, '-c', "
            f"\"import socket; socket.create_connection(('127.0.0.1', {port}), timeout=1)\"], check=True)")
    text, info = run_python(env, code)
    assert_no_connection(tcp_listener)
    assert_contained(env, text, info)


# -- files -----------------------------------------------------------------------------------
def test_read_etc_passwd_fails(env):
    text, info = run_python(env, "print(open('/etc/passwd').read())")
    assert "root:" not in text
    assert_contained(env, text, info)


def test_read_project_file_fails(env):
    text, info = run_python(env, f"print(open({str(ROOT / 'pyproject.toml')!r}).read())")
    assert "[project]" not in text
    assert_contained(env, text, info)


def test_list_project_directory_fails(env):
    text, info = run_python(env, f"import os\nprint(os.listdir({str(ROOT)!r}))")
    assert "pyproject.toml" not in text
    assert_contained(env, text, info)


def test_write_outside_sandbox_fails(env, tmp_path):
    target = tmp_path / "escaped.txt"
    text, info = run_python(env, f"open({str(target)!r}, 'w').write('escaped')")
    assert not target.exists()
    assert_contained(env, text, info)


def test_write_into_system_directory_fails(env):
    name = f"/usr/lib/stepgym-escape-{uuid.uuid4().hex}"
    text, info = run_python(env, f"open({name!r}, 'w').write('x')")
    assert not os.path.exists(name)
    assert_contained(env, text, info)


def test_symlink_to_etc_passwd_fails(env):
    text, info = run_python(env, "import os\nos.symlink('/etc/passwd', 'p')\nprint(open('p').read())")
    assert "root:" not in text
    assert_contained(env, text, info)


def test_chroot_escape_fails(env):
    code = ("import os\nos.mkdir('jail')\nos.chroot('jail')\nfor _ in range(20):\n    os.chdir('..')\n"
            "os.chroot('.')\nprint(open('/etc/passwd').read())")
    text, info = run_python(env, code)
    assert "root:" not in text
    assert_contained(env, text, info)


def test_mount_syscall_fails(env):
    code = ("import ctypes, os\nlibc = ctypes.CDLL(None, use_errno=True)\nos.mkdir('m')\n"
            "r = libc.mount(b'/', b'm', None, 4096 | 16384, None)\n"
            "assert r == 0, f'mount refused, errno {ctypes.get_errno()}'\nprint(os.listdir('m/etc'))")
    text, info = run_python(env, code)
    assert "passwd" not in text
    assert_contained(env, text, info)


def test_rewriting_the_audit_hook_fails(env):
    code = ("import gc\nfor f in gc.get_objects():\n"
            "    if getattr(f, '__name__', '') == 'hook' and f.__closure__:\n"
            "        for c in f.__closure__:\n"
            "            if isinstance(c.cell_contents, tuple):\n"
            "                c.cell_contents = ('/',)\n"
            "print(open('/etc/passwd').read())")
    text, info = run_python(env, code)
    assert "root:" not in text
    assert_contained(env, text, info)


def test_read_files_through_cat_fails(env):
    text, info = run_python(env, "import subprocess\nprint(subprocess.check_output(['cat', '/etc/passwd']).decode())")
    assert "root:" not in text
    assert_contained(env, text, info)


# -- secrets and other processes -------------------------------------------------------------
def test_environment_secret_is_not_visible(env):
    assert os.environ["STEPGYM_FAKE_SECRET"] == SECRET
    text, info = run_python(env, "import os\nprint(dict(os.environ))\nprint(os.environ['STEPGYM_FAKE_SECRET'])")
    assert SECRET not in text
    assert_contained(env, text, info)


def test_parent_environ_via_proc_is_not_readable(env):
    code = f"import os\nfor pid in ({os.getpid()}, os.getppid()):\n    print(open(f'/proc/{{pid}}/environ').read())"
    text, info = run_python(env, code)
    assert SECRET not in text
    assert_contained(env, text, info)


def test_killing_the_parent_fails(env):
    code = f"import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\nos.kill({os.getpid()}, signal.SIGKILL)"
    text, info = run_python(env, code)
    assert_contained(env, text, info)  # and this test process is still alive to check it


def test_kill_every_process_fails(env):
    text, info = run_python(env, "import os, signal\nos.kill(-1, signal.SIGKILL)\nimport time; time.sleep(0.2)\nraise SystemExit('survived')")
    assert_contained(env, text, info)


def test_setuid_root_fails(env):
    text, info = run_python(env, "import os\nos.setuid(0)\nprint(open('/etc/shadow').read())")
    assert_contained(env, text, info)


# -- resources -------------------------------------------------------------------------------
def test_fork_bomb_is_killed(env):
    code = "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass"
    text, info = run_python(env, code)
    assert_contained(env, text, info)


def test_thread_bomb_is_stopped(env):
    code = ("import threading, time\nts = []\nfor _ in range(100000):\n"
            "    t = threading.Thread(target=time.sleep, args=(60,), daemon=True)\n    t.start()\n    ts.append(t)")
    text, info = run_python(env, code)
    assert_contained(env, text, info)


def test_memory_bomb_is_stopped(env):
    text, info = run_python(env, "x = []\nwhile True:\n    x.append(bytes(10 ** 8))")
    assert "memory limit" in text or "wall-clock" in text
    assert_contained(env, text, info)


def test_infinite_loop_hits_cpu_limit(env):
    text, info = run_python(env, "while True:\n    pass")
    assert "CPU time limit" in text or "wall-clock limit" in text
    assert_contained(env, text, info)


def test_sleeping_forever_hits_wall_clock_limit(env):
    text, info = run_python(env, "import time\ntime.sleep(1000)")
    assert "wall-clock limit of 2 s" in text
    assert_contained(env, text, info)


def test_background_process_does_not_outlive_the_call(env):
    code = "import os, time\nif os.fork() == 0:\n    os.setsid()\n    time.sleep(60)\nraise SystemExit('parent exits')"
    text, info = run_python(env, code)
    assert_contained(env, text, info)


def test_huge_output_is_truncated_and_stopped(env):
    text, info = run_python(env, "while True:\n    print('x' * 1000)")
    assert "output limit" in text
    assert len(text) < 4 * LIMITS.max_output_bytes
    assert_contained(env, text, info)


def test_huge_file_hits_file_size_limit(env):
    text, info = run_python(env, "with open('big', 'wb') as f:\n    for _ in range(100):\n        f.write(b'0' * 2 ** 20)")
    assert "File too large" in text or "No space left" in text
    assert_contained(env, text, info)


def test_file_descriptor_exhaustion_is_stopped(env):
    text, info = run_python(env, "fs = [open(f'f{i}', 'w') for i in range(10000)]")
    assert "Too many open files" in text
    assert_contained(env, text, info)


def test_tool_output_is_truncated_to_the_configured_size(env):
    text, info = run_python(env, "print('y' * 50000)")
    assert info["action_valid"]
    response = text.split("<tool_response>")[1].split("</tool_response>")[0]
    assert "[output truncated" in response
    assert response.strip().splitlines()[0] == "y" * LIMITS.max_output_bytes
