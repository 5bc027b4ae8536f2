"""A uv cache with every kind of package entry, made by real uv without the network.

A package index served over HTTP on 127.0.0.1 (a thread in the test process) gives ``simple-vN``
index pages and ``wheels-vN/index/<digest>`` entries; the same directory as ``--find-links`` over
HTTP gives a ``flat-index-vN`` entry; a local source tree with an in-tree build backend gives
``sdists-vN/path/<digest>``; local ``--find-links`` wheels give ``wheels-vN/index/<digest>``.
"""

from __future__ import annotations

import functools
import hashlib
import http.server
import os
import subprocess
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from envtui.demo.wheels import make_wheel
from tests.uvcache import uv_bin

_BACKEND = '''
import base64, hashlib, os, zipfile
NAME, VERSION = "src_pkg", "0.3"
def _files():
    di = f"{NAME}-{VERSION}.dist-info"
    f = {f"{NAME}/__init__.py": b"X = 1\\n",
         f"{di}/METADATA": f"Metadata-Version: 2.1\\nName: Src_Pkg\\nVersion: {VERSION}\\n".encode(),
         f"{di}/WHEEL": b"Wheel-Version: 1.0\\nGenerator: t\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n"}
    rec = [f"{p},sha256={base64.urlsafe_b64encode(hashlib.sha256(d).digest()).rstrip(b'=').decode()},{len(d)}" for p, d in f.items()]
    f[f"{di}/RECORD"] = ("\\n".join(rec + [f"{di}/RECORD,,"]) + "\\n").encode()
    return f
def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    name = f"{NAME}-{VERSION}-py3-none-any.whl"
    with zipfile.ZipFile(os.path.join(wheel_directory, name), "w") as z:
        for p, d in _files().items():
            z.writestr(p, d)
    return name
def get_requires_for_build_wheel(config_settings=None):
    return []
'''

SCRIPT = """# /// script
# dependencies = ["tabulate", "cowsay"]
# ///
import tabulate, cowsay
print("both", tabulate.__name__, cowsay.__name__)
"""


def build_index(base: Path) -> Path:
    """A PEP 503 index in ``base/index``: tabulate 0.8 and 0.9 (0.9 with 30 files of 8 KiB),
    cowsay 6.0; each project page lists its wheels with their sha256."""
    index = base / "index"
    for name, version, extra in (("tabulate", "0.8", 0), ("tabulate", "0.9", 30), ("cowsay", "6.0", 4)):
        make_wheel(index / name, name, version, extra_files=extra, file_size=8192)
    for project in sorted(p for p in index.iterdir() if p.is_dir()):
        links = "".join(
            f'<a href="{w.name}#sha256={hashlib.sha256(w.read_bytes()).hexdigest()}">{w.name}</a>\n'
            for w in sorted(project.glob("*.whl"))
        )
        (project / "index.html").write_text(f"<html><body>\n{links}</body></html>\n")
    (index / "index.html").write_text("".join(f'<a href="{p.name}/">{p.name}</a>\n' for p in sorted(index.iterdir()) if p.is_dir()))
    return index


@contextmanager
def serve(directory: Path) -> Iterator[str]:
    """Serve ``directory`` over HTTP on 127.0.0.1 (a free port) and yield its base URL."""
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = _QuietServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


class _QuietServer(http.server.ThreadingHTTPServer):
    def handle_error(self, request, client_address) -> None:
        pass  # uv closes connections early once it has what it needs


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:  # noqa: D401 - silence the test log
        pass


@dataclass
class PackageCache:
    """A uv cache at ``root`` holding, through real uv: cached tool environments of tinytool (local
    find-links), tabulate 0.9 and 0.8 and cowsay (an HTTP index), cowsay again through HTTP
    find-links (a flat index), src-pkg (a local source tree: ``sdists-vN/path``), and a script
    environment using tabulate and cowsay."""

    root: Path
    work: Path
    wheelhouse: Path
    uv: str = field(default_factory=uv_bin)
    script: Path | None = None

    def env(self, offline: bool = True) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("UV_", "VIRTUAL_ENV", "PYTHONHOME"))}
        env.update(UV_CACHE_DIR=str(self.root), UV_NO_CONFIG="1", UV_PYTHON_DOWNLOADS="never",
                   UV_NO_MANAGED_PYTHON="1", UV_NO_PROGRESS="1")
        if offline:
            env["UV_OFFLINE"] = "1"
        return env

    def uv_run(self, *args: str, offline: bool = True, check: bool = True) -> subprocess.CompletedProcess:
        proc = subprocess.run([self.uv, *args], capture_output=True, text=True, env=self.env(offline), cwd=self.work, timeout=120)
        if check and proc.returncode != 0:
            raise AssertionError(f"uv {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
        return proc

    def build(self, python: str) -> "PackageCache":
        index = build_index(self.work)
        make_wheel(self.wheelhouse, "tinytool", "1.0")
        src = self.work / "srcpkg"
        src.mkdir()
        (src / "pyproject.toml").write_text(
            '[build-system]\nrequires = []\nbuild-backend = "backend"\nbackend-path = ["."]\n'
            '[project]\nname = "Src_Pkg"\nversion = "0.3"\n'
        )
        (src / "backend.py").write_text(_BACKEND)
        self.script = self.work / "both.py"
        self.script.write_text(SCRIPT)
        py = ["--python", python]
        self.uv_run("tool", "run", *py, "--find-links", str(self.wheelhouse), "tinytool")
        self.uv_run("tool", "run", *py, "--from", str(src), "python", "-c", "import src_pkg")
        with serve(index) as url:
            self.uv_run("tool", "run", *py, "--index-url", url, "--from", "tabulate==0.9", "tabulate", offline=False)
            self.uv_run("tool", "run", *py, "--index-url", url, "--from", "tabulate==0.8", "tabulate", offline=False)
            self.uv_run("run", *py, "--index-url", url, str(self.script), offline=False)
            self.uv_run("tool", "run", *py, "--no-index", "--find-links", url + "cowsay/", "cowsay", offline=False)
        return self
