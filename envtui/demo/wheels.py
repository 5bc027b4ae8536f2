"""Tiny pure-Python wheels built with zipfile: what the demo cache installs, and what the tests use.

The demo needs wheels it can install offline, and the tests import the same builder
(``tests/uvcache.py``) so that both make identical packages.
"""

from __future__ import annotations

import base64
import hashlib
import zipfile
from pathlib import Path

__all__ = ["make_wheel", "wheel_files"]


def _record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def wheel_files(
    name: str,
    version: str,
    *,
    console_script: bool = True,
    extra_files: int = 0,
    file_size: int = 4096,
    requires: tuple[str, ...] = (),
) -> dict[str, bytes]:
    """The files of the wheel ``make_wheel`` writes, as ``{path inside the wheel: content}``.

    With ``console_script`` the distribution provides a ``{name}`` command printing
    ``"{name} {version}"``; ``extra_files`` adds that many data modules of ``file_size`` bytes (to
    give entries weight); ``requires`` become ``Requires-Dist`` lines. ``RECORD`` comes last.
    """
    module = name.replace("-", "_")
    dist_info = f"{module}-{version}.dist-info"
    meta = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
    meta += "".join(f"Requires-Dist: {r}\n" for r in requires)
    files: dict[str, bytes] = {
        f"{module}/__init__.py": f"def main():\n    print('{name} {version}')\n".encode(),
        f"{dist_info}/METADATA": meta.encode(),
        f"{dist_info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: envtui\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    for i in range(extra_files):
        body = (f"# {name} {version} data {i}\n".encode() * (file_size // 20 + 1))[:file_size]
        files[f"{module}/data_{i}.py"] = body
    if console_script:
        files[f"{dist_info}/entry_points.txt"] = f"[console_scripts]\n{name} = {module}:main\n".encode()
    record = [f"{path},{_record_hash(data)},{len(data)}" for path, data in files.items()]
    record.append(f"{dist_info}/RECORD,,")
    files[f"{dist_info}/RECORD"] = ("\n".join(record) + "\n").encode()
    return files


def make_wheel(outdir: Path, name: str, version: str, **options) -> Path:
    """Write the pure-Python wheel ``{module}-{version}-py3-none-any.whl`` into ``outdir`` (created
    if needed) and return its path. ``options`` are those of :func:`wheel_files`.
    Raises ``OSError`` naming the file if it cannot be written."""
    outdir.mkdir(parents=True, exist_ok=True)
    files = wheel_files(name, version, **options)
    wheel = outdir / f"{name.replace('-', '_')}-{version}-py3-none-any.whl"
    # A fixed date keeps the wheel's bytes, hence uv's cache entries, the same on every build.
    with zipfile.ZipFile(wheel, "w") as zf:
        for path, data in files.items():
            zf.writestr(zipfile.ZipInfo(path, date_time=(2024, 1, 1, 0, 0, 0)), data)
    return wheel
