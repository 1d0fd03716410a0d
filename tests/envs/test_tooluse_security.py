"""Escape attempts through the `python` tool: each must be contained, reported as a tool error,
and leave the env (and this test process) working.

Runs every attack under each isolation mode this machine supports: `namespace` (skipped, with
the reason, where unshare is refused) and `audit` (the fallback, always). Network attacks only
aim at listeners this test opens on loopback.
"""

from __future__ import annotations

import contextlib
import dataclasses
import dis
import os
import shutil
import socket
import stat
import subprocess
import tempfile
import time
import types
import uuid
from pathlib import Path

import pytest

from stepgym.envs.tooluse import PythonSandbox, SandboxLimits, ToolUseEnv
from stepgym.envs.tooluse._sandbox_boot import _audit_hook_factory
from stepgym.envs.tooluse.sandbox import _BOOT, namespaces_available

ROOT = Path(__file__).resolve().parents[2]
SECRET = "stepgym-fake-secret-" + uuid.uuid4().hex
# wall_seconds is generous: a loaded 2-core machine can take seconds to start an audited interpreter,
# and a containment test must fail on a breach, not on a slow start; the wall-clock test uses 2 s
LIMITS = SandboxLimits(cpu_seconds=1, wall_seconds=20, memory_mb=256, file_size_mb=4, tmpfs_mb=16,
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


@pytest.fixture(scope="module", autouse=True)
def _own_sandbox_tmpdir():
    """Sandboxes of this module make their directories in one of its own, so that counting
    leftover processes does not count those of tests running beside it (pytest -n)."""
    top = tempfile.mkdtemp(prefix="stepgym-sec-", dir="/tmp")
    os.chmod(top, 0o711)  # nobody (the audit-mode user under root) must reach its work dirs
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(tempfile, "tempdir", top)
        yield top
    shutil.rmtree(top, ignore_errors=True)


def _sandbox_processes() -> list[int]:
    """Live processes started from the sandbox bootstrap by this module (all sandboxed code runs
    in one; its command line names its directory)."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cmd = Path(f"/proc/{entry}/cmdline").read_bytes()
            state = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if str(_BOOT).encode() in cmd and tempfile.tempdir.encode() in cmd and state != "Z":
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


# -- file operations outside the work directory ----------------------------------------------
NOBODY = 65534


@pytest.fixture
def marker():
    """A directory outside the work dir that the sandbox's user could change if nothing stopped
    it: world-writable, its entries owned by that user (nobody when these tests run as root)."""
    top = Path(tempfile.mkdtemp(prefix="stepgym-marker-", dir="/tmp"))
    (top / "keep.txt").write_text("keep")
    (top / "empty").mkdir()
    (top / "sub").mkdir()
    (top / "sub" / "inner.txt").write_text("inner")
    for path, mode in ((top, 0o777), (top / "keep.txt", 0o664), (top / "empty", 0o777),
                       (top / "sub", 0o777), (top / "sub" / "inner.txt", 0o664)):
        os.chmod(path, mode)
        if os.geteuid() == 0:
            os.chown(path, NOBODY, 0)  # group root, so a chgrp to nobody's group would show
    os.utime(top / "keep.txt", (1_000_000, 1_000_000))
    yield top
    shutil.rmtree(top, ignore_errors=True)


def listing(top: Path) -> dict:
    """Every entry under `top` (itself included): type, mode, owner, size, mtime and contents."""
    out = {}
    for path in [top, *sorted(top.rglob("*"))]:
        st = path.lstat()
        body = path.read_bytes() if path.is_file() and not path.is_symlink() else None
        out[str(path.relative_to(top))] = (stat.S_IFMT(st.st_mode), stat.S_IMODE(st.st_mode), st.st_uid,
                                           st.st_gid, st.st_size, st.st_mtime_ns, body)
    return out


PRELUDE = "import os, pathlib, shutil, tempfile\nM = {marker!r}\nopen('staged.txt', 'w').write('staged')\n"
# one attempt per path-taking call (M is the marker); each must fail and leave M as it was
OUTSIDE_ATTEMPTS = {
    "rename_into": "os.rename('staged.txt', M + '/x')",
    "replace_over": "os.replace('staged.txt', M + '/keep.txt')",
    "rename_out_of": "os.rename(M + '/keep.txt', 'stolen')",
    "rename_dir_out_of": "os.rename(M + '/sub', 'sub')",
    "link_into": "os.link('staged.txt', M + '/x')",
    "link_out_of_then_write": "os.link(M + '/keep.txt', 'l')\nopen('l', 'w').write('changed')",
    "symlink_into": "os.symlink('staged.txt', M + '/s')",
    "symlink_out_then_write": "os.symlink(M, 'out')\nopen('out/x', 'w').write('x')",
    "mkdir": "os.mkdir(M + '/new')",
    "makedirs": "os.makedirs(M + '/a/b')",
    "rmdir": "os.rmdir(M + '/empty')",
    "remove": "os.remove(M + '/keep.txt')",
    "unlink": "os.unlink(M + '/keep.txt')",
    "chmod": "os.chmod(M + '/keep.txt', 0o600)",
    "chown": "os.chown(M + '/keep.txt', os.getuid(), os.getgid())",
    "lchown": "os.lchown(M + '/keep.txt', os.getuid(), os.getgid())",
    "utime": "os.utime(M + '/keep.txt', (0, 0))",
    "truncate": "os.truncate(M + '/keep.txt', 0)",
    "setxattr": "os.setxattr(M + '/keep.txt', 'user.x', b'1')",
    "dotdot_path": "os.rename('staged.txt', os.getcwd() + '/..' * 12 + M + '/x')",
    "relative_path_after_chdir": "os.makedirs('a/b')\nos.chdir('a/b')\n"
                                 "os.rename('../../staged.txt', os.path.relpath(M + '/x'))",
    "chdir_then_mkdir": "os.chdir(M)\nos.mkdir('x')",
    # *at forms: M is readable (a python_path entry), so an fd of it can be had
    "mkdir_at": "d = os.open(M, os.O_RDONLY)\nos.mkdir('x', dir_fd=d)",
    "rename_at": "d = os.open(M, os.O_RDONLY)\nos.rename('staged.txt', 'x', dst_dir_fd=d)",
    "rename_out_at": "d = os.open(M, os.O_RDONLY)\nos.rename('keep.txt', os.getcwd() + '/s', src_dir_fd=d)",
    "link_at": "d = os.open(M, os.O_RDONLY)\nos.link('staged.txt', 'x', dst_dir_fd=d)",
    "remove_at": "d = os.open(M, os.O_RDONLY)\nos.remove('keep.txt', dir_fd=d)",
    "rmdir_at": "d = os.open(M, os.O_RDONLY)\nos.rmdir('empty', dir_fd=d)",
    "chmod_at": "d = os.open(M, os.O_RDONLY)\nos.chmod('keep.txt', 0o600, dir_fd=d)",
    "chown_at": "d = os.open(M, os.O_RDONLY)\nos.chown('keep.txt', os.getuid(), os.getgid(), dir_fd=d)",
    "utime_at": "d = os.open(M, os.O_RDONLY)\nos.utime('keep.txt', (0, 0), dir_fd=d)",
    "open_new_at": "d = os.open(M, os.O_RDONLY)\nos.open('x', os.O_CREAT | os.O_WRONLY, dir_fd=d)",
    "open_existing_at": "d = os.open(M, os.O_RDONLY)\n"
                        "os.write(os.open('keep.txt', os.O_WRONLY | os.O_TRUNC, dir_fd=d), b'changed')",
    # relative to the cwd this path stays in the work dir; relative to the fd's directory it does not
    "open_at_work_fd_from_deeper_cwd": "w = os.open('.', os.O_RDONLY)\nrel = os.path.relpath(M + '/x')\n"
                                       "os.makedirs('a/b/c/d/e/f/g/h')\nos.chdir('a/b/c/d/e/f/g/h')\n"
                                       "os.open(rel, os.O_CREAT | os.O_WRONLY, dir_fd=w)",
    # fd forms, on a read-only fd of a marker file
    "fchmod": "os.fchmod(os.open(M + '/keep.txt', os.O_RDONLY), 0o600)",
    "fchown": "os.fchown(os.open(M + '/keep.txt', os.O_RDONLY), os.getuid(), os.getgid())",
    "futime": "os.utime(os.open(M + '/keep.txt', os.O_RDONLY), (0, 0))",
    "ftruncate": "os.ftruncate(os.open(M + '/keep.txt', os.O_RDONLY), 0)",
    # shutil, pathlib and tempfile helpers (they reduce to the calls above)
    "shutil_move_into": "shutil.move('staged.txt', M + '/x')",
    "shutil_move_out_of": "shutil.move(M + '/keep.txt', 'stolen')",
    "shutil_copyfile": "shutil.copyfile('staged.txt', M + '/keep.txt')",
    "shutil_copy_into_dir": "shutil.copy('staged.txt', M)",
    "shutil_copymode": "shutil.copymode('staged.txt', M + '/keep.txt')",
    "shutil_copystat": "shutil.copystat('staged.txt', M + '/keep.txt')",
    "shutil_copytree": "os.mkdir('t')\nshutil.copytree('t', M + '/t')",
    "shutil_rmtree": "shutil.rmtree(M + '/sub')",
    "shutil_chown": "shutil.chown(M + '/keep.txt', group=os.getgid())",
    "pathlib_rename": "pathlib.Path('staged.txt').rename(M + '/x')",
    "pathlib_touch": "pathlib.Path(M + '/keep.txt').touch()",
    "tempfile_mkstemp": "tempfile.mkstemp(dir=M)",
    "tempfile_mkdtemp": "tempfile.mkdtemp(dir=M)",
    # first fool or rewrite what the check relies on, then move a file out
    "bytes_paths": "os.rename(b'staged.txt', (M + '/x').encode())",
    "str_subclass_path": "class S(str):\n    def startswith(self, *a):\n        return False\n"
                         "    def split(self, *a):\n        return ['x']\n    def __eq__(self, o):\n        return True\n"
                         "    __hash__ = str.__hash__\nos.rename('staged.txt', S(M + '/x'))",
    "int_subclass_fd": "class I(int):\n    def __index__(self):\n        return 1\n"
                       "    def __format__(self, spec):\n        return '1'\n"
                       "os.fchmod(I(os.open(M + '/keep.txt', os.O_RDONLY)), 0o600)",
    "rebound_os_functions": "import stat\nW = os.getcwd()\n"
                            "os.lstat = lambda p, *a, **k: os.stat_result((stat.S_IFLNK | 0o777,) + (0,) * 9)\n"
                            "os.readlink = lambda p, *a, **k: W\nos.getcwd = lambda: W\nos.fsdecode = lambda p: W\n"
                            "os.path.realpath = lambda p, *a, **k: W\nos.rename('staged.txt', M + '/x')",
    "rebound_stat_result": "os.stat_result.st_mode = property(lambda s: 0o120777)\n"
                           "os.rename('staged.txt', M + '/x')",
    "rebound_builtins": "import builtins\nbuiltins.any = lambda it: False\nbuiltins.all = lambda it: True\n"
                        "builtins.repr = lambda o: ''\nos.rename('staged.txt', M + '/x')",
    "rebound_boot_globals": "import sys\nboot = vars(sys.modules['__main__'])\n"
                            "for k, v in list(boot.items()):\n    if k.startswith('_') and callable(v):\n"
                            "        boot[k] = lambda *a, **k: True\n    elif isinstance(v, (dict, frozenset, tuple)):\n"
                            "        boot[k] = type(v)()\nos.rename('staged.txt', M + '/x')",
    "rewrite_hook_state_from_traceback": (
        "try:\n    open('/etc/passwd')\nexcept PermissionError as e:\n    tb = e.__traceback__\n"
        "while tb:\n    for v in list(tb.tb_frame.f_locals.values()):\n"
        "        for c in getattr(v, '__closure__', None) or ():\n            c.cell_contents = ('/',)\n"
        "        for d in getattr(v, '__defaults__', None) or ():\n"
        "            if isinstance(d, (dict, list, set)):\n                d.clear()\n"
        "        try:\n            v.__defaults__ = None\n        except Exception:\n            pass\n"
        "    tb = tb.tb_next\nos.rename('staged.txt', M + '/x')"),
}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("attempt", sorted(OUTSIDE_ATTEMPTS))
def test_file_outside_cannot_be_created_moved_or_changed(mode, attempt, marker):
    before = listing(marker)
    box = PythonSandbox(LIMITS, isolation=mode, python_path=(str(marker),))
    res = box.run(PRELUDE.format(marker=str(marker)) + OUTSIDE_ATTEMPTS[attempt])
    assert listing(marker) == before
    assert not res.ok, res.output
    if mode == "audit":  # refused by the hook, not merely by file permissions
        assert "PermissionError: sandbox:" in res.output, res.output


def test_replace_into_an_unreadable_outside_directory_fails(marker):
    before = listing(marker)
    res = PythonSandbox(LIMITS, isolation="audit").run(
        f"open('staged.txt', 'w').write('x')\nimport os\nos.replace('staged.txt', {str(marker / 'x')!r})")
    assert listing(marker) == before
    assert "PermissionError: sandbox:" in res.output, res.output


@pytest.mark.parametrize("mode", [*MODES[:1], pytest.param("audit", marks=pytest.mark.xfail(
    strict=True, reason="os.mkfifo and os.mknod raise no audit event (README: not covered)"))])
def test_mkfifo_and_mknod_outside_fail(mode, marker):
    box = PythonSandbox(LIMITS, isolation=mode)
    res = box.run(f"import os, stat\nos.mkfifo({str(marker / 'fifo')!r})\n"
                  f"os.mknod({str(marker / 'node')!r}, 0o644 | stat.S_IFREG)")
    assert not res.ok
    assert sorted(os.listdir(marker)) == ["empty", "keep.txt", "sub"]


INSIDE_PROGRAM = """\
import os, pathlib, shutil, tempfile
open('a.txt', 'w').write('hello')
os.rename('a.txt', 'b.txt')
os.replace('b.txt', 'c.txt')
os.link('c.txt', 'hard.txt')
os.makedirs('d/e')
os.mkdir('gone')
os.rmdir('gone')
os.chmod('c.txt', 0o600)
os.chown('c.txt', os.getuid(), os.getgid())
os.utime('c.txt', (1_700_000_000, 1_700_000_000))
open('t.txt', 'w').write('long text')
os.truncate('t.txt', 4)
fd = os.open('t.txt', os.O_RDWR)
os.ftruncate(fd, 2)
os.fchmod(fd, 0o640)
os.utime(fd, (1_700_000_100, 1_700_000_100))
os.close(fd)
d = os.open('d', os.O_RDONLY)
os.mkdir('at', dir_fd=d)
os.close(os.open('new.txt', os.O_CREAT | os.O_WRONLY, dir_fd=d))
os.rename('new.txt', 'moved.txt', src_dir_fd=d, dst_dir_fd=d)
os.chmod('moved.txt', 0o604, dir_fd=d)
os.utime('moved.txt', (1_700_000_200, 1_700_000_200), dir_fd=d)
os.link('moved.txt', 'linked.txt', src_dir_fd=d, dst_dir_fd=d)
os.remove('linked.txt', dir_fd=d)
os.rmdir('at', dir_fd=d)
os.chdir('d/e')
open('../../deep.txt', 'w').write('up')
os.rename('../../deep.txt', '../deep.txt')
os.chdir('../..')
shutil.copyfile('c.txt', 'copy.txt')
shutil.copy2('c.txt', 'copy2.txt')
shutil.copytree('d', 'tree')
shutil.move('tree', 'tree2')
shutil.rmtree('tree2')
pathlib.Path('p.txt').write_text('p')
pathlib.Path('p.txt').rename('q.txt')
pathlib.Path('q.txt').unlink()
tempfile.mkdtemp(dir='.', prefix='tmpdir')
os.remove('hard.txt')
for root, dirs, files in os.walk('.'):
    dirs.sort()
    for name in sorted(files):
        print(os.path.join(root, name), repr(open(os.path.join(root, name)).read()))
    for name in dirs:
        print(os.path.join(root, 'tmpdir*' if name.startswith('tmpdir') else name) + '/')
for name in ('c.txt', 'copy2.txt', 't.txt', 'd/moved.txt'):
    st = os.stat(name)
    print(name, oct(st.st_mode & 0o777), int(st.st_mtime))
"""


@pytest.mark.parametrize("mode", MODES)
def test_the_same_operations_inside_the_work_dir_work(mode):
    res = PythonSandbox(LIMITS, isolation=mode).run(INSIDE_PROGRAM)
    assert res.ok, res.output
    assert res.output.splitlines() == [
        "./c.txt 'hello'", "./copy.txt 'hello'", "./copy2.txt 'hello'", "./t.txt 'lo'", "./d/", "./tmpdir*/",
        "./d/deep.txt 'up'", "./d/moved.txt ''", "./d/e/",
        "c.txt 0o600 1700000000", "copy2.txt 0o600 1700000000", "t.txt 0o640 1700000100",
        "d/moved.txt 0o604 1700000200",
    ]


@pytest.fixture
def audit_hook(tmp_path, marker):
    """The audit hook itself, called directly (not installed) on a work dir that holds a symlink
    to the marker: such a link cannot be made from inside, but the check must not rely on that."""
    work = tmp_path / "work"
    (work / "sub").mkdir(parents=True)
    (work / "out").symlink_to(marker)
    (work / "f.txt").write_text("x")
    return work, _audit_hook_factory(str(work), [], [])


def refused(hook, event: str, *args) -> bool:
    try:
        hook(event, args)
    except PermissionError as exc:
        assert str(exc).startswith("sandbox:")
        return True
    return False


def test_audit_hook_resolves_symlinks_and_dotdot(audit_hook, marker, monkeypatch):
    work, hook = audit_hook
    wr = os.O_WRONLY | os.O_CREAT
    assert refused(hook, "open", f"{work}/out/x", "w", wr)           # writing through the link
    assert refused(hook, "os.chmod", f"{work}/out", 0o600, -1)        # chmod follows it
    assert refused(hook, "os.rename", f"{work}/f.txt", f"{work}/out/x", -1, -1)
    assert refused(hook, "os.mkdir", f"{work}/sub/../../x", 0o777, -1)
    assert not refused(hook, "os.remove", f"{work}/out", -1)          # the link itself is inside
    assert not refused(hook, "os.rename", f"{work}/out", f"{work}/sub/out", -1, -1)
    assert not refused(hook, "os.mkdir", f"{work}/sub/../y", 0o777, -1)
    monkeypatch.chdir(work / "sub")
    assert refused(hook, "os.mkdir", "../../x", 0o777, -1)
    assert refused(hook, "os.rename", "../f.txt", "../out/f.txt", -1, -1)
    assert not refused(hook, "os.rename", "../f.txt", "g.txt", -1, -1)
    assert not refused(hook, "os.listdir", None)                       # os.listdir(): the cwd


def test_audit_hook_resolves_dir_fds(audit_hook, marker, monkeypatch):
    work, hook = audit_hook
    monkeypatch.chdir(work)
    closed = os.open(work, os.O_RDONLY)
    os.close(closed)
    assert refused(hook, "os.mkdir", "x", 0o777, closed)                 # an fd that names nothing
    assert refused(hook, "os.mkdir", "x", 0o777, 1)                      # nor does a pipe or a tty
    with dir_fd(work / "sub") as inside:
        with dir_fd(marker) as outside:
            assert refused(hook, "os.mkdir", "x", 0o777, outside)
            assert refused(hook, "os.rename", "f.txt", "x", inside, outside)
            assert not refused(hook, "os.rename", "../f.txt", "x", inside, inside)
            assert refused(hook, "os.remove", "../../x", inside)
            assert not refused(hook, "os.mkdir", f"{work}/x", 0o777, outside)  # absolute: fd unused
            assert refused(hook, "os.chmod", outside, 0o700, -1)             # fchmod of the fd itself
            # os.open's event leaves out its dir_fd: a relative path must stay inside from every
            # directory an open fd names
            assert not refused(hook, "open", f"{work}/new", None, os.O_WRONLY | os.O_CREAT)
            assert refused(hook, "open", "new", None, os.O_WRONLY | os.O_CREAT)
            assert not refused(hook, "open", "new", "w", os.O_WRONLY | os.O_CREAT)  # open(): no dir_fd
        assert not refused(hook, "open", "new", None, os.O_WRONLY | os.O_CREAT)
        assert refused(hook, "open", "../../x", None, os.O_RDONLY)         # from sub/ it leaves work


@contextlib.contextmanager
def dir_fd(path: Path):
    fd = os.open(path, os.O_RDONLY)
    try:
        yield fd
    finally:
        os.close(fd)


def test_audit_hook_holds_nothing_the_code_could_rebind(tmp_path):
    """The hook and all it calls read no global, builtin or closure cell, and their defaults are
    immutable: rebinding os.lstat, builtins.any or the boot module's names, or reaching these
    functions through a traceback's frames, cannot change a check."""
    seen, todo = set(), [_audit_hook_factory(str(tmp_path), [], [])]
    while todo:
        fn = todo.pop()
        if id(fn) in seen:
            continue
        seen.add(id(fn))
        assert fn.__closure__ is None and fn.__kwdefaults__ is None, fn
        codes = [fn.__code__]
        while codes:
            code = codes.pop()
            codes += [c for c in code.co_consts if isinstance(c, types.CodeType)]
            loads = {i.opname for i in dis.get_instructions(code)} & {
                "LOAD_GLOBAL", "LOAD_NAME", "LOAD_DEREF", "LOAD_CLASSDEREF", "LOAD_CLOSURE"}
            assert not loads, f"{fn.__qualname__} reads {loads}"
        values = list(fn.__defaults__ or ())
        while values:
            value = values.pop()
            if isinstance(value, types.FunctionType):
                todo.append(value)
            elif isinstance(value, (tuple, frozenset)):
                values += list(value)
            elif isinstance(value, types.MappingProxyType):
                values += list(value.keys()) + list(value.values())
            elif isinstance(value, type):
                assert value.__module__ == "builtins", value
            else:
                assert isinstance(value, (str, bytes, int, type(None), slice, types.BuiltinFunctionType,
                                          types.MethodDescriptorType, types.WrapperDescriptorType)), (fn, value)
    assert len(seen) >= 6  # hook, check_open, refuse, _resolve, _walk, _exact, ...


@pytest.mark.parametrize("mode", MODES)
def test_naming_a_pid_to_the_supervisor_kills_nothing(mode):
    victim = subprocess.Popen(["sleep", "30"])
    try:  # the supervisor kills the pid its report pipe names; the code must not reach that pipe
        code = (f"import os\nfor fd in range(3, 64):\n    try:\n        os.write(fd, b'{victim.pid}\\n')\n"
                "    except OSError:\n        pass")
        PythonSandbox(LIMITS, isolation=mode).run(code)
        assert victim.poll() is None, "the sandbox got a process outside killed"
    finally:
        victim.kill()
        victim.wait()


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


@pytest.mark.parametrize("mode", MODES)
def test_sleeping_forever_hits_wall_clock_limit(mode):
    short = ToolUseEnv(sandbox=PythonSandbox(dataclasses.replace(LIMITS, wall_seconds=2), isolation=mode), max_steps=5)
    short.reset(seed=0, options={"task_id": "arithmetic-000"})
    text, info = run_python(short, "import time\ntime.sleep(1000)")
    assert "wall-clock limit of 2 s" in text
    assert_contained(short, text, info)


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
