"""Build the optional C walker (envtui/core/disk/_cwalk.c) with the compiler Python was built with.

Hatchling has no C build of its own. Where no compiler or no Python headers are found, the build
says so and goes on: the package then runs the pure-Python walker, which gives the same figures.
Set ``ENVTUI_NO_NATIVE_BUILD=1`` to skip the build on purpose.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import sysconfig
from pathlib import Path

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

SOURCE = Path("envtui/core/disk/_cwalk.c")


def build_extension(root: Path) -> Path | None:
    """Compile the extension next to its source; return its path, or ``None`` (with a warning)."""
    out = root / SOURCE.with_name("_cwalk" + (sysconfig.get_config_var("EXT_SUFFIX") or ".so"))
    include = sysconfig.get_paths()["include"]
    if not (Path(include) / "Python.h").exists():
        print(f"envtui: no Python.h in {include}; the pure-Python disk walker will run", file=sys.stderr)
        return None
    cc = shlex.split(os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc")
    cmd = [*cc, "-O2", "-shared", "-fPIC", f"-I{include}", str(root / SOURCE), "-o", str(out)]
    try:
        subprocess.run(cmd, check=True, capture_output=True, text=True)
    except (OSError, subprocess.CalledProcessError) as err:
        detail = getattr(err, "stderr", None) or err
        print(f"envtui: could not build the C disk walker ({detail}); the pure-Python one will run", file=sys.stderr)
        return None
    return out


class CustomBuildHook(BuildHookInterface):
    def initialize(self, version: str, build_data: dict) -> None:
        if self.target_name != "wheel" or os.environ.get("ENVTUI_NO_NATIVE_BUILD", "") not in ("", "0"):
            return
        out = build_extension(Path(self.root))
        if out is None:
            return
        build_data["pure_python"] = False
        build_data["infer_tag"] = True
        if version != "editable":  # an editable install imports it from the source tree
            build_data["force_include"][str(out)] = str(out.relative_to(self.root))
