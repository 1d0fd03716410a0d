"""Sandbox bootstrap: the first code the sandboxed interpreter runs (stdlib only, trusted).

Started by `stepgym.envs.tooluse.sandbox` as `python -I -S -B _sandbox_boot.py CONFIG_JSON`.
It isolates itself, then runs the untrusted code. Two modes:

namespace  unshare mount, network, PID, IPC and UTS namespaces (plus a user namespace when not
           root), build a fresh root on tmpfs holding only read-only bind mounts of /usr and the
           Python install plus a writable size-limited tmpfs at /sandbox, pivot into it, drop every
           privilege (root: become nobody; otherwise empty capability sets), then fork a PID-1
           reaper whose death kills every process left in the namespace, and a worker that sets
           rlimits and runs the code.
audit      fallback when namespaces are unavailable: rlimits, nobody (when root) and a Python audit
           hook that refuses sockets, process creation, signals, ctypes and file access outside
           the work directory. Audit hooks are not a security boundary against native code.
"""

import ast
import ctypes
import json
import linecache
import os
import resource
import signal
import sys
import traceback

CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x10000000, 0x20000000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
MS_NOATIME, MS_NODIRATIME, MS_RELATIME = 1024, 2048, 1 << 21
MNT_DETACH = 2
PR_SET_PDEATHSIG, PR_CAPBSET_DROP, PR_SET_NO_NEW_PRIVS = 1, 24, 38
NOBODY = 65534
SETUP_FAILED = 121  # exit status meaning "isolation could not be set up" (the parent falls back)

_libc = ctypes.CDLL(None, use_errno=True)


def _check(ret: int, what: str) -> None:
    if ret != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _enc(s):
    return None if s is None else s.encode()


def _mount(src, target, fstype, flags, data=None) -> None:
    enc = _enc
    _check(_libc.mount(enc(src), enc(target), enc(fstype), ctypes.c_ulong(flags), enc(data)),
           f"mount {src} -> {target}")


def _locked_flags(path: str) -> int:
    """Mount flags of `path` that a remount inside a user namespace must keep."""
    f = os.statvfs(path).f_flag
    out = 0
    for st, ms in ((os.ST_NOSUID, MS_NOSUID), (os.ST_NODEV, MS_NODEV), (os.ST_NOEXEC, MS_NOEXEC),
                   (os.ST_NOATIME, MS_NOATIME), (os.ST_NODIRATIME, MS_NODIRATIME),
                   (os.ST_RELATIME, MS_RELATIME)):
        if f & st:
            out |= ms
    return out


def _bind_ro(src: str, root: str) -> None:
    target = root + src
    if os.path.isdir(src):
        os.makedirs(target, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        open(target, "a").close()
    _mount(src, target, None, MS_BIND | MS_REC)
    flags = MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | _locked_flags(src)
    _mount(None, target, None, flags)


def _write(path: str, text: str) -> None:
    with open(path, "w") as f:
        f.write(text)


def _build_root(cfg: dict) -> None:
    """Fresh tmpfs root with read-only system dirs and a writable /sandbox; pivot into it."""
    root = cfg["root"]
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    _mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=755")
    for top in ("/bin", "/lib", "/lib64", "/sbin"):
        if os.path.islink(top):
            os.symlink(os.readlink(top), root + top)
        elif os.path.isdir(top):
            _bind_ro(top, root)
    for path in ["/usr", *cfg["readonly"]]:
        if os.path.exists(path) and not os.path.exists(root + path):
            _bind_ro(path, root)
    os.makedirs(root + "/dev")
    for dev in ("null", "zero", "urandom", "random"):
        open(root + "/dev/" + dev, "a").close()
        _mount("/dev/" + dev, root + "/dev/" + dev, None, MS_BIND)
    os.makedirs(root + "/sandbox")
    _mount("tmpfs", root + "/sandbox", "tmpfs", MS_NOSUID | MS_NODEV,
           f"size={cfg['tmpfs_mb']}m,mode=777")
    if not os.path.exists(root + "/tmp"):  # a read-only path may live under /tmp; TMPDIR is /sandbox
        os.symlink("/sandbox", root + "/tmp")
    os.chdir(root)
    # pivot_root(".", ".") stacks the old root under the new one; detaching it leaves no path back
    nr = {"x86_64": 155, "aarch64": 41}.get(os.uname().machine)
    if nr is not None and _libc.syscall(nr, b".", b".") == 0:
        _check(_libc.umount2(b".", MNT_DETACH), "umount old root")
    else:
        os.chroot(".")
    os.chdir("/")
    _mount(None, "/", None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)


def _drop_privileges(as_root: bool) -> None:
    """No capabilities, no way to regain any (no_new_privs), nobody's uid when we were root."""
    for cap in range(64):
        if _libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
            break
    _check(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(NO_NEW_PRIVS)")
    if as_root:
        os.setgroups([])
        os.setresgid(NOBODY, NOBODY, NOBODY)
        os.setresuid(NOBODY, NOBODY, NOBODY)
    else:
        class Header(ctypes.Structure):
            _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]
        data = (ctypes.c_uint32 * 6)()
        _check(_libc.capset(ctypes.byref(Header(0x20080522, 0)), data), "capset")


def _set_limits(cfg: dict) -> None:
    cpu = int(cfg["cpu_seconds"])
    mib = 1024 * 1024
    for res, soft, hard in (
        (resource.RLIMIT_CPU, cpu, cpu + 1),
        (resource.RLIMIT_AS, cfg["memory_mb"] * mib, cfg["memory_mb"] * mib),
        (resource.RLIMIT_FSIZE, cfg["file_size_mb"] * mib, cfg["file_size_mb"] * mib),
        (resource.RLIMIT_NPROC, cfg["max_processes"], cfg["max_processes"]),
        (resource.RLIMIT_NOFILE, cfg["max_open_files"], cfg["max_open_files"]),
        (resource.RLIMIT_CORE, 0, 0),
    ):
        resource.setrlimit(res, (soft, hard))


def _run_user_code(code: str) -> int:
    """Run `code` as __main__; echo the last expression's value like a REPL. Returns an exit status."""
    glb = {"__name__": "__main__", "__builtins__": __builtins__}
    linecache.cache["<python>"] = (len(code), None, code.splitlines(True), "<python>")  # for tracebacks
    try:
        tree = ast.parse(code, "<python>")
        last = None
        if tree.body and isinstance(tree.body[-1], ast.Expr):
            last = ast.Expression(tree.body.pop().value)
        exec(compile(tree, "<python>", "exec"), glb)
        if last is not None:
            value = eval(compile(last, "<python>", "eval"), glb)
            if value is not None:
                print(repr(value))
    except SystemExit as exc:
        if exc.code is None or isinstance(exc.code, int):
            return exc.code or 0
        sys.stdout.flush()
        sys.stderr.write(f"{exc.code}\n")  # like the interpreter: a non-int exit code is printed
        return 1
    except BaseException:
        etype, value, tb = sys.exc_info()
        try:
            sys.stdout.flush()  # what the code printed comes before its traceback
        except Exception:
            pass
        # hide the bootstrap's own frames (runner, audit hook): the model sees only its code's
        frames = [f for f in traceback.extract_tb(tb) if f.filename != __file__]
        sys.stderr.write("Traceback (most recent call last):\n" + "".join(traceback.format_list(frames))
                         + "".join(traceback.format_exception_only(etype, value)))
        return 1
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except Exception:
            pass
    return 0


def _status(wait_status: int) -> int:
    if os.WIFSIGNALED(wait_status):
        return 128 + os.WTERMSIG(wait_status)
    return os.WEXITSTATUS(wait_status)


def _reaper(worker: int) -> None:
    """PID 1 of the namespace: reap everything, exit with the worker's status (kills the rest)."""
    status = 1
    while True:
        try:
            pid, st = os.wait()
        except ChildProcessError:
            break
        if pid == worker:
            status = _status(st)
            break
    os._exit(status)


def run_namespace(cfg: dict, code: str) -> None:
    as_root = os.geteuid() == 0
    flags = CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS
    try:
        if not as_root:
            uid, gid = os.getuid(), os.getgid()
            _check(_libc.unshare(flags | CLONE_NEWUSER), "unshare")
            _write("/proc/self/setgroups", "deny")
            _write("/proc/self/uid_map", f"0 {uid} 1")
            _write("/proc/self/gid_map", f"0 {gid} 1")
        else:
            _check(_libc.unshare(flags), "unshare")
        _build_root(cfg)
        _drop_privileges(as_root)
    except OSError as exc:
        sys.stderr.write(f"sandbox setup failed: {exc}\n")
        os._exit(SETUP_FAILED)
    init = os.fork()
    if init:  # still outside the new PID namespace: report the reaper's pid, then wait for it
        os.write(cfg["report_fd"], f"{init}\n".encode())
        os.close(cfg["report_fd"])
        _, st = os.waitpid(init, 0)
        os._exit(_status(st))
    os.close(cfg["report_fd"])
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    worker = os.fork()
    if worker:
        _reaper(worker)
    os.chdir("/sandbox")
    sys.path[:] = [p for p in sys.path if p] + list(cfg["pythonpath"])
    _set_limits(cfg)
    os._exit(_run_user_code(code))


def _audit_hook_factory(work: str, readable: list, pythonpath: list):
    """A hook refusing network, processes, signals, native code and files outside `work`."""
    blocked_events = frozenset({
        "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork", "os.forkpty",
        "subprocess.Popen", "os.kill", "os.killpg", "os.setsid", "ctypes.dlopen", "ctypes.dlsym",
        "ctypes.cdata", "ctypes.call_function", "os.symlink", "os.link", "os.chroot",
        "sys.remote_exec", "_posixsubprocess.fork_exec", "pty.spawn",
        # ways to reach and rewrite this hook's own state
        "gc.get_objects", "gc.get_referrers", "gc.get_referents", "sys.addaudithook",
        "sys.settrace", "sys.setprofile", "sys._current_frames",
    })
    blocked_modules = frozenset({"ctypes", "_ctypes", "_posixsubprocess", "_xxsubinterpreters",
                                 "_testcapi", "_testinternalcapi", "pty", "fcntl", "mmap"})
    path_events = {"os.listdir": 0, "os.scandir": 0, "os.chdir": 0, "os.remove": 0, "os.rmdir": 0,
                   "os.rename": 0, "os.replace": 0, "os.mkdir": 0, "os.chmod": 0, "os.chown": 0,
                   "os.truncate": 0, "os.utime": 0, "shutil.copyfile": 0, "shutil.rmtree": 0,
                   "os.chflags": 0, "os.mkfifo": 0, "os.mknod": 0, "glob.glob": 0}
    write_events = frozenset({"os.remove", "os.rmdir", "os.rename", "os.replace", "os.mkdir",
                              "os.chmod", "os.chown", "os.truncate", "os.utime", "shutil.rmtree",
                              "os.mkfifo", "os.mknod"})
    getcwd, isinstance_, str_, bytes_, PermissionError_ = os.getcwd, isinstance, str, bytes, PermissionError
    write_roots = (work,)
    read_roots = (work, *readable, *pythonpath, "/dev/null", "/dev/urandom")
    wflags = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND

    def norm(path):
        if isinstance_(path, bytes_):
            path = path.decode("utf-8", "replace")
        if not isinstance_(path, str_):
            return None
        if not path.startswith("/"):
            path = getcwd() + "/" + path
        parts = []
        for part in path.split("/"):
            if part in ("", "."):
                continue
            if part == "..":
                if parts:
                    parts.pop()
            else:
                parts.append(part)
        return "/" + "/".join(parts)

    def inside(path, roots):
        for root in roots:
            if path == root or path.startswith(root.rstrip("/") + "/"):
                return True
        return False

    def hook(event, args):
        if event in blocked_events or event.startswith("socket."):
            raise PermissionError_(f"sandbox: {event} is not allowed")
        if event == "object.__setattr__" and args[1] in ("__code__", "__globals__", "__closure__"):
            raise PermissionError_(f"sandbox: setting {args[1]} is not allowed")
        if event == "import" and args[0].split(".")[0] in blocked_modules:
            raise PermissionError_(f"sandbox: importing {args[0]} is not allowed")
        if event == "open":
            path, mode, flags = args
            if isinstance_(path, int):
                return
            p = norm(path)
            writing = (isinstance_(mode, str_) and any(c in mode for c in "wax+")) or (
                isinstance_(flags, int) and flags & wflags)
            if p is None or not inside(p, write_roots if writing else read_roots):
                raise PermissionError_(f"sandbox: access to {path!r} is outside the sandbox")
        elif event in path_events:
            p = norm(args[0]) if args else None
            roots = write_roots if event in write_events else read_roots
            if args and isinstance_(args[0], int):
                return
            if p is None or not inside(p, roots):
                raise PermissionError_(f"sandbox: access to {args[0]!r} is outside the sandbox")

    return hook


PRELOAD = ("math", "cmath", "json", "re", "collections", "itertools", "functools", "fractions",
           "decimal", "statistics", "random", "datetime", "string", "heapq", "bisect", "textwrap",
           "operator", "numbers", "typing", "dataclasses", "enum", "copy", "pprint", "array",
           "calendar", "hashlib", "base64", "struct", "unicodedata", "io", "time", "tempfile",
           "threading", "pathlib", "shutil", "csv", "difflib", "glob", "queue", "contextlib",
           "secrets", "zlib", "gzip", "sqlite3", "locale", "warnings")


def _world_traversable(path: str) -> bool:
    while True:
        if not os.stat(path).st_mode & 0o001:
            return False
        if path == "/":
            return True
        path = os.path.dirname(path)


def run_audit(cfg: dict, code: str) -> None:
    work = cfg["work"]
    if os.geteuid() == 0:
        # nobody may be unable to reach the stdlib (e.g. a Python under /root): import the usual
        # modules while still root, so that they work after the switch
        if not all(_world_traversable(p) for p in sys.path if p and os.path.isdir(p)):
            for name in PRELOAD:
                try:
                    __import__(name)
                except ImportError:
                    pass
        os.chown(work, NOBODY, NOBODY)
        os.setgroups([])
        os.setresgid(NOBODY, NOBODY, NOBODY)
        os.setresuid(NOBODY, NOBODY, NOBODY)
    os.chdir(work)
    _libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    sys.path[:] = [p for p in sys.path if p] + list(cfg["pythonpath"])
    _set_limits(cfg)
    stdlib = [p for p in sys.path if p and os.path.isdir(p)]
    sys.addaudithook(_audit_hook_factory(work, stdlib + list(cfg["readonly"]), list(cfg["pythonpath"])))
    os._exit(_run_user_code(code))


def main() -> None:
    cfg = json.loads(sys.argv[1])
    with open(cfg["code_path"], encoding="utf-8") as f:
        code = f.read()
    if cfg["mode"] == "namespace":
        run_namespace(cfg, code)
    else:
        run_audit(cfg, code)


if __name__ == "__main__":
    main()
