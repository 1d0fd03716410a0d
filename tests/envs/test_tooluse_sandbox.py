"""PythonSandbox as a library: results, limits' validation, read-only import paths, isolation choice."""

from __future__ import annotations

import os
import tempfile

import pytest

from stepgym.envs.tooluse import PythonSandbox, SandboxLimits
from stepgym.envs.tooluse.sandbox import namespaces_available

MODES = [
    pytest.param("namespace", marks=pytest.mark.skipif(
        not namespaces_available(), reason="unshare of user/mount/net/pid namespaces refused here")),
    "audit",
]


@pytest.mark.parametrize("mode", MODES)
def test_runs_code_and_echoes_the_last_expression(mode):
    box = PythonSandbox(SandboxLimits(wall_seconds=10), isolation=mode)
    res = box.run("import math\nprint('hi')\nmath.factorial(5)")
    assert res.ok and res.exit_code == 0 and res.mode == mode
    assert res.output == "hi\n120\n"
    res = box.run("print('partial')\n1 / 0")
    assert not res.ok and res.error == "exit status 1: ZeroDivisionError: division by zero"
    assert res.output.startswith("partial\nTraceback")
    assert '  File "<python>", line 2, in <module>\n    1 / 0' in res.output


@pytest.mark.parametrize("mode", MODES)
def test_ordinary_python_is_not_hampered(mode):
    code = ("import dataclasses, enum, json, random, tempfile, threading\n"
            "@dataclasses.dataclass\nclass P:\n    a: int = 1\n"
            "class C(enum.Enum):\n    R = 1\n"
            "t = threading.Thread(target=print, args=('thread',))\nt.start()\nt.join()\n"
            "with tempfile.NamedTemporaryFile('w', delete=False) as f:\n    f.write('{}')\n"
            "print(P(), C.R, json.load(open(f.name)), random.Random(0).randint(1, 6))")
    res = PythonSandbox(SandboxLimits(wall_seconds=10), isolation=mode).run(code)
    assert res.ok, res.output
    assert res.output == "thread\nP(a=1) C.R {} 4\n"


@pytest.mark.parametrize("mode", MODES)
def test_files_persist_within_a_call_only(mode):
    box = PythonSandbox(SandboxLimits(wall_seconds=10), isolation=mode)
    assert box.run("open('notes.txt', 'w').write('x')\nprint(open('notes.txt').read())").output == "x\n"
    assert "FileNotFoundError" in box.run("open('notes.txt').read()").output


@pytest.mark.parametrize("mode", MODES)
def test_python_path_is_importable_but_read_only(mode):
    lib = tempfile.mkdtemp(prefix="stepgym-sbx-lib-")
    try:
        os.chmod(lib, 0o755)  # readable by nobody, whom the sandbox becomes when started as root
        with open(os.path.join(lib, "helper_mod.py"), "w") as f:
            f.write("ANSWER = 41 + 1\n")
        os.chmod(os.path.join(lib, "helper_mod.py"), 0o644)
        box = PythonSandbox(SandboxLimits(wall_seconds=10), isolation=mode, python_path=(lib,))
        assert box.run("import helper_mod\nhelper_mod.ANSWER").output == "42\n"
        res = box.run(f"open({os.path.join(lib, 'helper_mod.py')!r}, 'w').write('x')")
        assert not res.ok
        with open(os.path.join(lib, "helper_mod.py")) as f:
            assert f.read() == "ANSWER = 41 + 1\n"
    finally:
        for name in os.listdir(lib):
            os.remove(os.path.join(lib, name))
        os.rmdir(lib)


def test_bad_configuration_is_named():
    with pytest.raises(ValueError, match="SandboxLimits.cpu_seconds must be a positive int, got 0"):
        SandboxLimits(cpu_seconds=0)
    with pytest.raises(ValueError, match="wall_seconds must be > 0"):
        SandboxLimits(wall_seconds=-1)
    with pytest.raises(ValueError, match="isolation must be one of"):
        PythonSandbox(isolation="docker")
    with pytest.raises(ValueError, match="would expose system paths"):
        PythonSandbox(python_path=("/",))
    with pytest.raises(ValueError, match="is not a directory"):
        PythonSandbox(python_path=("/nonexistent/dir",))
    with pytest.raises(TypeError, match="code must be a str"):
        PythonSandbox().run(b"print(1)")


def test_auto_picks_namespaces_when_available():
    assert PythonSandbox().mode == ("namespace" if namespaces_available() else "audit")
