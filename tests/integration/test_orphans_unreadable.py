"""``prune --orphans`` run by a user who cannot read where a script or a base interpreter lives:
unknown, never gone, never an orphan (issue 20). Real permissions: the command runs as ``nobody``
(``setpriv``), which needs root to start."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.core.handmade import make_cache, script_env

NOBODY = 65534

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or shutil.which("setpriv") is None,
                                reason="needs root (to run envtui as another user) and setpriv")


def _as_nobody(state: Path, cache: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("UV_", "ENVTUI_"))}
    env.update(ENVTUI_STATE_DIR=str(state), HOME=str(state))
    return subprocess.run(["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", sys.executable,
                           "-m", "envtui", "--cache-dir", str(cache), *args],
                          capture_output=True, text=True, env=env, timeout=120, cwd="/")


@pytest.fixture
def world():
    """A directory ``nobody`` can reach (pytest's own is root's alone)."""
    base = Path(tempfile.mkdtemp(prefix="envtui-unreadable-", dir="/tmp"))
    base.chmod(0o755)
    try:
        yield base
    finally:
        for top, dirs, _files in os.walk(base):
            for d in dirs:
                os.chmod(os.path.join(top, d), 0o755)
        shutil.rmtree(base)


def test_what_cannot_be_read_is_no_orphan_and_what_is_gone_is(world):
    cache = make_cache(world / "cache", "environments-v2")
    secret = world / "secret"
    (secret / "py" / "bin").mkdir(parents=True)
    (secret / "py" / "bin" / "python3").write_text("")
    (secret / "scripts").mkdir()
    hidden = secret / "scripts" / "hidden.py"
    hidden.write_text("print()")
    (world / "scripts").mkdir()
    gone = world / "scripts" / "gone.py"
    gone.write_text("print()")
    by_script = script_env(cache, hidden, home="/usr/bin")
    by_base = script_env(cache, world / "scripts" / "base.py", home=str(secret / "py" / "bin"))
    (by_base / "bin").mkdir()
    (by_base / "bin" / "python").symlink_to(secret / "py" / "bin" / "python3")
    (world / "scripts" / "base.py").write_text("print()")
    orphan = script_env(cache, gone, home="/usr/bin")
    state = world / "state"
    state.mkdir(mode=0o700)
    os.chown(state, NOBODY, NOBODY)
    # While everything can be read, the scripts are proven from their keys and remembered.
    first = _as_nobody(state, cache, "prune", "--orphans", "--dry-run", "--json", "--roots", str(world))
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["entries"] == []
    remembered = json.loads(next(state.rglob("scripts-seen.json")).read_text())
    assert str(hidden) in remembered[str(cache)], remembered
    gone.unlink()
    secret.chmod(0o700)  # root's: nobody can no longer look inside
    second = _as_nobody(state, cache, "prune", "--orphans", "--dry-run", "--json")
    assert second.returncode == 0, second.stderr
    planned = {e["path"]: e["reasons"] for e in json.loads(second.stdout)["entries"]}
    assert str(by_script) not in planned and str(by_base) not in planned
    assert planned == {str(orphan): [f"orphan: its script {gone} is gone"]}
    # And the plan says which it could not tell, and why.
    doubts = {s["path"]: s["reason"] for s in json.loads(second.stdout)["skipped"]}
    assert doubts[str(by_script)] == f"not known to be an orphan: its script {hidden} could not be checked"
    assert doubts[str(by_base)].startswith("not known to be an orphan: its base interpreter") and str(secret) in doubts[str(by_base)]
