"""Where assets live: inside the installed wheel (`stepgym/_assets`) or beside a checkout (`assets/`)."""

from __future__ import annotations

from pathlib import Path

_PKG = Path(__file__).resolve().parent


def assets_dir() -> Path:
    """The assets folder, from the wheel when installed, else the checkout's `assets/`."""
    for candidate in (_PKG / "_assets", _PKG.parent / "assets"):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(
        f"stepgym assets not found (looked in {_PKG / '_assets'} and {_PKG.parent / 'assets'}); "
        "reinstall stepgym from a wheel or run from a full checkout"
    )


def asset_path(*parts: str) -> Path:
    """Path to one asset file; a FileNotFoundError naming it when missing."""
    path = assets_dir().joinpath(*parts)
    if not path.exists():
        raise FileNotFoundError(f"asset {'/'.join(parts)!r} not found under {assets_dir()}")
    return path
