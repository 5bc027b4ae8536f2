"""Property tests: the digest against uv on generated paths, and the freed-bytes rule on random
hardlink graphs against the measured drop in ``du``."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from envtui.core.digest import script_environment_name
from envtui.core.disk import freed_bytes

# Path components uv and the filesystem accept: letters (some non-ASCII), digits, spaces, dots,
# dashes and underscores; never "." or "..", never empty.
_component = st.text(
    alphabet=st.sampled_from(list("abcXYZ019 ._-éüß漢")), min_size=1, max_size=12
).filter(lambda s: s not in (".", "..") and not s.startswith(" ") and not s.endswith(" "))
_script_path = st.lists(_component, min_size=1, max_size=3).map(lambda parts: "/".join(parts) + ".py")


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batch=st.lists(_script_path, min_size=1, max_size=6, unique_by=lambda p: p.lower()))
def test_digest_agrees_with_uv_on_generated_paths(uv_cache, batch):
    work = Path(tempfile.mkdtemp(dir=uv_cache.workdir))
    written = []
    for rel in batch:
        target = work / rel
        if any(p.is_file() for p in target.parents if p != work and p.is_relative_to(work)):
            continue  # a component collides with an earlier script's file name
        try:
            uv_cache.write_script(str(target.relative_to(uv_cache.workdir)))
        except (OSError, IsADirectoryError):
            continue
        written.append(rel)
    # One uv process per script, run together: the batch costs about one uv start.
    procs = [
        subprocess.Popen([uv_cache.uv, "sync", "--script", f"./{rel}"], cwd=work, env=uv_cache.env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        for rel in written
    ]
    errors = [p.communicate()[1] for p in procs]
    assert all(p.returncode == 0 for p in procs), errors
    bucket = uv_cache.root / "environments-v2"
    for rel in written:
        name = script_environment_name(rel, cwd=str(work))
        assert (bucket / name / "pyvenv.cfg").exists(), (rel, name)


@st.composite
def hardlink_graphs(draw):
    """Entries of files, some hardlinked across entries and to an outside directory."""
    n_entries = draw(st.integers(2, 5))
    n_files = draw(st.integers(1, 12))
    files = []
    for _ in range(n_files):
        size = draw(st.sampled_from([0, 1, 100, 4096, 5000, 20000]))
        homes = draw(st.lists(st.integers(0, n_entries), min_size=1, max_size=4))  # n_entries = outside
        files.append((size, homes))
    doomed = draw(st.sets(st.integers(0, n_entries - 1), min_size=1, max_size=n_entries))
    return n_entries, files, doomed


def _du_total(paths: list[Path]) -> int:
    out = subprocess.run(["du", "-sB1", "--total", *map(str, paths)], capture_output=True, text=True, check=True)
    return int(out.stdout.strip().splitlines()[-1].split()[0])


@settings(max_examples=40, deadline=None)
@given(graph=hardlink_graphs())
def test_freed_bytes_equal_measured_drop(graph):
    n_entries, files, doomed = graph
    base = Path(tempfile.mkdtemp(prefix="envtui-prop-"))
    try:
        dirs = [base / f"entry{i}" for i in range(n_entries)] + [base / "outside"]
        for d in dirs:
            (d / "sub").mkdir(parents=True)
        for i, (size, homes) in enumerate(files):
            first = dirs[homes[0]] / "sub" / f"f{i}_0"
            first.write_bytes(os.urandom(size))
            for j, home in enumerate(homes[1:], 1):
                os.link(first, dirs[home] / "sub" / f"f{i}_{j}")
        doomed_dirs = [dirs[i] for i in sorted(doomed)]
        predicted_disk, _apparent = freed_bytes(doomed_dirs)
        before = _du_total(dirs)
        for d in doomed_dirs:
            shutil.rmtree(d)
        after = _du_total([d for d in dirs if d.exists()])
        assert before - after == predicted_disk
    finally:
        shutil.rmtree(base, ignore_errors=True)
