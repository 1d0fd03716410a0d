"""Assets reach users who install the wheel, not only a checkout."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(out), str(ROOT)], check=True, timeout=300)
    (whl,) = out.glob("stepgym-*.whl")
    return whl


def test_wheel_contains_assets(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    assert "stepgym/_assets/sokoban/sokoban_6x6_1box.jsonl.gz" in names
    assert not any(n.startswith(("tests/", "assets/")) for n in names)


def test_installed_wheel_makes_env_from_its_assets(wheel, tmp_path):
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    py = env_dir / "bin" / "python"
    subprocess.run([str(py), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)],
                   check=True, timeout=300)
    # dependencies come from the test venv's site-packages (PYTHONPATH does not run its .pth
    # files, so the editable checkout stays invisible)
    deps = sysconfig.get_paths()["purelib"]
    code = ("import stepgym, pathlib; from stepgym.paths import assets_dir;"
            "e = stepgym.make('stepgym/Sokoban-v0'); o, i = e.reset(seed=0);"
            "print(stepgym.__file__); print(assets_dir()); print(i['task_id'])")
    out = subprocess.run([str(py), "-c", code], cwd=tmp_path, capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": deps}, timeout=120)
    assert out.returncode == 0, out.stderr
    pkg_file, assets, task_id = out.stdout.split()
    assert str(env_dir) in pkg_file and str(ROOT) not in pkg_file
    assert assets.endswith("stepgym/_assets") and str(env_dir) in assets
    assert task_id.startswith("sokoban_6x6_1box-")
