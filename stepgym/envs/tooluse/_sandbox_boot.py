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
           hook that refuses sockets, process creation, signals, ctypes, symlinks, and every
           file operation whose path (or dir_fd, or fd) leads outside the work directory (reads
           of the Python install excepted). Audit hooks are not a security boundary against
           native code.
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
import types

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


# Audit events (CPython 3.11) that name a file-system path, each checked by triggering it: the
# positions of its path arguments, each as (path index, index of the dir_fd it is relative to or
# None, whether the call follows a final symlink). A path may also be an fd (fchmod, ftruncate,
# futime, listdir(fd)). os.replace raises "os.rename", os.unlink "os.remove", os.lchown "os.chown",
# os.lchflags "os.chflags"; shutil's helpers reduce to these and to "open". os.mkfifo, os.mknod,
# os.stat, os.access and os.readlink raise no event.
_WRITE_EVENTS = types.MappingProxyType({
    "os.rename": ((0, 2, False), (1, 3, False)), "os.link": ((0, 2, True), (1, 3, False)),
    "os.mkdir": ((0, 2, False),), "os.rmdir": ((0, 1, False),), "os.remove": ((0, 1, False),),
    "os.chmod": ((0, 2, True),), "os.chown": ((0, 3, True),), "os.utime": ((0, 3, True),),
    "os.truncate": ((0, None, True),), "os.setxattr": ((0, None, True),),
    "os.removexattr": ((0, None, True),),
    "os.chflags": ((0, None, True),),  # BSD and macOS only: absent on Linux
})
_READ_EVENTS = types.MappingProxyType({
    "os.listdir": ((0, None, True),), "os.scandir": ((0, None, True),), "os.chdir": ((0, None, True),),
    "glob.glob": ((0, None, True),), "os.getxattr": ((0, None, True),), "os.listxattr": ((0, None, True),),
})
_BLOCKED_EVENTS = frozenset({
    "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork", "os.forkpty",
    "subprocess.Popen", "os.kill", "os.killpg", "os.setsid", "ctypes.dlopen", "ctypes.dlsym",
    "ctypes.cdata", "ctypes.call_function", "os.chroot",
    "os.symlink",  # a symlink in the work directory could lead out of it later (moved, or raced)
    "sys.remote_exec", "_posixsubprocess.fork_exec", "pty.spawn",
    # ways to reach and rewrite this hook's own state
    "gc.get_objects", "gc.get_referrers", "gc.get_referents", "sys.addaudithook",
    "sys.settrace", "sys.setprofile", "sys._current_frames",
})
_BLOCKED_MODULES = frozenset({"ctypes", "_ctypes", "_posixsubprocess", "_xxsubinterpreters",
                              "_testcapi", "_testinternalcapi", "pty", "fcntl", "mmap"})
_GUARDED_ATTRS = frozenset({"__code__", "__globals__", "__closure__", "__defaults__", "__kwdefaults__"})
_S_IFMT, _S_IFLNK, _S_IFDIR = 0o170000, 0o120000, 0o040000
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
_FS_ENCODING = sys.getfilesystemencoding()

# The hook and everything it calls take what they use as default arguments, bound here before
# the untrusted code runs, and read no global, builtin or closure cell: the code can rebind
# os.lstat, builtins.any or this module's names, or reach these functions' frames through a
# traceback, and still change nothing they rely on (a default can only be replaced by an audited
# __defaults__ write, which the hook refuses). Paths are copied to exact str before use, since a
# str subclass could answer startswith() or split() with anything.


def _exact(path, isinstance_=isinstance, str_=str, bytes_=bytes, copy=str.__getitem__,
           whole=slice(None), decode=bytes.decode, enc=_FS_ENCODING):
    """`path` as an exact str (bytes decoded as os.fsdecode does); None if it is neither."""
    if isinstance_(path, str_):
        return copy(path, whole)
    if isinstance_(path, bytes_):
        return decode(path, enc, "surrogateescape")
    return None


def _fd_path(fd, readlink=os.readlink, index=int.__index__, OSError_=OSError, TypeError_=TypeError):
    """Where the open fd `fd` points; None when closed, unreadable or not a path (a pipe)."""
    try:
        target = readlink(f"/proc/self/fd/{index(fd)}")
    except (OSError_, TypeError_):
        return None
    return target if target.startswith("/") else None


def _walk(path, follow, lstat=os.lstat, readlink=os.readlink, field=tuple.__getitem__,
          OSError_=OSError, ifmt=_S_IFMT, iflnk=_S_IFLNK):
    """Absolute `path` with `.`, `..` and symlinks resolved as the kernel walks it (the final
    part only when `follow`); parts that do not exist are kept. None past 40 symlinks."""
    todo, done, hops = [], "", 0  # `todo` holds the parts still to walk, the next one last
    for part in path.split("/")[::-1]:
        if part and part != ".":
            todo.append(part)
    follow = follow or path.rpartition("/")[2] in ("", ".")  # "link/" names the link's target
    while todo:
        part = todo.pop()
        if part == "..":
            done = done[:done.rfind("/")] if done else ""
            continue
        nxt = done + "/" + part
        if not todo and not follow:
            return nxt
        try:
            mode = field(lstat(nxt), 0)  # st_mode, read past any attribute the code rebinds
        except OSError_:  # missing (about to be created) or unreachable: the kernel stops here too
            done = nxt
            continue
        if (mode & ifmt) != iflnk:
            done = nxt
            continue
        hops += 1
        try:
            target = readlink(nxt)
        except OSError_:
            return None
        if hops > 40:
            return None
        if target.startswith("/"):
            done = ""
        for sub in target.split("/")[::-1]:
            if sub and sub != ".":
                todo.append(sub)
    return done or "/"


def _resolve(path, base, follow, getcwd=os.getcwd, exact=_exact, fd_path=_fd_path, walk=_walk,
             isinstance_=isinstance, int_=int, str_=str):
    """The absolute, symlink-free path a call acts on; None when it cannot be told.

    `base` is where a relative path starts: None or -1 for the cwd, an int for the directory of
    that fd (a dir_fd argument), or a directory path."""
    if path is None:  # os.listdir() and os.scandir(): the cwd
        path = "."
    if isinstance_(path, int_):  # an fd: fchmod, ftruncate, futime, listdir(fd)
        return fd_path(path)
    path = exact(path)
    if path is None:
        return None
    if not path.startswith("/"):
        if base is None or base == -1:
            base = getcwd()
        elif not isinstance_(base, str_):
            base = fd_path(base)
            if base is None:
                return None
        path = base + "/" + path
    return walk(path, follow)


def _open_dirs(listdir=os.listdir, readlink=os.readlink, stat=os.stat, field=tuple.__getitem__,
               OSError_=OSError, FileNotFoundError_=FileNotFoundError, ifmt=_S_IFMT, ifdir=_S_IFDIR):
    """The directories of every open fd, or None when one cannot be told."""
    dirs = []
    for name in listdir("/proc/self/fd"):
        try:
            target = readlink("/proc/self/fd/" + name)
            if not target.startswith("/"):
                continue
            mode = field(stat(target), 0)
        except FileNotFoundError_:  # closed meanwhile (the listing's own fd), or deleted
            continue
        except OSError_:
            return None
        if (mode & ifmt) == ifdir:
            dirs.append(target)
    return dirs


def _inside(path, roots):
    """True when `path` (exact str or None) is one of `roots` or below one."""
    if path is None:
        return False
    for root in roots:
        if path == root or path.startswith(root.rstrip("/") + "/"):
            return True
    return False


def _audit_hook_factory(work: str, readable: list, pythonpath: list):
    """A hook refusing network, processes, signals, native code and files outside `work`."""
    real = [_walk(os.path.abspath(p), True) for p in (work, *readable, *pythonpath)]
    write_roots = (real[0],)
    read_roots = (*real, "/dev/null", "/dev/urandom")

    def refuse(path, exact=_exact, PermissionError_=PermissionError):
        shown = exact(path)
        raise PermissionError_(f"sandbox: access to {path if shown is None else shown!r} is outside the sandbox")

    def check_open(path, flags, dir_fd_possible, roots_w=write_roots, roots_r=read_roots,
                   int_=int, isinstance_=isinstance, wflags=_WRITE_FLAGS, resolve=_resolve,
                   inside=_inside, exact=_exact, open_dirs=_open_dirs, refuse=refuse):
        if isinstance_(path, int_):  # wraps an fd it already holds
            return
        roots = roots_w if not isinstance_(flags, int_) or flags & wflags else roots_r
        if not inside(resolve(path, None, True), roots):
            refuse(path)
        # os.open's event leaves out its dir_fd: a relative path must then stay inside from every
        # directory an open fd names
        rel = exact(path)
        if dir_fd_possible and rel is not None and not rel.startswith("/"):
            dirs = open_dirs()
            if dirs is None:
                refuse(path)
            for d in dirs:
                if not inside(resolve(rel, d, True), roots):
                    refuse(path)

    def hook(event, args, blocked_events=_BLOCKED_EVENTS, blocked_modules=_BLOCKED_MODULES,
             guarded=_GUARDED_ATTRS, write_events=_WRITE_EVENTS, read_events=_READ_EVENTS,
             roots_w=write_roots, roots_r=read_roots, check_open=check_open, resolve=_resolve,
             inside=_inside, exact=_exact, refuse=refuse, PermissionError_=PermissionError):
        if event in blocked_events or event.startswith("socket."):
            raise PermissionError_(f"sandbox: {event} is not allowed")
        if (event == "object.__setattr__" or event == "object.__delattr__") and exact(args[1]) in guarded:
            raise PermissionError_(f"sandbox: setting {exact(args[1])} is not allowed")
        if event == "import" and (exact(args[0]) or "").partition(".")[0] in blocked_modules:
            raise PermissionError_(f"sandbox: importing {exact(args[0])} is not allowed")
        if event == "open":
            check_open(args[0], args[2], args[1] is None)  # mode None: os.open
            return
        if event == "os.listdir" and exact(args[0]) == "/proc/self/fd":  # _open_dirs' listing
            return
        spec, roots = write_events.get(event), roots_w
        if spec is None:
            spec, roots = read_events.get(event), roots_r
            if spec is None:
                return
        for i, fd_i, follow in spec:
            if not inside(resolve(args[i], None if fd_i is None else args[fd_i], follow), roots):
                refuse(args[i])

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
    # the parent kills whatever pid arrives on this pipe (namespace mode's reaper); audit mode
    # sends none, and the code must not be able to name one
    os.close(cfg["report_fd"])
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
