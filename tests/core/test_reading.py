"""Reading never blocks, never follows, never fills memory: FIFOs, sockets, devices, directories and
huge files where envtui expects a small regular file, in a cache real uv made.

Every command runs in a subprocess with a timeout, so a read that blocks fails the test instead of
hanging the suite.
"""

from __future__ import annotations

import json
import re
import os
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest

TIMEOUT = 60  # seconds; a healthy run of any command here takes about one


def envtui(*args: str, timeout: float = TIMEOUT, stdin: str | None = None) -> subprocess.CompletedProcess:
    """Run ``python -m envtui ARGS``; a run that outlives ``timeout`` fails the test as a hang."""
    try:
        return subprocess.run(
            [sys.executable, "-m", "envtui", *args], capture_output=True, text=True, errors="surrogateescape",
            timeout=timeout, input=stdin if stdin is not None else "",
            env={**os.environ, "PYTHONIOENCODING": "utf-8", "NO_COLOR": "1"},
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"envtui {' '.join(args)} hung for {timeout} s")


def no_traceback(out: subprocess.CompletedProcess) -> None:
    assert "Traceback" not in out.stderr and "Traceback" not in out.stdout, out.stderr


def script_envs(root: Path) -> list[Path]:
    return sorted(p for p in (root / "environments-v2").iterdir()
                  if (p / "pyvenv.cfg").exists() and not p.is_symlink())


def cached_links(root: Path) -> list[Path]:
    return sorted(p for p in root.glob("environments-v2/*/*") if p.is_symlink())


def dist_info(root: Path, name: str = "tinytool") -> Path:
    link = next(p for p in cached_links(root) if list(p.resolve().glob(f"lib/python*/site-packages/{name}-*.dist-info")))
    return next(link.resolve().glob(f"lib/python*/site-packages/{name}-*.dist-info"))


def make_fifo(path: Path) -> Path:
    if path.exists() or path.is_symlink():
        path.unlink()
    os.mkfifo(path)
    return path


def names(text: str, path: Path) -> bool:
    """Whether ``text`` names ``path``: whole, or as its environment and the path inside it."""
    return str(path) in text or any(str(p) in text and str(path.relative_to(p)) in text for p in path.parents)


# Where a FIFO goes, and the commands that read there: each must finish, and say what it found.
PLACES = {
    "script pyvenv.cfg": lambda root: script_envs(root)[0] / "pyvenv.cfg",
    "cached pyvenv.cfg": lambda root: cached_links(root)[0].resolve() / "pyvenv.cfg",
    "METADATA": lambda root: dist_info(root) / "METADATA",
    "entry_points.txt": lambda root: dist_info(root) / "entry_points.txt",
    "RECORD": lambda root: dist_info(root) / "RECORD",
    "direct_url.json": lambda root: dist_info(root) / "direct_url.json",
    "interpreter msgpack": lambda root: sorted(root.glob("interpreter-v5/*/*.msgpack"))[0],
    "entry lock": lambda root: cached_links(root)[0].with_name(cached_links(root)[0].name + ".lock"),
    "venv lock": lambda root: script_envs(root)[0] / ".lock",
    "root lock": lambda root: root / ".lock",
}

# The place's path appears in what `ls` prints (as a problem or a corrupt entry).
NAMED_BY_LS = {"script pyvenv.cfg", "cached pyvenv.cfg", "METADATA", "entry_points.txt", "interpreter msgpack"}

POLICIES = ("--unreferenced", "--dangling", "--orphans", "--interpreters", "--older-than", "0")


@pytest.mark.parametrize("place", sorted(PLACES))
def test_a_fifo_never_hangs_a_command(real_cache_copy, place):
    root = real_cache_copy.root
    fifo = make_fifo(PLACES[place](root))
    scripts = str(real_cache_copy.scripts[0].parent)
    for args in (("ls",), ("ls", "--json"), ("ls", "--sizes"), ("prune", "--dry-run", *POLICIES),
                 ("prune", "--dry-run", "--json", *POLICIES), ("path", str(real_cache_copy.scripts[0]))):
        out = envtui(*args, "--cache-dir", str(root), "--script-roots", scripts)
        no_traceback(out)
        assert out.returncode == 0, (args, out.stderr)
        if args == ("ls", "--json") and place == "interpreter msgpack":
            entry = next(e for e in json.loads(out.stdout)["interpreters"] if e["path"] == str(fifo))
            assert entry["status"] == "corrupt" and "FIFO" in entry["error"]
        elif args == ("ls", "--json") and place in NAMED_BY_LS:
            problems = json.loads(out.stdout)["problems"]
            assert any(names(p["path"] + ": " + p["message"], fifo) and "FIFO" in p["message"] for p in problems), problems
        if args == ("ls",) and place in NAMED_BY_LS:
            if place == "interpreter msgpack":
                line = next((line for line in out.stdout.splitlines() if f"{fifo.parent.name}/{fifo.stem}" in line), "")
            else:
                line = next((line for line in out.stdout.splitlines() if names(line, fifo)), "")
            assert "FIFO" in line  # one line: the entry and why
    assert fifo.is_fifo()  # nothing replaced or removed it


def test_fifo_pyvenv_cfg_makes_the_environment_corrupt(real_cache_copy):
    root = real_cache_copy.root
    env = script_envs(root)[0]
    make_fifo(env / "pyvenv.cfg")
    doc = json.loads(envtui("ls", "--json", "--cache-dir", str(root)).stdout)
    entry = next(e for e in doc["environments"] if e["path"] == str(env))
    assert entry["status"] == "corrupt"


def test_fifo_entry_lock_is_never_pruned(real_cache_copy):
    """A FIFO where uv keeps a cached environment's lock: the probe neither blocks nor takes it for
    free, so the environment is skipped, not deleted."""
    root = real_cache_copy.root
    link = cached_links(root)[0]
    make_fifo(link.with_name(link.name + ".lock"))
    out = envtui("prune", "--yes", "--older-than", "0", "--json", "--cache-dir", str(root))
    no_traceback(out)
    doc = json.loads(out.stdout)
    assert str(link) not in doc["deleted"] and os.path.islink(link)
    assert any(s["path"] == str(link) for s in doc["skipped"])


def test_fifo_cachedir_tag_is_not_a_cache(real_cache_copy):
    root = real_cache_copy.root
    make_fifo(root / "CACHEDIR.TAG")
    for args in (("ls",), ("prune", "--dry-run", "--unreferenced"), ("rebuild", "nothing")):
        out = envtui(*args, "--cache-dir", str(root))
        no_traceback(out)
        assert out.returncode == 2
        assert str(root) in out.stderr and "CACHEDIR.TAG is a FIFO" in out.stderr
        assert len(out.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("target", ["/dev/zero", "fifo"])
def test_cachedir_tag_symlink_to_a_device_or_fifo(real_cache_copy, tmp_path, target):
    root = real_cache_copy.root
    if target == "fifo":
        target = str(make_fifo(tmp_path / "outside-fifo"))
    (root / "CACHEDIR.TAG").unlink()
    os.symlink(target, root / "CACHEDIR.TAG")
    out = envtui("ls", "--cache-dir", str(root))
    no_traceback(out)
    assert out.returncode == 2 and "CACHEDIR.TAG is a symlink" in out.stderr


def test_fifo_script_under_the_script_roots(real_cache_copy, tmp_path):
    roots = tmp_path / "roots"
    roots.mkdir()
    make_fifo(roots / "trap.py")
    (roots / "real.py").write_text("# /// script\n# dependencies = []\n# ///\n")
    out = envtui("ls", "--json", "--cache-dir", str(real_cache_copy.root), "--script-roots", str(roots))
    no_traceback(out)
    assert out.returncode == 0


def test_socket_and_directory_pyvenv_cfg(real_cache_copy, tmp_path):
    root = real_cache_copy.root
    first, second = script_envs(root)[:2]
    (first / "pyvenv.cfg").unlink()
    (first / "pyvenv.cfg").mkdir()
    (second / "pyvenv.cfg").unlink()
    sock = socket.socket(socket.AF_UNIX)
    cwd = os.getcwd()
    try:
        os.chdir(second)  # a socket's path is limited to 107 bytes: bind it relative
        try:
            sock.bind("pyvenv.cfg")
        finally:
            os.chdir(cwd)
        doc = json.loads(envtui("ls", "--json", "--cache-dir", str(root)).stdout)
    finally:
        sock.close()
    by_path = {e["path"]: e for e in doc["environments"]}
    assert by_path[str(first)]["status"] == "corrupt" and by_path[str(second)]["status"] == "corrupt"
    lines = [p["path"] + ": " + p["message"] for p in doc["problems"]]
    assert any(names(m, first / "pyvenv.cfg") and "directory" in m for m in lines)
    assert any(names(m, second / "pyvenv.cfg") and "socket" in m for m in lines)


@pytest.mark.skipif(os.geteuid() != 0, reason="making a device node needs root")
def test_device_node_metadata_and_symlink_to_dev_zero(real_cache_copy):
    """A character device (/dev/zero's numbers) as METADATA, and pyvenv.cfg a symlink to
    /dev/zero: neither is read (an endless read would fill memory)."""
    root = real_cache_copy.root
    meta = dist_info(root) / "METADATA"
    meta.unlink()
    os.mknod(meta, 0o644 | stat.S_IFCHR, os.makedev(1, 5))
    cfg = script_envs(root)[0] / "pyvenv.cfg"
    cfg.unlink()
    os.symlink("/dev/zero", cfg)
    out = envtui("ls", "--json", "--cache-dir", str(root), timeout=30)
    no_traceback(out)
    lines = [p["path"] + ": " + p["message"] for p in json.loads(out.stdout)["problems"]]
    assert any(names(m, meta) and "device" in m for m in lines), lines
    assert any(names(m, cfg) and "symlink" in m for m in lines), lines


def test_sparse_2gb_metadata_is_read_only_to_its_cap(real_cache_copy):
    """A 2 GiB METADATA (sparse: no disk used) is cut at 1 MiB: listed quickly and in little memory."""
    root = real_cache_copy.root
    meta = dist_info(root) / "METADATA"
    head = meta.read_bytes()
    with open(meta, "r+b") as fh:
        fh.truncate(2 << 30)
    assert meta.stat().st_size == 2 << 30 and head
    out = envtui("ls", "--json", "--cache-dir", str(root), timeout=30)
    no_traceback(out)
    doc = json.loads(out.stdout)
    assert any(p["name"] == "tinytool" for e in doc["environments"] for p in e["packages"])
    code = ("import resource, sys; from envtui.core.environments import read_distribution; from pathlib import Path;"
            "d = read_distribution(Path(sys.argv[1])); print(d.name, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)")
    name, maxrss_kib = subprocess.run([sys.executable, "-c", code, str(meta.parent)], capture_output=True, text=True,
                                      timeout=30, check=True).stdout.split()
    assert name == "tinytool" and int(maxrss_kib) < 200 * 1024  # far from the 2 GiB a whole read would take


def test_100mb_interpreter_entry_is_refused_by_its_size(real_cache_copy):
    """An interpreter entry of 100 MB is refused from its fstat size, without reading it."""
    root = real_cache_copy.root
    entry = sorted(root.glob("interpreter-v5/*/*.msgpack"))[0]
    with open(entry, "r+b") as fh:
        fh.truncate(100 * 1000 * 1000)
    out = envtui("ls", "--json", "--cache-dir", str(root), timeout=30)
    doc = json.loads(out.stdout)
    found = next(e for e in doc["interpreters"] if e["path"] == str(entry))
    assert found["status"] == "corrupt" and "100000000 bytes" in found["error"]


TUI = """
import asyncio, sys
from pathlib import Path
from envtui.app import EnvtuiApp
from envtui.core import CacheLocation

async def main():
    app = EnvtuiApp(CacheLocation(Path(sys.argv[1]), "--cache-dir"), known_scripts=[])
    async with app.run_test(size=(160, 40)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        print("problems:", *sorted(str(p.path) + " " + p.message for p in app.inventory.problems), sep="\\n")
        await pilot.press("q")

asyncio.run(main())
"""


def test_tui_opens_and_quits_over_fifos(real_cache_copy):
    """The TUI lists a cache holding a FIFO at every place, and `q` quits it."""
    root = real_cache_copy.root
    for place in sorted(PLACES):
        make_fifo(PLACES[place](root))
    try:
        out = subprocess.run([sys.executable, "-c", TUI, str(root)], capture_output=True, text=True, timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        pytest.fail("the TUI hung over a cache with FIFOs")
    assert out.returncode == 0, out.stderr
    shown = set(out.stdout.splitlines()[1:])
    listed = json.loads(envtui("ls", "--json", "--cache-dir", str(root)).stdout)["problems"]
    assert shown == {p["path"] + " " + p["message"] for p in listed}  # the TUI names what ls names
    assert any(names(line, PLACES["script pyvenv.cfg"](root)) and "FIFO" in line for line in shown)


def test_core_reads_cache_files_only_through_fsread():
    """Guard: no module of the core opens a file but through fsread (or locks, with its own
    O_NOFOLLOW | O_NONBLOCK opens), so every read above stays non-blocking."""
    import envtui.core as core

    plain_open = re.compile(r"(?<![\w.])open\(|\.read_text\(|\.read_bytes\(|io\.open\(")
    # Writing envtui's own state (the saved scan index, outside the cache) is not a read.
    writes = re.compile(r"open\([^)]*,\s*[\"'][wax]b?[\"']")
    for path in Path(core.__file__).parent.rglob("*.py"):
        if path.name == "fsread.py":
            continue  # the reader itself (the demo's builders live in envtui/demo/)
        hits = [line.strip() for line in path.read_text().splitlines()
                if plain_open.search(line) and not writes.search(line) and not line.strip().startswith("#")]
        assert not hits, f"{path}: {hits}"


@pytest.mark.parametrize("cut", ["no home line", "mid-line", "empty"])
def test_truncated_pyvenv_cfg_is_corrupt_not_ok(real_cache_copy, cut):
    root = real_cache_copy.root
    env = script_envs(root)[0]
    cfg = env / "pyvenv.cfg"
    text = cfg.read_text()
    assert text.startswith("home = ") and text.endswith("\n")  # what uv writes
    cut_text = {"no home line": text.split("\n", 1)[1], "mid-line": text[: text.index("version_info") + 17],
                "empty": ""}[cut]
    cfg.write_text(cut_text)
    doc = json.loads(envtui("ls", "--json", "--cache-dir", str(root)).stdout)
    entry = next(e for e in doc["environments"] if e["path"] == str(env))
    assert entry["status"] == "corrupt"
    assert any(p["path"] == str(env) and "pyvenv.cfg" in p["message"] for p in doc["problems"])
    # Every environment uv wrote whole is still ok.
    assert sum(e["status"] == "ok" for e in doc["environments"]) == len(doc["environments"]) - 1


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to drop to another user (root reads every directory)")
def test_unreadable_directories_are_problems_and_bytes_say_not_exact(real_cache_copy, monkeypatch):
    """As another user, a chmod 000 directory inside an environment is named as a problem by
    `ls` and `ls --sizes`, a plan that holds it says its bytes are not exact, and no archive
    entry goes while a directory that stays could not be listed for links."""
    from tests.core.test_locks import NOBODY, run_as

    import shutil
    import tempfile

    shared = Path(tempfile.mkdtemp(prefix="envtui-shared-", dir="/tmp"))
    try:
        os.chmod(shared, 0o755)
        root = shared / "cache"
        subprocess.run(["cp", "-a", str(real_cache_copy.root), str(root)], check=True)
        state = shared / "state"
        state.mkdir()
        os.chown(state, NOBODY, NOBODY)
        monkeypatch.setenv("ENVTUI_STATE_DIR", str(state))
        monkeypatch.setenv("HOME", str(state))
        link = next(p for p in cached_links(root) if list(p.resolve().glob("lib/python*/site-packages/tinytool")))
        pkg = next(link.resolve().glob("lib/python*/site-packages/tinytool"))
        site = script_envs(root)[0]
        site_packages = next(site.glob("lib/python*/site-packages"))
        os.chmod(pkg, 0)
        os.chmod(site_packages, 0)
        code, out = run_as(NOBODY, ["ls", "--json", "--sizes", "--cache-dir", str(root)])
        assert code == 0, out
        problems = json.loads(out)["problems"]
        assert any(p["path"] == str(pkg) and "not exact" in p["message"] for p in problems), problems
        code, out = run_as(NOBODY, ["ls", "--json", "--cache-dir", str(root)])  # the inventory alone
        problems = json.loads(out)["problems"]
        assert any(names(p["path"] + ": " + p["message"], site_packages) and "Permission denied" in p["message"]
                   for p in problems), problems
        code, out = run_as(NOBODY, ["prune", "--dry-run", "--json", "--older-than", "0", "--cache-dir", str(root)])
        assert code == 0, out
        doc = json.loads(out)
        entry = next(e for e in doc["entries"] if e["path"] == str(link))
        # A link in what cannot be listed may point at the link's target: the link goes alone.
        assert entry["paths"] == [str(link), str(link) + ".lock"]
        assert doc["bytes_exact"] is False and str(site_packages) in [u["path"] for u in doc["unreadable"]]
        code, out = run_as(NOBODY, ["prune", "--dry-run", "--older-than", "0", "--cache-dir", str(root)])
        assert code == 0 and "not exact" in out and str(site_packages) in out
        # The same plan made by a user who can read everything is exact.
        os.chmod(pkg, 0o755)
        os.chmod(site_packages, 0o755)
        doc = json.loads(envtui("prune", "--dry-run", "--json", "--older-than", "0", "--cache-dir", str(root)).stdout)
        assert doc["bytes_exact"] is True and doc["unreadable"] == []
    finally:
        for dirpath, dirnames, _ in os.walk(shared):
            for d in dirnames:
                os.chmod(os.path.join(dirpath, d), 0o755)
        shutil.rmtree(shared, ignore_errors=True)
