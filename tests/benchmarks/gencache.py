"""Synthetic uv caches in uv 0.13's exact layout, at a chosen scale, for the scan benchmark.

What it writes (see docs/uv-cache.md): ``CACHEDIR.TAG``, ``.gitignore``, ``.lock``;
``archive-v0/<id>/`` unpacked wheels (``<pkg>/`` and ``<pkg>-<ver>.dist-info/``), each linked from
``wheels-v8/index/<index digest>/<name>/<ver>-py3-none-any`` (a symlink, with ``.lock`` and
``.rev``); cached environments persisted as ``archive-v0/<id>/`` venvs, linked from
``environments-v2/<ihash>/<rhash>`` (with ``<rhash>.lock``); script environments
``environments-v2/<stem>-<digest>/``; a few ``interpreter-v5`` and ``simple-v28`` files. Every
environment's ``site-packages`` hardlinks the files of the wheels it installs, as uv does on Linux.

Run ``python -m tests.benchmarks.gencache DIR --files 200000`` or call :func:`generate`.
"""

from __future__ import annotations

import argparse
import os
import random
from dataclasses import dataclass
from pathlib import Path

from envtui.core.locate import CACHEDIR_TAG_SIGNATURE

TAG = CACHEDIR_TAG_SIGNATURE + b"\n# This file is a cache directory tag created by uv.\n"
ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
PY = "python3.11"


@dataclass(frozen=True)
class Scale:
    """How big a synthetic cache is."""

    files: int = 200_000
    """Roughly how many inodes-plus-links to write in all (files, dirs and links)."""
    archives: int = 2_000
    """Unpacked wheels in ``archive-v0``."""
    environments: int = 500
    """Environments (half script, half cached), each hardlinking a few wheels."""
    wheels_per_env: int = 4
    """How many wheels each environment installs."""
    file_size: int = 1_500
    """Bytes in each module file."""


@dataclass(frozen=True)
class Generated:
    """What :func:`generate` wrote."""

    root: Path
    """The cache root."""
    wheels: int
    """Unpacked wheels in ``archive-v0``."""
    environments: int
    """Script plus cached environments."""
    links: int
    """Directory entries written (files, dirs, symlinks, hardlinks): what a walk visits."""


def _id(rng: random.Random) -> str:
    return "".join(rng.choice(ALPHABET) for _ in range(16))


def _hex(rng: random.Random) -> str:
    return "%016x" % rng.getrandbits(64)


def _write(path: Path, data: bytes) -> None:
    with open(path, "wb") as fh:
        fh.write(data)


def _venv_skeleton(root: Path, rng: random.Random, prompt: str) -> Path:
    """A uv-made venv without packages; returns its site-packages. About 12 entries."""
    site = root / "lib" / PY / "site-packages"
    site.mkdir(parents=True)
    (root / "bin").mkdir()
    os.symlink("lib", root / "lib64")
    os.symlink("/usr/bin/python3.11", root / "bin" / "python")
    os.symlink("python", root / "bin" / "python3")
    _write(root / "bin" / "activate", b"# activate\n" * 50)
    _write(root / "pyvenv.cfg", f"home = /usr/bin\nimplementation = CPython\nuv = 0.13.9\nversion_info = 3.11.7\ninclude-system-site-packages = false\nprompt = {prompt}\n".encode())
    _write(root / "CACHEDIR.TAG", TAG)
    _write(root / ".gitignore", b"*")
    _write(site / "_virtualenv.py", b"# virtualenv\n" * 40)
    _write(site / "_virtualenv.pth", b"import _virtualenv")
    return site


def generate(root: Path, scale: Scale = Scale(), *, seed: int = 0) -> Generated:
    """Write a synthetic uv cache at ``root`` (which must not exist) and return what was written.

    Wheels get as many module files as it takes to reach ``scale.files`` in all, counting every
    environment's hardlinks. Deterministic for a given ``seed``.
    """
    rng = random.Random(seed)
    root.mkdir(parents=True)
    _write(root / "CACHEDIR.TAG", TAG)
    _write(root / ".gitignore", b"*")
    _write(root / ".lock", b"")
    archive = root / "archive-v0"
    archive.mkdir()
    wheels_dir = root / "wheels-v8" / "index" / _hex(rng)
    envs_dir = root / "environments-v2"
    envs_dir.mkdir()
    links = 0
    # Every wheel is installed into environments * wheels_per_env / archives environments on average.
    installs = scale.environments * scale.wheels_per_env
    per_wheel_links = 1 + installs / max(1, scale.archives)
    env_overhead = scale.environments * 16
    modules = max(1, int((scale.files - env_overhead) / (scale.archives * per_wheel_links)) - 6)
    wheels: list[tuple[str, str, Path]] = []
    body = (b"# generated module\n" * (scale.file_size // 19 + 1))[: scale.file_size]
    for w in range(scale.archives):
        name, version = f"pkg{w:05d}", f"{1 + w % 7}.{w % 13}"
        entry = archive / _id(rng)
        pkg = entry / name
        info = entry / f"{name}-{version}.dist-info"
        pkg.mkdir(parents=True)
        info.mkdir()
        for m in range(modules):
            _write(pkg / f"mod{m}.py", body)
        _write(info / "METADATA", f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode())
        _write(info / "WHEEL", b"Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        _write(info / "RECORD", b"".join(f"{name}/mod{m}.py,,\n".encode() for m in range(modules)))
        links += modules + 6
        link_dir = wheels_dir / name
        link_dir.mkdir(parents=True)
        os.symlink(f"../../../../archive-v0/{entry.name}", link_dir / f"{version}-py3-none-any")
        _write(link_dir / f"{version}-py3-none-any.lock", b"")
        _write(link_dir / f"{version}-py3-none-any.rev", b"\x00" * 40)
        links += 4
        wheels.append((name, version, entry))
    ihash = _hex(rng)
    for e in range(scale.environments):
        chosen = rng.sample(wheels, min(scale.wheels_per_env, len(wheels)))
        if e % 2 == 0:
            venv = envs_dir / f"script{e}-{_hex(rng)}"
            venv.mkdir()
            _write(venv / ".lock", b"")
            links += 2
        else:
            venv = archive / _id(rng)
            venv.mkdir()
            group = envs_dir / ihash
            group.mkdir(exist_ok=True)
            rhash = _hex(rng)
            os.symlink(f"../../archive-v0/{venv.name}", group / rhash)
            _write(group / f"{rhash}.lock", b"")
            links += 3
        site = _venv_skeleton(venv, rng, venv.name)
        links += 12
        for _name, _version, entry in chosen:
            for sub in os.scandir(entry):
                dest = site / sub.name
                dest.mkdir()
                links += 1
                for f in os.scandir(sub.path):
                    os.link(f.path, dest / f.name)
                    links += 1
    interp = root / "interpreter-v5" / _hex(rng)
    interp.mkdir(parents=True)
    for _ in range(4):
        _write(interp / f"{_hex(rng)}.msgpack", b"\x92" + b"\x00" * 3000)
    simple = root / "simple-v28" / "pypi"
    simple.mkdir(parents=True)
    for name, _, _ in wheels[:200]:
        _write(simple / f"{name}.rkyv", b"\x00" * 900)
    return Generated(root, len(wheels), scale.environments, links)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("root", type=Path)
    parser.add_argument("--files", type=int, default=Scale.files)
    parser.add_argument("--archives", type=int, default=Scale.archives)
    parser.add_argument("--environments", type=int, default=Scale.environments)
    args = parser.parse_args()
    g = generate(args.root, Scale(args.files, args.archives, args.environments))
    print(f"{g.root}: {g.wheels} wheels, {g.environments} environments, {g.links} links")


if __name__ == "__main__":
    main()
