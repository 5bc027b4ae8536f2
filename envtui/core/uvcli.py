"""The one module that runs uv, and the only place its command lines are built.

Everything read from disk is hostile (a dist-info ``Name``, a directory name, a receipt): it reaches
uv's command line only once validated here, as uv itself would accept it, and only where uv reads
it as the kind of value it is:

* names (:func:`valid_name`, :func:`valid_extra`) and versions (:func:`valid_version`) are checked
  against PEP 508 and PEP 440 before they make a pin; a requirement built from parts is parsed back
  and must give the same parts (:func:`requirement_text`), so no value can add a URL, a marker or a
  second requirement;
* a managed Python is named by the exact installation uv lists (:func:`installed_pythons`), and
  only when that key cannot match another installation (:func:`python_uninstall_argv`); a tool by
  a name ``uv tool list`` prints (:func:`installed_tools`);
* positional values come after ``--`` (uv 0.13.9 accepts it for ``tool install``, ``tool
  uninstall``, ``python uninstall``, ``venv``, ``pip install``), option values are attached
  (``--python=VALUE``), so nothing is ever read as an option.

Every uv subprocess of envtui starts here (:func:`run_uv`, :func:`uv_prints`,
:func:`installed_pythons`, :func:`installed_tools`). Imports neither Textual nor Rich.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Collection, Iterable, Mapping
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from packaging.markers import InvalidMarker, Marker
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

if TYPE_CHECKING:  # tools imports this module
    from .tools import ReceiptRequirement, Tool

__all__ = [
    "PythonInstallation",
    "UvFailed",
    "find_uv",
    "installed_pythons",
    "installed_tools",
    "python_uninstall_argv",
    "requirement_text",
    "run_uv",
    "tool_reinstall_argv",
    "tool_uninstall_argv",
    "uv_error",
    "uv_output",
    "uv_prints",
    "valid_extra",
    "valid_name",
    "valid_python_key",
    "valid_version",
]


class UvFailed(Exception):
    """uv could not be started, or exited with a failure, while envtui asked it something."""

    def __init__(self, argv: Iterable[str], reason: str) -> None:
        self.argv = tuple(argv)
        """The command that failed."""
        self.reason = reason
        """uv's own error line, or why it could not run."""
        super().__init__(f"{' '.join(self.argv[1:3])}: {reason}")


# -- finding and running uv -------------------------------------------------------------------------


def find_uv() -> str | None:
    """The uv executable: ``uv`` on ``PATH``, else the binary the ``uv`` package from PyPI ships
    beside this Python (``uv.find_uv_bin``); ``None`` if neither exists."""
    found = shutil.which("uv")
    if found:
        return found
    try:
        # The uv package is there where the tests run (mypy too), maybe not where envtui runs.
        from uv import find_uv_bin  # type: ignore[import-not-found, unused-ignore]

        return find_uv_bin()
    except Exception:  # not installed, or installed without its binary
        return None


def _environ(env: Mapping[str, str] | None) -> dict[str, str]:
    environ = dict(os.environ if env is None else env)
    environ.setdefault("UV_NO_PROGRESS", "1")
    environ["NO_COLOR"] = "1"  # uv's output is parsed and shown as plain text
    environ.pop("FORCE_COLOR", None)
    return environ


def run_uv(
    argv: tuple[str, ...] | list[str],
    cache_root: str | os.PathLike[str] | None,
    on_line: Callable[[str], None],
    *,
    should_stop: Callable[[], bool] | None = None,
    env: Mapping[str, str] | None = None,
) -> int:
    """Run ``argv`` (a uv command line from this module's builders) with ``UV_CACHE_DIR=cache_root``
    (``None``: as ``env`` says, else uv's default),
    ``stdin`` closed, passing each line of its merged stdout and stderr to ``on_line`` as it
    comes (raw: escape before printing). ``should_stop()`` is checked per line; when it turns true
    uv is terminated. ``env`` (default: this process's) is copied, never changed. Returns uv's exit
    status (negative: killed by that signal). Raises ``OSError`` when uv cannot be started."""
    environ = _environ(env)
    if cache_root is not None:
        environ["UV_CACHE_DIR"] = str(cache_root)
    proc = subprocess.Popen(
        list(argv), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        encoding="utf-8", errors="replace", env=environ,
    )
    assert proc.stdout is not None
    with proc.stdout:
        for line in proc.stdout:
            on_line(line.rstrip("\n"))
            if should_stop is not None and should_stop():
                proc.terminate()
                break
    return proc.wait()


def uv_output(argv: Iterable[str], env: Mapping[str, str] | None = None, *, timeout: float = 60.0,
              cwd: str | None = os.sep) -> str:
    """The standard output of ``argv`` (a uv command that only reports), run from ``cwd``: by
    default ``/``, so that uv prints absolute paths (it shows paths under its working directory
    relative to it) and finds no project around envtui's working directory; ``None`` keeps
    envtui's, where a project's ``uv.toml`` may set what uv reports. Raises :class:`UvFailed`
    naming uv's own error line when uv cannot start, times out or fails."""
    argv = list(argv)
    try:
        out = subprocess.run(argv, capture_output=True, encoding="utf-8", errors="replace", timeout=timeout,
                             env=_environ(env), stdin=subprocess.DEVNULL, cwd=cwd)
    except (OSError, subprocess.SubprocessError) as err:
        raise UvFailed(argv, str(err)) from err
    if out.returncode != 0:
        raise UvFailed(argv, uv_error(out.stderr.splitlines()) or f"exit status {out.returncode}")
    return out.stdout


def uv_prints(args: list[str], environ: Mapping[str, str], uv: str | None = None, timeout: float = 5.0) -> str | None:
    """The last line ``uv *args`` prints (``uv cache dir``, ``uv python dir``, ``uv tool dir``), run
    in envtui's working directory (a project's ``uv.toml`` there is what the user's uv would read
    too), or ``None`` when no uv is found (``uv``, else ``uv`` on ``environ``'s ``PATH``), it fails,
    times out after ``timeout`` seconds or prints nothing."""
    exe = uv or shutil.which("uv", path=environ.get("PATH"))
    if not exe:
        return None
    try:
        lines = uv_output([exe, *args], environ, timeout=timeout, cwd=None).strip().splitlines()
    except UvFailed:
        return None
    return lines[-1] if lines else None


_ERROR_START = re.compile(r"^\s*(?:error:|×)")


def uv_error(lines: Iterable[str], limit: int = 400) -> str:
    """uv's own reason from its output ``lines``: the first ``error:`` (or ``×``) line and the
    indented lines that explain it (``Caused by:``, ``╰─▶ ...``), joined on one line; else the
    last line that is not blank. Capped at ``limit`` characters; not escaped."""
    lines = [line.rstrip() for line in lines]
    start = next((i for i, line in enumerate(lines) if _ERROR_START.match(line)), None)
    if start is None:
        rest = [line.strip() for line in lines if line.strip()]
        found = rest[-1] if rest else ""
    else:
        parts = [lines[start].strip()]
        for line in lines[start + 1:]:
            if line.strip() and not line[:1].isspace() and not line.startswith(("Caused by", "hint:")):
                break
            if line.strip() and not line.startswith("hint:"):
                parts.append(line.strip())
        found = " ".join(parts)
    return found if len(found) <= limit else found[: limit - 1] + "…"


# -- validators ---------------------------------------------------------------------------------------

_NAME = re.compile(r"^([A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9])$", re.IGNORECASE)
_SAFE = re.compile(r"^[\x21-\x7e]+$")  # printable ASCII, no space: what a version or URL may hold


def _shown(value: object) -> str:
    return repr(value) if len(repr(value)) <= 80 else repr(value)[:77] + "..."


def valid_name(value: object, what: str = "distribution name") -> str:
    """``value`` when it is a PEP 508 distribution name (``^([A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9])$``,
    any case: what uv's ``PackageName`` accepts), unchanged. Raises ``ValueError`` naming it."""
    if not isinstance(value, str) or not _NAME.fullmatch(value) or value != value.strip():
        raise ValueError(f"not a valid {what}: {_shown(value)}")
    return value


def valid_extra(value: object) -> str:
    """``value`` when it is a valid extra name (PEP 685: the same rule as a name). Raises ``ValueError``."""
    return valid_name(value, "extra name")


def valid_version(value: object) -> str:
    """The PEP 440 version ``value`` in its normal form (``1.0``, ``2.0rc1``, ``1.0+local``): what
    ``==`` pins. Whitespace or a control character anywhere is refused, not stripped. Raises
    ``ValueError`` naming the value."""
    if not isinstance(value, str) or not _SAFE.fullmatch(value):
        raise ValueError(f"not a valid version: {_shown(value)}")
    try:
        return str(Version(value))
    except InvalidVersion:
        raise ValueError(f"not a valid version: {_shown(value)}") from None


#: A complete installation key as uv writes it (crates/uv-python/src/installation.rs
#: ``PythonInstallationKey``'s ``Display``): ``{implementation}-{major}.{minor}.{patch}[pre]
#: [+variant...]-{os}-{arch}-{libc}``, lower case, no leading zeros.
_FULL_KEY = re.compile(
    r"^(?P<impl>[a-z]+)-(?P<version>(?:0|[1-9]\d*)\.(?:0|[1-9]\d*)\.(?:0|[1-9]\d*)(?:(?:a|b|rc)(?:0|[1-9]\d*))?)"
    r"(?P<variant>(?:\+[a-z]+)*)-(?P<platform>[a-z0-9_]+-[a-z0-9_]+-[a-z0-9_]+)$"
)


def valid_python_key(value: object) -> str:
    """``value`` when it is a complete managed-Python installation key in uv's own spelling
    (``cpython-3.12.1-linux-x86_64-gnu``, ``cpython-3.13.0+freethreaded-linux-x86_64-gnu``): a
    patch version, a platform, lower case. A shorter request such as ``cpython-3.12-linux-x86_64-gnu``
    is refused: ``uv python uninstall`` would read it as every 3.12. Raises ``ValueError``."""
    if not isinstance(value, str) or not _FULL_KEY.fullmatch(value):
        raise ValueError(f"not a complete Python installation key: {_shown(value)}")
    return value


def _safe_text(value: object, what: str) -> str:
    """A non-empty string without control characters (a URL, a path, a Python request)."""
    if not isinstance(value, str) or not value or any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in value):
        raise ValueError(f"not a valid {what}: {_shown(value)}")
    return value


# -- requirements -----------------------------------------------------------------------------------

_URL_SCHEMES = ("http", "https", "file")


def _url(value: object, what: str = "URL") -> str:
    text = _safe_text(value, what)
    if not _SAFE.fullmatch(text) or urlsplit(text).scheme not in _URL_SCHEMES:
        raise ValueError(f"not a valid {what}: {_shown(value)}")
    return text


def _path_url(value: object) -> str:
    text = _safe_text(value, "path")
    if not os.path.isabs(text):
        raise ValueError(f"not an absolute path: {_shown(value)}")
    return Path(text).as_uri()


_GIT_REFS = ("rev", "tag", "branch")


def _git_url(value: object) -> str:
    """uv's receipt form of a git source (``https://host/repo?rev=v1#<commit>``, the reference in
    the query, crates/uv-distribution-types/src/requirement.rs ``RequirementSourceWire::Git``) as
    a PEP 508 URL: ``git+https://host/repo@v1#subdirectory=...``. The requested reference is kept
    (the commit uv resolved it to is not pinned: uv records the reference it was asked for)."""
    text = _url(value, "git URL")
    parts = urlsplit(text)
    query = parse_qsl(parts.query, keep_blank_values=True)
    refs = [v for k, v in query if k in _GIT_REFS]
    sub = [v for k, v in query if k == "subdirectory"]
    unknown = sorted({k for k, _ in query} - {*_GIT_REFS, "subdirectory"})
    if unknown or len(refs) > 1 or len(sub) > 1:
        raise ValueError(f"git source with {', '.join(unknown) or 'several references'} cannot be given to uv: {_shown(value)}")
    for v in (*refs, *sub):
        if not v or not _SAFE.fullmatch(v) or any(c in v for c in "@#?"):
            raise ValueError(f"not a valid git reference or subdirectory: {_shown(v)}")
    url = "git+" + urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
    if refs:
        url += "@" + refs[0]
    if sub:
        url += "#subdirectory=" + sub[0]
    return url


def requirement_text(req: ReceiptRequirement, *, editable_ok: bool = False) -> str:
    """The PEP 508 string of the receipt requirement ``req``, built from validated parts: its name,
    extras, specifier (a registry requirement) or URL (``url``, ``path``, ``directory``, ``git``;
    ``editable`` only with ``editable_ok``: the caller passes ``--editable``), and marker. The
    string is parsed back and must give exactly these parts, so no part can smuggle another in.
    Raises ``ValueError`` naming what cannot be passed (an index pin, a ``virtual`` source, a key
    envtui does not know...)."""
    if req.odd:
        raise ValueError(f"requirement {_shown(req.name)}: {req.odd[0]}")
    name = valid_name(req.name)
    extras = sorted({valid_extra(e) for e in req.extras}, key=canonicalize_name)
    try:
        marker = Marker(req.marker) if req.marker else None
    except InvalidMarker:
        raise ValueError(f"requirement {name}: not a valid marker: {_shown(req.marker)}") from None
    url = None
    spec = ""
    if req.source == "registry":
        if req.index:
            raise ValueError(f"requirement {name} is pinned to the index {_shown(req.index)}, which uv's command line cannot say")
        try:
            spec = str(SpecifierSet(req.specifier))
        except InvalidSpecifier:
            raise ValueError(f"requirement {name}: not a valid version specifier: {_shown(req.specifier)}") from None
    elif req.source == "url":
        url = _url(req.location)
        if req.subdirectory:
            if not _SAFE.fullmatch(req.subdirectory) or "#" in url or any(c in req.subdirectory for c in "#&"):
                raise ValueError(f"requirement {name}: not a valid subdirectory: {_shown(req.subdirectory)}")
            url += "#subdirectory=" + req.subdirectory
    elif req.source in ("path", "directory") or (req.source == "editable" and editable_ok):
        url = _path_url(req.location)
    elif req.source == "git":
        url = _git_url(req.location)
    else:
        raise ValueError(f"requirement {name} has a source envtui cannot give to uv: {req.source}")
    if req.source != "registry" and (req.specifier or req.index):
        raise ValueError(f"requirement {name}: a {req.source} source with a version or index as well")
    text = name + (f"[{','.join(extras)}]" if extras else "")
    text += f" @ {url} " if url else spec
    text += f"; {marker}" if marker else ""
    text = text.strip()
    try:
        back = Requirement(text)
    except InvalidRequirement:
        raise ValueError(f"requirement {name} does not make a valid requirement: {_shown(text)}") from None
    if (back.name, sorted(back.extras), str(back.specifier), back.url, str(back.marker) if back.marker else None) != (
        name, sorted(extras), spec, url, str(marker) if marker else None,
    ):
        raise ValueError(f"requirement {name} reads back as another requirement: {_shown(text)}")
    return text


# -- what uv lists ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PythonInstallation:
    """One Python ``uv python list --only-installed --output-format json`` reports (uv 0.13.9's
    fields; crates/uv/src/commands/python/list.rs ``PrintData``)."""

    key: str
    """The key uv reports (``cpython-3.12.1-linux-x86_64-gnu``): from the interpreter, not from
    the directory's name."""
    version: str
    """``3.12.1``."""
    path: Path
    """The executable uv found (absolute)."""
    implementation: str
    """``cpython``, ``pypy``..."""
    variant: str
    """``default``, ``freethreaded``, ``debug``..."""
    platform: str
    """``{os}-{arch}-{libc}`` (``linux-x86_64-gnu``)."""
    symlink: str | None = None
    """What the executable links to, as uv reports it, or ``None``."""
    directory: Path | None = None
    """The installation's directory, ``<python dir>/<name>``, when the executable lies in the
    managed Python directory asked about; ``None`` for any other Python."""


def _python_of(item: object, python_dir: str) -> PythonInstallation | None:
    if not isinstance(item, dict):
        return None
    fields: dict[str, Any] = {  # JSON values: each checked to be a str below
        k: item.get(k) for k in ("key", "version", "path", "implementation", "variant", "os", "arch", "libc")}
    if not all(isinstance(v, str) and v for v in fields.values()):
        return None
    path = os.path.abspath(fields["path"])
    directory = None
    if path.startswith(python_dir + os.sep):
        name = path[len(python_dir) + 1:].split(os.sep)[0]
        directory = Path(python_dir, name)
    symlink = item.get("symlink")
    return PythonInstallation(
        fields["key"], fields["version"], Path(path), fields["implementation"], fields["variant"],
        f"{fields['os']}-{fields['arch']}-{fields['libc']}", symlink if isinstance(symlink, str) else None, directory,
    )


def installed_pythons(uv: str, python_dir: str | os.PathLike[str], env: Mapping[str, str] | None = None) -> list[PythonInstallation]:
    """The managed Pythons uv finds in ``python_dir``: ``uv python list --only-installed
    --managed-python --output-format json`` with ``UV_PYTHON_INSTALL_DIR=python_dir`` (``env``
    otherwise as given), keeping the entries whose executable lies in a directory (not a
    minor-version link) of ``python_dir``, in uv's order. Raises :class:`UvFailed` (uv failed, or
    printed no JSON list)."""
    root = os.path.abspath(python_dir)
    environ = dict(os.environ if env is None else env)
    environ["UV_PYTHON_INSTALL_DIR"] = root
    # --managed-python refuses to run beside a preference (UV_PYTHON_PREFERENCE=only-managed is
    # common): the question is what is installed there, whatever the user prefers.
    environ.pop("UV_PYTHON_PREFERENCE", None)
    argv = [uv, "python", "list", "--only-installed", "--managed-python", "--output-format", "json"]
    out = uv_output(argv, environ)
    try:
        items = json.loads(out)
    except ValueError:
        raise UvFailed(argv, "printed something other than JSON") from None
    if not isinstance(items, list):
        raise UvFailed(argv, "printed something other than a JSON list")
    found = (_python_of(item, root) for item in items)
    return [p for p in found if p is not None and p.directory is not None and not os.path.islink(p.directory)]


#: ``uv tool list --show-paths``: ``{name} v{version} ({path})``; commands are ``- {name} ({path})``
#: (crates/uv/src/commands/tool/list.rs).
_TOOL_LINE = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*) v(?P<version>\S+) \((?P<path>.+)\)$")


def installed_tools(uv: str, tool_dir: str | os.PathLike[str], env: Mapping[str, str] | None = None) -> list[str]:
    """The names of the tools ``uv tool list --show-paths`` prints for ``UV_TOOL_DIR=tool_dir``,
    each only when uv prints its environment as ``<tool_dir>/<name>`` (the directory uv would
    act on for that name). uv itself leaves out a directory whose name is not a package name
    (``--all``), one whose name is not normalized (``My_Tool``: uv looks for ``my-tool``) and one
    without a receipt or environment. Raises :class:`UvFailed`."""
    root = os.path.abspath(tool_dir)
    environ = dict(os.environ if env is None else env)
    environ["UV_TOOL_DIR"] = root
    out = uv_output([uv, "tool", "list", "--show-paths"], environ)
    names = []
    for line in out.splitlines():
        m = _TOOL_LINE.match(line)
        if m and m["path"] == os.path.join(root, m["name"]) and _NAME.fullmatch(m["name"]):
            names.append(m["name"])
    return names


# -- command lines ----------------------------------------------------------------------------------


def _loose_key(name: str) -> tuple[str, tuple[int, ...], frozenset[str], str] | None:
    """What a directory name could mean to uv's lenient key parser (crates/uv-python/src/
    installation.rs ``PythonInstallationKey::from_str``: exactly five ``-``-separated parts, a
    missing patch read as 0), widened: implementation and platform without case, the first three
    numbers of the version (missing ones 0), the variants (``default`` none). uv 0.13.9 takes
    ``CPython-3.12.01-...``, ``cpython-v3.12.1-...``, ``cpython-3.12.1.0-...`` and
    ``cpython-3.12.1post1-...`` for ``cpython-3.12.1-...``, and ``cpython-3.12-...`` for
    ``cpython-3.12.0-...``."""
    parts = name.split("-")
    if len(parts) != 5:
        return None
    version, _, variants = parts[1].partition("+")
    numbers = [int(n) for n in re.findall(r"\d+", version)[:3]]
    return (parts[0].lower(), tuple(numbers + [0] * (3 - len(numbers))),
            frozenset(v.lower() for v in variants.split("+") if v and v.lower() != "default"), "-".join(parts[2:]).lower())


def python_uninstall_argv(uv: str, installation: PythonInstallation, python_dir: str | os.PathLike[str]) -> tuple[str, ...]:
    """``uv python uninstall --install-dir=DIR -- KEY``, removing exactly ``installation`` (one of
    :func:`installed_pythons` for the same ``python_dir``) and nothing else.

    ``uv python uninstall`` reads its argument as a request and removes every directory of
    ``python_dir`` whose name parses to a key the request matches (crates/uv/src/commands/python/
    uninstall.rs, ``PythonDownloadRequest::satisfied_by_key``): ``cpython-3.12-linux-x86_64-gnu``
    removes every 3.12, and ``cpython-3.12.1-linux-x86_64-gnu`` also removes a directory named
    ``CPython-3.12.01-linux-x86_64-gnu``. Variants and pre-releases are matched exactly (uv 0.13.9).
    So the key is passed only when: it is complete (:func:`valid_python_key`); the installation's
    directory is a real directory (not a minor-version link) directly in ``python_dir``, named
    exactly that key (a directory named otherwise holds a Python uv reports under another key);
    and no other directory of ``python_dir`` could be read as the same key (:func:`_loose_key`;
    uv itself passes over links and names starting with ``.``, which never alias a key).

    Raises ``ValueError`` naming what is wrong. uv 0.13.9 exits 0 even when nothing matched: check
    that the directory is gone afterwards."""
    root = os.path.abspath(python_dir)
    key = valid_python_key(installation.key)
    directory = installation.directory
    if directory is None or os.path.dirname(os.path.abspath(directory)) != root:
        raise ValueError(f"Python {key} is not in the managed Python directory {root}")
    if directory.name != key:
        raise ValueError(f"the directory {directory.name!r} holds Python {key}: uv would read its name as another request")
    try:
        st = os.lstat(directory)
    except OSError as err:
        raise ValueError(f"{directory}: {err.strerror}") from None
    if not stat.S_ISDIR(st.st_mode):
        raise ValueError(f"{directory} is not a directory of {root} (a minor-version link is removed with its installation)")
    mine = _loose_key(key)
    try:
        with os.scandir(root) as it:
            others = [e.name for e in it if e.name != key and not e.is_symlink() and e.is_dir()]
    except OSError as err:
        raise ValueError(f"{root}: {err.strerror}") from None
    clash = sorted(n for n in others if _loose_key(n) == mine)
    if clash:
        raise ValueError(f"uv would read the directory {clash[0]!r} as {key} too and remove it with it")
    return (uv, "python", "uninstall", f"--install-dir={root}", "--", key)


def tool_uninstall_argv(uv: str, name: str, *, installed: Collection[str]) -> tuple[str, ...]:
    """``uv tool uninstall -- NAME`` for the tool ``name``, which must be a valid package name and
    one of ``installed`` (what :func:`installed_tools` returned for the tool directory that the
    command will run with as ``UV_TOOL_DIR``). Raises ``ValueError`` naming the value."""
    valid_name(name, "tool name")
    if name not in installed:
        raise ValueError(f"uv does not list a tool named {_shown(name)}")
    return (uv, "tool", "uninstall", "--", name)


#: ``[tool.options]`` keys (uv 0.13.9's receipt, ``ToolOptionsWire``) -> the flag that gives each
#: back, and how its value is checked: ``flag`` for ``true`` (with the negation for ``false`` where
#: uv has one), ``choice`` of a fixed set, ``urls`` one flag per value, ``names`` one per name.
_CHOICES = {
    "index-strategy": ("first-index", "unsafe-first-match", "unsafe-best-match"),
    "keyring-provider": ("disabled", "subprocess"),
    "resolution": ("highest", "lowest", "lowest-direct"),
    "prerelease": ("disallow", "allow", "if-necessary", "explicit", "if-necessary-or-explicit"),
    "fork-strategy": ("fewest", "requires-python"),
    "link-mode": ("clone", "copy", "hardlink", "symlink"),
}
_FLAGS = {
    "no-index": ("--no-index", None),
    "compile-bytecode": ("--compile-bytecode", "--no-compile-bytecode"),
    "no-sources": ("--no-sources", None),
    "no-build": ("--no-build", "--build"),
    "no-binary": ("--no-binary", "--binary"),
}
_NAME_LISTS = {
    "no-sources-package": "--no-sources-package",
    "no-build-package": "--no-build-package",
    "no-binary-package": "--no-binary-package",
}
_URL_LISTS = {"extra-index-url": "--extra-index-url", "find-links": "--find-links"}
_TORCH = re.compile(r"^[a-z0-9.]+$")
_INDEX_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_SPAN = re.compile(r"^P(?:\d+[YMWD])*(?:T(?:\d+(?:\.\d+)?[HMS])+)?$")
_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2}))?$")


def _choice(key: str, value: object) -> str:
    if not isinstance(value, str) or value not in _CHOICES[key]:
        raise ValueError(f"not a valid {key}: {_shown(value)}")
    return value


def _index_url(value: object) -> str:
    text = _safe_text(value, "index URL")
    if urlsplit(text).scheme not in _URL_SCHEMES and not (os.path.isabs(text) and "=" not in text):
        raise ValueError(f"not a valid index URL: {_shown(value)}")
    if not _SAFE.fullmatch(text):
        raise ValueError(f"not a valid index URL: {_shown(value)}")
    return text


def _index_flags(entries: object) -> list[str]:
    if not isinstance(entries, (list, tuple)):
        raise ValueError("the receipt's option 'index' is not a list")
    out = []
    for entry in entries:
        if not isinstance(entry, Mapping):
            raise ValueError("the receipt's option 'index' holds something other than a table")
        known = {"name": None, "url": None, "explicit": False, "default": None, "format": "simple", "authenticate": "auto"}
        for k, v in entry.items():
            if k not in known or (known[k] is not None and v != known[k]):
                raise ValueError(f"the receipt's index option {k} = {_shown(v)} cannot be given on uv's command line")
        url = _index_url(entry.get("url"))
        name = entry.get("name")
        if name is not None and (not isinstance(name, str) or not _INDEX_NAME.fullmatch(name)):
            raise ValueError(f"not a valid index name: {_shown(name)}")
        value = f"{name}={url}" if name else url
        out.append(f"--default-index={value}" if entry.get("default") is True else f"--index={value}")
    return out


def _package_map(key: str, value: object, check: Callable[[object], str]) -> list[str]:
    """``{package = X}`` tables as ``PACKAGE=X`` flags (``--prerelease-package``, ``--exclude-newer-package``)."""
    if not isinstance(value, Mapping):
        raise ValueError(f"the receipt's option {key!r} is not a table")
    return [f"--{key}={valid_name(pkg)}={check(v)}" for pkg, v in value.items()]


def _exclude_newer(value: object, span: object = None) -> str:
    """An ``exclude-newer`` value: ``false``, a timestamp, or (uv keeps both) the span a relative
    cutoff was given as (``P1W``), which is what uv applies again."""
    if value is False:
        return "false"
    if span is not None:
        if not isinstance(span, str) or not _SPAN.fullmatch(span):
            raise ValueError(f"not a valid exclude-newer span: {_shown(span)}")
        return span
    if isinstance(value, Mapping) and set(value) <= {"timestamp", "span"}:
        return _exclude_newer(value.get("timestamp"), value.get("span"))
    if not isinstance(value, str) or not _TIMESTAMP.fullmatch(value):
        raise ValueError(f"not a valid exclude-newer date: {_shown(value)}")
    return value


def _config_value(value: object) -> list[str]:
    values = list(value) if isinstance(value, (list, tuple)) else [value]
    return [_safe_text(v, "config setting value") for v in values]


def _config_key(value: object) -> str:
    text = _safe_text(value, "config setting")
    if "=" in text or ":" in text:
        raise ValueError(f"not a valid config setting: {_shown(value)}")
    return text


def _option_flags(options: Mapping[str, Any]) -> list[str]:
    """Every ``[tool.options]`` entry as uv flags. Raises ``ValueError`` for one the command line
    cannot give (``dependency-metadata``, ``extra-build-dependencies``...) or a value that does not
    validate: the reinstall is refused rather than run without it."""
    out: list[str] = []
    for key, value in options.items():
        if key == "exclude-newer-span":
            continue  # read with exclude-newer
        if key in _CHOICES:
            out.append(f"--{key}={_choice(key, value)}")
        elif key in _FLAGS:
            if not isinstance(value, bool):
                raise ValueError(f"the receipt's option {key} is not true or false: {_shown(value)}")
            flag = _FLAGS[key][0 if value else 1]
            if flag:
                out.append(flag)  # false without a negation is uv's default
        elif key in _NAME_LISTS:
            if not isinstance(value, (list, tuple)):
                raise ValueError(f"the receipt's option {key} is not a list")
            out += [f"{_NAME_LISTS[key]}={valid_name(v)}" for v in value]
        elif key in _URL_LISTS:
            if not isinstance(value, (list, tuple)):
                raise ValueError(f"the receipt's option {key} is not a list")
            out += [f"{_URL_LISTS[key]}={_index_url(v)}" for v in value]
        elif key == "index-url":
            out.append(f"--index-url={_index_url(value)}")
        elif key == "index":
            out += _index_flags(value)
        elif key == "prerelease-package":
            out += _package_map(key, value, lambda v: _choice("prerelease", v))
        elif key == "exclude-newer":
            out.append(f"--exclude-newer={_exclude_newer(value, options.get('exclude-newer-span'))}")
        elif key == "exclude-newer-package":
            out += _package_map(key, value, _exclude_newer)
        elif key == "config-settings":
            if not isinstance(value, Mapping):
                raise ValueError("the receipt's option config-settings is not a table")
            out += [f"--config-setting={_config_key(k)}={v}" for k, vs in value.items() for v in _config_value(vs)]
        elif key == "config-settings-package":
            if not isinstance(value, Mapping) or not all(isinstance(t, Mapping) for t in value.values()):
                raise ValueError("the receipt's option config-settings-package is not a table of tables")
            out += [f"--config-settings-package={valid_name(pkg)}:{_config_key(k)}={v}"
                    for pkg, table in value.items() for k, vs in table.items() for v in _config_value(vs)]
        elif key == "build-isolation":
            if value == "isolate":
                out.append("--build-isolation")
            elif value == "shared":
                out.append("--no-build-isolation")
            elif isinstance(value, Mapping) and set(value) == {"shared-package"} and isinstance(value["shared-package"], (list, tuple)):
                out += [f"--no-build-isolation-package={valid_name(v)}" for v in value["shared-package"]]
            else:
                raise ValueError(f"not a valid build-isolation: {_shown(value)}")
        elif key == "torch-backend":
            if not isinstance(value, str) or not _TORCH.fullmatch(value):
                raise ValueError(f"not a valid torch-backend: {_shown(value)}")
            out.append(f"--torch-backend={value}")
        else:
            raise ValueError(f"the receipt's option {key!r} cannot be given on uv's command line")
    return out


def _spill(directory: Path | None, name: str, lines: list[str]) -> str:
    if directory is None:
        raise ValueError(f"the receipt records {name}: a directory for its requirements file is needed")
    path = Path(directory) / f"{name}.txt"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # O_EXCL: never through a link
    with os.fdopen(fd, "wb") as f:  # bytes: str.encode is UTF-8 whatever the locale, as uv reads it
        f.write("".join(line + "\n" for line in lines).encode())
    return str(path)


def tool_reinstall_argv(uv: str, tool: Tool, *, workdir: str | os.PathLike[str] | None = None) -> tuple[str, ...]:
    """``uv tool install --reinstall [options] -- PACKAGE`` giving back everything ``tool``'s receipt
    records (``tool.receipt``, see :class:`~envtui.core.tools.Receipt`): the tool's requirement
    (with ``--editable`` when it was), each other requirement as ``--with=``, ``--with-editable=`` or
    (a distribution the receipt's commands come from) ``--with-executables-from=``, the Python
    asked for as ``--python=``, and every ``[tool.options]`` entry as its flag (see
    :func:`_option_flags`). uv does not keep a receipt's options on ``install --reinstall``: what
    is not on the command line is lost (uv 0.13.9).

    Constraints, overrides, excludes and build constraints are command-line files: they are
    written (``O_EXCL``, mode 0600) as ``constraints.txt``, ``overrides.txt``, ``excludes.txt``,
    ``build-constraints.txt`` into ``workdir``, a private directory the caller made and removes
    after uv ran. Every value is validated (:func:`requirement_text`, :func:`valid_name`...); the
    tool requirement's name must normalize to the tool's directory name (uv installs into that
    directory). Raises ``ValueError`` naming the first value that cannot be passed as it is."""
    receipt = tool.receipt
    if receipt is None or not receipt.requirements:
        raise ValueError(f"tool {_shown(tool.name)} has no requirements in its receipt: uv cannot reinstall it")
    if receipt.odd:
        raise ValueError(f"tool {_shown(tool.name)}'s receipt: {receipt.odd[0]}")
    valid_name(tool.name, "tool name")
    first, *others = receipt.requirements
    if canonicalize_name(valid_name(first.name)) != tool.name:
        raise ValueError(f"the receipt of tool {_shown(tool.name)} installs {_shown(first.name)}, another tool")
    argv = [uv, "tool", "install", "--reinstall"]
    argv += _option_flags(receipt.options)
    if receipt.python is not None:
        argv.append(f"--python={_safe_text(receipt.python, 'Python request')}")
    own = canonicalize_name(first.name)
    executables = {canonicalize_name(valid_name(e.source)) for e in tool.entry_points if e.source} - {own}
    withs, editables, from_exes = [], [], []
    for req in reversed(others):  # the last requirement of a name is the --with-executables-from one
        key = canonicalize_name(valid_name(req.name))
        if key in executables and req.source != "editable":
            executables.discard(key)
            from_exes.append(f"--with-executables-from={requirement_text(req)}")
        elif req.source == "editable":
            editables.append(f"--with-editable={requirement_text(req, editable_ok=True)}")
        else:
            withs.append(f"--with={requirement_text(req)}")
    if executables:
        raise ValueError(f"the receipt's commands come from {sorted(executables)[0]}, which it does not require")
    argv += [*reversed(withs), *reversed(from_exes), *reversed(editables)]  # uv's order in a receipt
    workdir = Path(workdir) if workdir is not None else None
    for name, flag, reqs in (("constraints", "--constraints", receipt.constraints),
                             ("overrides", "--overrides", receipt.overrides),
                             ("build-constraints", "--build-constraints", receipt.build_constraints)):
        if reqs:
            argv.append(f"{flag}={_spill(workdir, name, [requirement_text(r) for r in reqs])}")
    if receipt.excludes:
        argv.append(f"--excludes={_spill(workdir, 'excludes', [valid_name(n) for n in receipt.excludes])}")
    if first.source == "editable":
        argv.append("--editable")
    argv += ["--", requirement_text(first, editable_ok=True)]
    return tuple(argv)
