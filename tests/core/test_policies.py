"""What ``prune --package NAME`` and the marked rows choose to delete (envtui.core.packages,
envtui.core.prune.packages), over caches made by hand in the layouts uv writes: every generation
of buckets, every name that is a prefix of another, every spelling of the root. Fast: these are
the tests the mutation run holds the two modules to."""

from __future__ import annotations

import os
from pathlib import Path

import msgpack
import pytest

from envtui.core.buckets import list_buckets
from envtui.core.disk import scan_disk
from envtui.core.disk.scan import EntryUsage
from envtui.core.errors import ScanCancelled
from envtui.core.packages import (
    DELETED_AGES,
    INDEX_PAGE,
    SDIST,
    WHEEL,
    Package,
    PackageEntry,
    clean_targets,
    environment_inodes,
    flat_index_buckets,
    package_name,
    package_names,
    packages_to_json,
    scan_packages,
    users_of,
)
from envtui.core.prune import Kind, execute_plan
from envtui.core.prune import packages as pp
from envtui.core.prune.safety import DELETABLE_AGES
from tests.core.handmade import (  # noqa: F401 (_no_process_scan: a fixture)
    _no_process_scan,
    BLOCK,
    cached_env,
    make_cache,
    pyvenv,
    scan,
    script_env,
    sdist_revision,
    stop_in,
    stop_within,
    tree,
    unpacked,
    wheel_link,
)

D1, D2 = "1ab151bbfd4d315a", "2cccce3a8646358d"


@pytest.fixture(autouse=True)
def _empty_working_directory(tmp_path_factory, monkeypatch):
    """Relative paths a broken mutant might make resolve in an empty directory of their own."""
    monkeypatch.chdir(tmp_path_factory.mktemp("cwd"))


def rel(root: Path, paths) -> list[str]:
    real = os.path.realpath(root)
    return [os.path.relpath(p, real) for p in paths]


def prefix_cache(tmp_path: Path) -> Path:
    """tabulate and every name that sorts beside it: ``tabulate-extras`` (``-`` sorts before the
    ``/`` that ends ``tabulate``), ``tabulate.x`` (so does ``.``), ``tabulate0`` and
    ``tabulate_extras`` (after it); each with its own unpacked wheel."""
    root = make_cache(tmp_path / "cache", "wheels-v8", "simple-v28")
    for name, ident in (("tabulate", "Tab"), ("tabulate-extras", "TabX"), ("tabulate.x", "TabDot"),
                        ("tabulate0", "Tab0"), ("tabulate_extras", "TabU")):
        unpacked(root, ident, name, "0.9")
        wheel_link(root, "wheels-v8", "pypi", name, "0.9-py3-none-any", ident)
        (root / "simple-v28" / "pypi").mkdir(parents=True, exist_ok=True)
        (root / "simple-v28" / "pypi" / f"{name}.rkyv").write_bytes(b"page")
    return root


# -- names ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("text,name", [
    ("tabulate", "tabulate"), ("Tabulate", "tabulate"), ("tabulate_extras", "tabulate-extras"),
    ("Tab.U-_.late", "tab-u-late"), ("a", "a"), ("7", "7"), ("A1", "a1"), ("x--y", "x-y"),
])
def test_a_package_name_is_normalised_as_uv_prints_it(text, name):
    assert package_name(text) == name


@pytest.mark.parametrize("text", [
    "", " ", "-a", "a-", ".a", "a.", "_", "_a", "a_", "a b", "a/b", "..", ".", "*", "a\n", "\ntabulate",
    "tabulate\n", "\u212aelvin", "caf\u00e9", "a\x00b", "--all", "a@b", "a==1",
])
def test_a_name_uv_refuses_is_refused_naming_it(text):
    with pytest.raises(ValueError) as err:
        package_name(text)
    assert repr(text) in str(err.value) and "not a package name" in str(err.value)


def test_a_name_that_is_no_string_is_refused():
    with pytest.raises(ValueError, match="not a package name: None"):
        package_name(None)  # type: ignore[arg-type]


def test_deleted_ages_are_the_safety_rules_deletable_ones():
    assert DELETED_AGES == DELETABLE_AGES


@pytest.mark.parametrize("text", ["", "..", "a/b", "-"])
def test_an_invalid_name_is_refused_before_anything_is_read(tmp_path, text):
    missing = tmp_path / "no-cache-here"
    with pytest.raises(ValueError, match="not a package name"):
        scan_packages(missing, names=["tabulate", text])
    with pytest.raises(ValueError, match="not a package name"):
        clean_targets([], text)
    with pytest.raises(ValueError, match="not a package name"):
        pp.package_candidates(missing, [], ["tabulate", text])


def test_an_empty_name_deletes_nothing_of_the_index_it_would_name(tmp_path):
    """``prune --package ''`` once took ``wheels-v8/pypi`` whole: ``pypi/`` + ``''``."""
    root = prefix_cache(tmp_path)
    inv = scan(root)
    with pytest.raises(ValueError, match="''"):
        pp.plan_packages(inv, [""], exclusive=True)
    assert (root / "wheels-v8" / "pypi" / "tabulate").is_dir()


# -- every name that is a prefix of another ----------------------------------------------------------


@pytest.mark.parametrize("asked,name,ident", [
    ("tabulate", "tabulate", "Tab"), ("Tabulate", "tabulate", "Tab"), ("tabulate-extras", "tabulate-extras", "TabX"),
    ("tabulate_extras", "tabulate-extras", "TabX"), ("TABULATE.EXTRAS", "tabulate-extras", "TabX"),
    ("tabulate0", "tabulate0", "Tab0"),
])
def test_a_package_takes_its_own_unpacked_wheel_whatever_names_sort_beside_it(tmp_path, asked, name, ident):
    root = prefix_cache(tmp_path)
    (pkg,) = scan_packages(root, names=[asked])
    assert pkg.name == name
    assert rel(root, [e.path for e in pkg.entries]) == [f"wheels-v8/pypi/{name}", f"simple-v28/pypi/{name}.rkyv"]
    assert rel(root, pkg.archives) == [f"archive-v0/{ident}"]
    assert pkg.kept_archives == () and pkg.versions == ("0.9",)


def test_prune_package_deletes_its_own_wheels_and_nothing_of_the_names_beside_it(tmp_path):
    root = prefix_cache(tmp_path)
    before = tree(root)
    plan = pp.plan_packages(scan(root), ["tabulate"], exclusive=True)
    assert plan.skipped == ()
    assert [rel(root, e.paths) for e in plan.entries] == [
        ["simple-v28/pypi/tabulate.rkyv"], ["wheels-v8/pypi/tabulate", "archive-v0/Tab"]]
    execute_plan(plan)
    gone = before - tree(root)
    assert {g for g in gone if os.sep not in g.partition(os.sep)[2].partition(os.sep)[2]} >= {
        "archive-v0/Tab", "wheels-v8/pypi/tabulate", "simple-v28/pypi/tabulate.rkyv"}
    assert all(g.startswith(("archive-v0/Tab/", "wheels-v8/pypi/tabulate/")) or g in {
        "archive-v0/Tab", "wheels-v8/pypi/tabulate", "simple-v28/pypi/tabulate.rkyv"} for g in gone)
    for other in ("TabX", "TabDot", "Tab0", "TabU"):
        assert (root / "archive-v0" / other).is_dir()


def test_a_link_that_is_the_entry_itself_counts_as_its_own(tmp_path):
    # Not what uv writes on Linux (a directory per package), but a link there is still the entry.
    root = make_cache(tmp_path / "cache", "wheels-v8/pypi")
    unpacked(root, "Whole", "odd", "1.0")
    (root / "wheels-v8" / "pypi" / "odd").symlink_to("../../archive-v0/Whole")
    (pkg,) = scan_packages(root, names=["odd"])
    assert rel(root, pkg.archives) == ["archive-v0/Whole"]


# -- every generation ---------------------------------------------------------------------------------


def generations_cache(tmp_path: Path) -> Path:
    """cowsay as uv 0.5 (``wheels-v3``, a wheel stem key, absolute link), uv 0.9 (``wheels-v5``),
    uv 0.13 (``wheels-v8``) and a newer uv (``wheels-v9``) left it, each in its own buckets."""
    root = make_cache(tmp_path / "cache", "wheels-v3", "wheels-v5", "wheels-v8", "wheels-v9", "simple-v15",
                      "simple-v28", "simple-v29", "sdists-v7", "sdists-v11", "flat-index-v2", "flat-index-v7",
                      "flat-index-v8")
    unpacked(root, "C05", "cowsay", "5.0")
    unpacked(root, "C09", "cowsay", "6.0")
    unpacked(root, "C13", "cowsay", "6.1")
    unpacked(root, "C99", "cowsay", "7.0")
    wheel_link(root, "wheels-v3", "pypi", "cowsay", "cowsay-5.0-py3-none-any", "C05", absolute=True, side=(".http",))
    wheel_link(root, "wheels-v5", "pypi", "cowsay", "6.0-py3-none-any", "C09", absolute=True)
    wheel_link(root, "wheels-v8", f"index/{D1}", "cowsay", "6.1-py3-none-any", "C13")
    wheel_link(root, "wheels-v9", "pypi", "cowsay", "7.0-py3-none-any", "C99")
    for b in ("simple-v15", "simple-v28", "simple-v29"):
        (root / b / "pypi").mkdir()
        (root / b / "pypi" / "cowsay.rkyv").write_bytes(b"page")
    sdist_revision(root, "sdists-v7", "url", "u1", "r1", "cowsay")
    sdist_revision(root, "sdists-v11", "path", "p1", "r1", "Cowsay")
    for b in ("flat-index-v2", "flat-index-v7", "flat-index-v8"):
        (root / b / "html").mkdir()
    return root


def test_every_generation_is_cleaned_as_its_own_uv_would_and_a_newer_one_is_only_read(tmp_path):
    root = generations_cache(tmp_path)
    (pkg,) = scan_packages(root, names=["cowsay"])
    assert [(r, e.kind, e.source, e.versions) for r, e in zip(rel(root, [e.path for e in pkg.entries]), pkg.entries)] == [
        ("wheels-v3/pypi/cowsay", WHEEL, "pypi", ("5.0",)),
        ("wheels-v5/pypi/cowsay", WHEEL, "pypi", ("6.0",)),
        ("wheels-v8/index/1ab151bbfd4d315a/cowsay", WHEEL, f"index/{D1}", ("6.1",)),
        ("sdists-v7/url/u1", SDIST, "url/u1", ()),
        ("sdists-v11/path/p1", SDIST, "path/p1", ()),
        ("simple-v15/pypi/cowsay.rkyv", INDEX_PAGE, "pypi", ()),
        ("simple-v28/pypi/cowsay.rkyv", INDEX_PAGE, "pypi", ()),
    ]
    # uv 0.10 and older wrote absolute links: their archive entries go with their package.
    assert rel(root, pkg.archives) == ["archive-v0/C05", "archive-v0/C09", "archive-v0/C13"]
    assert pkg.versions == ("5.0", "6.0", "6.1")
    assert rel(root, [e.path for e in pkg.untouched]) == ["wheels-v9/pypi/cowsay", "simple-v29/pypi/cowsay.rkyv"]
    assert [b.dirname for b in flat_index_buckets(list_buckets(root))] == ["flat-index-v2", "flat-index-v7"]
    assert [b.dirname for b in flat_index_buckets(list_buckets(root), ages=("newer",))] == ["flat-index-v8"]


def test_the_plan_for_every_generation_says_what_a_newer_uv_keeps(tmp_path):
    root = generations_cache(tmp_path)
    plan = pp.plan_packages(scan(root), ["cowsay"], exclusive=True)
    planned = [rel(root, e.paths) for e in plan.entries]
    assert ["wheels-v3/pypi/cowsay", "archive-v0/C05"] in planned
    assert ["wheels-v5/pypi/cowsay", "archive-v0/C09"] in planned
    assert [f"wheels-v8/index/{D1}/cowsay", "archive-v0/C13"] in planned
    assert ["flat-index-v2"] in planned and ["flat-index-v7"] in planned
    skipped = {os.path.relpath(s.path, root): s.reason for s in plan.skipped}
    assert skipped == {
        "wheels-v9/pypi/cowsay": "package cowsay: wheels-v9 is a newer uv's bucket: never touched",
        "simple-v29/pypi/cowsay.rkyv": "package cowsay: simple-v29 is a newer uv's bucket: never touched",
        "flat-index-v8": "flat-index-v8 is a newer uv's flat index: never touched",
    }
    assert (root / "archive-v0" / "C99").is_dir()
    labels = {e.label for e in plan.entries}
    assert "cowsay wheel cache (wheels-v3 pypi: 5.0)" in labels
    assert "cowsay source distribution (sdists-v11 path/p1)" in labels
    assert "flat-index-v7 (the whole flat index)" in labels


def test_an_archive_entry_another_generation_links_to_is_kept(tmp_path):
    root = make_cache(tmp_path / "cache", "wheels-v5", "wheels-v8")
    unpacked(root, "Shared", "six", "1.17.0")
    wheel_link(root, "wheels-v8", "pypi", "six", "1.17.0-py2.py3-none-any", "Shared")
    wheel_link(root, "wheels-v5", "pypi", "other", "1.0-py3-none-any", "Shared", absolute=True)
    (pkg,) = scan_packages(root, names=["six"])
    assert pkg.archives == () and rel(root, pkg.kept_archives) == ["archive-v0/Shared"]
    assert pkg.versions == ("1.17.0",)
    candidates, kept, _ = pp.package_candidates(root, list_buckets(root), ["six"])
    assert [rel(root, c.paths) for c, _why in candidates] == [["wheels-v8/pypi/six"]]
    assert [(os.path.relpath(p, root), k, why) for p, k, why in kept] == [
        ("archive-v0/Shared", Kind.ARCHIVE, "package six: another link still points at it")]


# -- wheel cache keys ----------------------------------------------------------------------------------


@pytest.mark.parametrize("names,versions", [
    (["0.9-py3-none-any"], ("0.9",)),
    (["0.8-py3-none-any.http", "0.8-py3-none-any.lock", "0.8-py3-none-any.rev"], ("0.8",)),
    (["0.7-py3-none-any.msgpack"], ("0.7",)),
    (["tabulate-0.6-py3-none-any"], ("0.6",)),  # uv 0.4 - 0.5: the wheel's stem
    (["1.2.3-0123456789abcdef"], ("1.2.3",)),  # a key too long for version-tags
    (["1.2.3-0123456789abcdeg", "1.2.3-0123456789abcde", "1.2.3-0123456789ABCDEF"], ()),
    (["weird", "a-b-c", "a-b-c-d-e-f", ".lock"], ()),
    (["1.0-py3-none-any", "0.9-py3-none-any.http", "1.0-py3-none-any.lock"], ("0.9", "1.0")),
])
def test_versions_read_from_every_form_of_wheel_cache_key(tmp_path, names, versions):
    root = make_cache(tmp_path / "cache", "wheels-v8/pypi/pkg")
    for n in names:
        (root / "wheels-v8" / "pypi" / "pkg" / n).write_bytes(b"")
    (entry,) = clean_targets(list_buckets(root), "pkg")
    assert entry.versions == versions


def test_an_unreadable_wheel_directory_has_no_versions(tmp_path):
    root = make_cache(tmp_path / "cache", "wheels-v8/pypi")
    (root / "wheels-v8" / "pypi" / "pkg").write_bytes(b"not a directory")
    (entry,) = clean_targets(list_buckets(root), "pkg")
    assert entry.versions == () and entry.kind == WHEEL


# -- every place uv cache clean looks ---------------------------------------------------------------------


def every_place_cache(tmp_path: Path) -> Path:
    root = make_cache(tmp_path / "cache", "wheels-v8", "sdists-v11", "simple-v28")
    for where in ("pypi", f"index/{D1}", f"index/{D2}", "url/u1"):
        wheel_link(root, "wheels-v8", where, "pkg", "1.0-py3-none-any", None)
        wheel_link(root, "wheels-v8", where, "pkg-extras", "1.0-py3-none-any", None)
    for where in ("pypi", f"index/{D1}"):
        (root / "sdists-v11" / where / "pkg" / "1.0").mkdir(parents=True)
        (root / "sdists-v11" / where / "pkg-extras").mkdir(parents=True)
        (root / "simple-v28" / where).mkdir(parents=True)
        (root / "simple-v28" / where / "pkg.rkyv").write_bytes(b"page")
        (root / "simple-v28" / where / "pkg-extras.rkyv").write_bytes(b"page")
    (root / "simple-v28" / where / "pkg").mkdir()  # a directory named like the package is no page
    sdist_revision(root, "sdists-v11", "url", "u1", "r1", "pkg")
    sdist_revision(root, "sdists-v11", "url", "u2", "r1", "pkg-extras")
    sdist_revision(root, "sdists-v11", "url", "u3", "r1", None, form="garbage")
    sdist_revision(root, "sdists-v11", "url", "u3", "r2", "PKG", form="map")  # a later revision names it
    sdist_revision(root, "sdists-v11", "path", "p1", "r1", "Pkg")
    sdist_revision(root, "sdists-v11", "path", "p2", "r1", None, form="none")
    sdist_revision(root, "sdists-v11", "git", "repo1", "sha1", "pkg")
    sdist_revision(root, "sdists-v11", "git", "repo1", "sha2", "pkg-extras")
    sdist_revision(root, "sdists-v11", "git", "repo2", "sha3", "pkg")
    (root / "sdists-v11" / "git" / "repo2" / "not-a-dir").write_bytes(b"")
    bad = root / "sdists-v11" / "path" / "p3" / "r1"
    bad.mkdir(parents=True)
    (bad / "metadata.msgpack").write_bytes(msgpack.packb([7, "1.0"]))  # a name that is no string
    (root / "sdists-v11" / "path" / "p4" / "r1").mkdir(parents=True)
    (root / "sdists-v11" / "path" / "p4" / "r1" / "metadata.msgpack").write_bytes(msgpack.packb([]))
    return root


def test_every_place_uv_cache_clean_looks_and_no_other(tmp_path):
    root = every_place_cache(tmp_path)
    got = [(os.path.relpath(e.path, root), e.kind, e.source) for e in clean_targets(list_buckets(root), "PKG")]
    assert got == [
        ("wheels-v8/pypi/pkg", WHEEL, "pypi"),
        (f"wheels-v8/index/{D1}/pkg", WHEEL, f"index/{D1}"),
        (f"wheels-v8/index/{D2}/pkg", WHEEL, f"index/{D2}"),
        ("wheels-v8/url/u1/pkg", WHEEL, "url/u1"),
        ("sdists-v11/pypi/pkg", SDIST, "pypi"),
        (f"sdists-v11/index/{D1}/pkg", SDIST, f"index/{D1}"),
        ("sdists-v11/url/u1", SDIST, "url/u1"),
        ("sdists-v11/url/u3", SDIST, "url/u3"),
        ("sdists-v11/path/p1", SDIST, "path/p1"),
        ("sdists-v11/git/repo1/sha1", SDIST, "git/repo1/sha1"),
        ("sdists-v11/git/repo2/sha3", SDIST, "git/repo2/sha3"),
        ("simple-v28/pypi/pkg.rkyv", INDEX_PAGE, "pypi"),
        (f"simple-v28/index/{D1}/pkg.rkyv", INDEX_PAGE, f"index/{D1}"),
    ]
    assert [os.path.relpath(e.path, root) for e in clean_targets(list_buckets(root), "pkg-extras")] == [
        "wheels-v8/pypi/pkg-extras", f"wheels-v8/index/{D1}/pkg-extras", f"wheels-v8/index/{D2}/pkg-extras",
        "wheels-v8/url/u1/pkg-extras", "sdists-v11/pypi/pkg-extras", f"sdists-v11/index/{D1}/pkg-extras",
        "sdists-v11/url/u2", "sdists-v11/git/repo1/sha2", "simple-v28/pypi/pkg-extras.rkyv",
        f"simple-v28/index/{D1}/pkg-extras.rkyv"]
    assert package_names(list_buckets(root)) == ["pkg", "pkg-extras"]


def test_a_cache_without_those_buckets_has_no_packages(tmp_path):
    root = make_cache(tmp_path / "cache", "environments-v2")
    assert clean_targets(list_buckets(root), "pkg") == []
    assert package_names(list_buckets(root)) == []
    assert flat_index_buckets(list_buckets(root)) == []


def test_package_names_are_those_uv_writes_in_every_generation(tmp_path):
    root = make_cache(tmp_path / "cache", "wheels-v3/pypi", "wheels-v9/url/u1", "sdists-v11/pypi", "simple-v28/pypi",
                      "simple-v15/index/x", "foo-v1/pypi/foreign", "wheels-v8/pypi")
    for d in ("wheels-v3/pypi/old", "wheels-v9/url/u1/newer", "sdists-v11/pypi/sdist-only", "wheels-v8/pypi/Tabulate",
              "wheels-v8/pypi/a b", "wheels-v8/pypi/-x", "wheels-v8/pypi/x_y", "wheels-v8/pypi/ok.name"):
        (root / d).mkdir(parents=True)
    (root / "wheels-v8" / "pypi" / "file-not-dir").write_bytes(b"")
    (root / "simple-v28" / "pypi" / "paged.rkyv").write_bytes(b"")
    (root / "simple-v28" / "pypi" / "notapage.json").write_bytes(b"")
    (root / "simple-v15" / "index" / "x" / "older-page.rkyv").write_bytes(b"")
    (root / "simple-v28" / "pypi" / "Upper.rkyv").write_bytes(b"")
    sdist_revision(root, "sdists-v11", "git", "r", "s", "From_Git")
    sdist_revision(root, "sdists-v11", "url", "u", "r", "from.url")
    sdist_revision(root, "sdists-v11", "path", "p", "r", "from-path")
    sdist_revision(root, "sdists-v11", "url", "v", "r", None, form="garbage")
    assert package_names(list_buckets(root)) == [
        "from-git", "from-path", "from-url", "newer", "old", "older-page", "paged", "sdist-only"]


# -- archive entries, users, bytes -----------------------------------------------------------------------


def used_cache(tmp_path: Path) -> Path:
    """tabulate 0.9 unpacked (linked from pypi and from an index: one wheel, two links); its file
    hardlinked by a script environment and by a cached environment; a link whose target is gone and
    one to a file; tabulate-extras beside it."""
    root = make_cache(tmp_path / "cache", "wheels-v8", "environments-v2")
    tab = unpacked(root, "Tab", "tabulate", "0.9", size=4 * BLOCK)
    unpacked(root, "TabX", "tabulate-extras", "1.0")
    wheel_link(root, "wheels-v8", "pypi", "tabulate", "0.9-py3-none-any", "Tab")
    wheel_link(root, "wheels-v8", f"index/{D1}", "tabulate", "0.9-py3-none-any", "Tab")
    wheel_link(root, "wheels-v8", f"index/{D1}", "tabulate", "0.1-py3-none-any", "Gone")
    (root / "archive-v0" / "AFile").write_bytes(b"x")
    wheel_link(root, "wheels-v8", f"index/{D1}", "tabulate", "0.2-py3-none-any", "AFile")
    wheel_link(root, "wheels-v8", "pypi", "tabulate-extras", "1.0-py3-none-any", "TabX")
    env = script_env(root, tmp_path / "work" / "report.py")
    os.link(tab / "tabulate" / "__init__.py", env / "lib" / "tabulate.py")
    cached_env(root, "8b0cbae4892decd7", "80437497dd3db7a4", "Env1")
    os.link(tab / "tabulate" / "__init__.py", root / "archive-v0" / "Env1" / "lib" / "tabulate.py")
    return root


def test_one_wheel_linked_from_two_entries_goes_with_both_as_one(tmp_path):
    root = used_cache(tmp_path)
    candidates, kept, packages = pp.package_candidates(root, list_buckets(root), ["tabulate"],
                                                       environments=scan(root).environments)
    assert kept == []
    (pkg,) = packages
    assert rel(root, pkg.archives) == ["archive-v0/Tab"]
    assert [rel(root, c.paths) for c, _ in candidates] == [
        ["wheels-v8/pypi/tabulate", f"wheels-v8/index/{D1}/tabulate", "archive-v0/Tab"]]
    entry, why = candidates[0]
    assert entry.kind == Kind.CACHE_ENTRY and entry.needs_exclusive and entry.uses == entry.paths
    assert entry.path == Path(os.path.realpath(root)) / "wheels-v8" / "pypi" / "tabulate"
    assert entry.label == "tabulate wheel cache (wheels-v8 pypi: 0.9)"
    assert why == ("package tabulate; with the unpacked wheel only it links to: 0.9 (Tab); files hardlinked by "
                   "2 environments stay on disk (cached environment 8b0cbae4892decd7/80437497dd3db7a4, script environment report.py)")


def test_users_are_named_from_the_walk_and_from_the_disk_report_alike(tmp_path):
    root = used_cache(tmp_path)
    (walked,) = scan_packages(root, names=["tabulate"])
    (reported,) = scan_packages(root, names=["tabulate"], report=scan_disk(root))
    assert walked.used_by == reported.used_by
    script = os.path.relpath(next((root / "environments-v2").glob("report-*")), root)
    assert rel(root, walked.used_by) == ["archive-v0/Env1", script]
    (none,) = scan_packages(root, names=["tabulate-extras"])
    assert none.used_by == ()


def test_users_come_from_a_report_of_the_root_spelled_another_way(tmp_path):
    root = used_cache(tmp_path)
    (tmp_path / "alias").symlink_to(root)
    (reported,) = scan_packages(root, names=["tabulate"], report=scan_disk(tmp_path / "alias"))
    (walked,) = scan_packages(root, names=["tabulate"])
    assert reported.used_by == walked.used_by and len(walked.used_by) == 2


def test_environment_inodes_and_users_of(tmp_path):
    root = used_cache(tmp_path)
    buckets = list_buckets(root)
    inodes = environment_inodes(buckets)
    tab = root / "archive-v0" / "Tab" / "tabulate" / "__init__.py"
    st = tab.stat()
    assert sorted(rel(root, inodes[(st.st_dev, st.st_ino)])) == sorted(
        ["archive-v0/Env1", os.path.relpath(next((root / "environments-v2").glob("report-*")), root)])
    # Only hardlinked files, and each environment once however many of its files share the inode.
    assert all(len(set(v)) == len(v) for v in inodes.values())
    own = root / "archive-v0" / "Env1" / "lib" / "own.py"
    assert (own.stat().st_dev, own.stat().st_ino) not in inodes
    os.link(tab, root / "archive-v0" / "Env1" / "lib" / "again.py")
    assert len(environment_inodes(buckets)[(st.st_dev, st.st_ino)]) == 2
    users = users_of([root / "archive-v0" / "Tab", root / "archive-v0" / "Env1"], inodes)
    # An archive entry is no user of itself.
    assert rel(root, users) == [os.path.relpath(next((root / "environments-v2").glob("report-*")), root)]
    with pytest.raises(ScanCancelled):
        environment_inodes(buckets, should_stop=lambda: True)
    with pytest.raises(ScanCancelled):
        users_of([root / "archive-v0" / "Tab"], inodes, should_stop=lambda: True)


def test_bytes_are_those_the_package_s_paths_hold_and_free(tmp_path):
    root = used_cache(tmp_path)
    (pkg,) = scan_packages(root, names=["tabulate"])
    tab = root / "archive-v0" / "Tab"
    own = sum(os.lstat(os.path.join(t, n)).st_blocks * 512 for t, ds, fs in os.walk(tab) for n in ds + fs)
    own += os.lstat(tab).st_blocks * 512
    links = sum(os.lstat(p).st_blocks * 512 for e in pkg.entries for p in [e.path, *e.path.rglob("*")])
    assert pkg.disk == own + links
    shared = os.lstat(tab / "tabulate" / "__init__.py").st_blocks * 512
    assert pkg.freed == pkg.disk - shared
    (unsized,) = scan_packages(root, names=["tabulate"], sizes=False)
    assert unsized.disk is None and unsized.freed is None
    # A file hardlinked twice inside the package's own paths counts once.
    os.link(tab / "tabulate" / "__init__.py", tab / "tabulate" / "copy.py")
    (again,) = scan_packages(root, names=["tabulate"])
    assert again.disk == pkg.disk


def test_scan_packages_lists_every_package_largest_first(tmp_path):
    root = used_cache(tmp_path)
    unpacked(root, "Big", "big", "1.0", size=40 * BLOCK)
    wheel_link(root, "wheels-v8", "pypi", "big", "1.0-py3-none-any", "Big")
    (root / "wheels-v8" / "pypi" / "aaa").mkdir()
    (root / "wheels-v8" / "pypi" / "zzz").mkdir()
    names = [p.name for p in scan_packages(root)]
    assert names[:3] == ["big", "tabulate", "tabulate-extras"]
    assert names[3:] == ["aaa", "zzz"]  # same size: by name
    assert [p.name for p in scan_packages(root, names=["Big", "big", "BIG"])] == ["big"]
    (empty,) = scan_packages(root, names=["nothing-here"])
    assert empty == Package("nothing-here", (), (), (), (), (), 0, 0)
    with pytest.raises(ScanCancelled):
        scan_packages(root, should_stop=lambda: True)
    calls = []
    with pytest.raises(ScanCancelled):
        scan_packages(root, names=["big", "tabulate"], should_stop=lambda: calls.append(1) or len(calls) > 12)


@pytest.mark.parametrize("spelling", ["symlink", "dotdot", "relative"])
def test_every_spelling_of_the_root_finds_the_same_package(tmp_path, spelling, monkeypatch):
    root = used_cache(tmp_path)
    expected = scan_packages(root, names=["tabulate"])[0]
    if spelling == "symlink":
        (tmp_path / "alias").symlink_to(root)
        spelled = tmp_path / "alias"
    elif spelling == "dotdot":
        spelled = root / "archive-v0" / ".." / ".." / "cache"
    else:
        monkeypatch.chdir(tmp_path)
        spelled = Path("cache")
    (pkg,) = scan_packages(spelled, names=["tabulate"])
    assert pkg == expected
    assert str(pkg.archives[0]).startswith(os.path.realpath(root) + os.sep)
    plan = pp.plan_packages(scan(spelled), ["tabulate"], exclusive=True)
    assert [rel(root, e.paths) for e in plan.entries] == [
        ["wheels-v8/pypi/tabulate", f"wheels-v8/index/{D1}/tabulate", "archive-v0/Tab"]]


def test_packages_to_json(tmp_path):
    root = generations_cache(tmp_path)
    (doc,) = packages_to_json(scan_packages(root, names=["cowsay"], sizes=False))
    assert doc["name"] == "cowsay" and doc["versions"] == ["5.0", "6.0", "6.1"]
    assert doc["bytes"] == {"disk": None, "freed": None} and doc["used_by"] == []
    assert doc["entries"][0] == {"path": str(Path(os.path.realpath(root)) / "wheels-v3" / "pypi" / "cowsay"),
                                 "kind": WHEEL, "source": "pypi"}
    assert [Path(a).name for a in doc["archives"]] == ["C05", "C09", "C13"]
    assert rel(root, doc["untouched"]) == ["wheels-v9/pypi/cowsay", "simple-v29/pypi/cowsay.rkyv"]
    assert PackageEntry(Path("x"), WHEEL, "pypi").versions == ()


def test_a_package_s_paths_are_its_entries_then_its_archive_entries():
    pkg = Package("p", (), (PackageEntry(Path("/c/w/p"), WHEEL, "pypi"), PackageEntry(Path("/c/s/p.rkyv"), INDEX_PAGE, "pypi")),
                  (Path("/c/archive-v0/A"),))
    assert pkg.paths == (Path("/c/w/p"), Path("/c/s/p.rkyv"), Path("/c/archive-v0/A"))


# -- marked rows: archive entries, buckets, entries, packages -------------------------------------------------


def marked_cache(tmp_path: Path) -> Path:
    """An unpacked wheel linked from the wheel cache and from an older generation; one nothing
    links to; a persisted cached environment with its link and lock; an archive-level link; an
    older archive bucket; a foreign directory; a flat index."""
    root = make_cache(tmp_path / "cache", "wheels-v8", "wheels-v5", "environments-v2", "archive-v9", "mine",
                      "flat-index-v7/html")
    unpacked(root, "Linked", "linked", "1.0")
    unpacked(root, "Alone", "alone", "1.0")
    wheel_link(root, "wheels-v8", "pypi", "linked", "1.0-py3-none-any", "Linked")
    wheel_link(root, "wheels-v5", "pypi", "linked", "1.0-py3-none-any", "Linked", absolute=True)
    cached_env(root, "8b0cbae4892decd7", "80437497dd3db7a4", "Env1")
    (root / "archive-v0" / "Env1" / "lib" / "pkg").symlink_to("../../Alone")  # inside the bucket: goes with it
    (root / "flat-index-v7" / "html" / "x.msgpack").write_bytes(b"x")
    return root


def test_a_marked_archive_entry_takes_its_links_first(tmp_path):
    root = marked_cache(tmp_path)
    links = pp.links_by_target(list_buckets(root))
    real = Path(os.path.realpath(root))
    assert sorted(rel(root, links[str(real / "archive-v0" / "Linked")])) == [
        "wheels-v5/pypi/linked/1.0-py3-none-any", "wheels-v8/pypi/linked/1.0-py3-none-any"]
    entry, why = pp.archive_candidate(root / "archive-v0" / "Linked", links, root, "linked 1.0")
    assert (entry.kind, entry.label, entry.needs_exclusive) == (Kind.CACHE_ENTRY, "linked 1.0", True)
    assert rel(root, entry.paths) == ["wheels-v5/pypi/linked/1.0-py3-none-any", "wheels-v8/pypi/linked/1.0-py3-none-any",
                                      "archive-v0/Linked"]
    assert rel(root, entry.uses) == ["archive-v0/Linked", "wheels-v5/pypi/linked/1.0-py3-none-any",
                                     "wheels-v8/pypi/linked/1.0-py3-none-any"]
    assert why == ("marked; its links go first: wheels-v5/pypi/linked/1.0-py3-none-any, "
                   "wheels-v8/pypi/linked/1.0-py3-none-any")
    env, why = pp.archive_candidate(root / "archive-v0" / "Env1", links, root)
    assert rel(root, env.paths) == ["environments-v2/8b0cbae4892decd7/80437497dd3db7a4",
                                    "environments-v2/8b0cbae4892decd7/80437497dd3db7a4.lock", "archive-v0/Env1"]
    assert env.label == "Env1"
    alone, why = pp.archive_candidate(root / "archive-v0" / "Alone", links, root)
    assert (alone.kind, alone.paths, alone.uses, alone.label, alone.needs_exclusive, why) == (
        Kind.ARCHIVE, (root / "archive-v0" / "Alone",), (root / "archive-v0" / "Alone",), "Alone", True,
        "marked; nothing links to it")


def test_a_marked_archive_entry_of_a_root_spelled_another_way_takes_its_links_first(tmp_path):
    root = marked_cache(tmp_path)
    (tmp_path / "alias").symlink_to(root)
    for spelled in (tmp_path / "alias", root / "mine" / ".." / ".." / "cache"):
        links = pp.links_by_target(list_buckets(spelled))
        entry, _ = pp.archive_candidate(spelled / "archive-v0" / "Linked", links, spelled)
        assert len(entry.paths) == 3 and entry.kind == Kind.CACHE_ENTRY


def test_a_link_without_its_lock_goes_alone_and_a_lock_outside_environments_is_not_its(tmp_path):
    root = marked_cache(tmp_path)
    (root / "environments-v2" / "8b0cbae4892decd7" / "80437497dd3db7a4.lock").unlink()
    (root / "wheels-v8" / "pypi" / "linked" / "1.0-py3-none-any.lock").write_bytes(b"")
    links = pp.links_by_target(list_buckets(root))
    env, _ = pp.archive_candidate(root / "archive-v0" / "Env1", links, root)
    assert rel(root, env.paths) == ["environments-v2/8b0cbae4892decd7/80437497dd3db7a4", "archive-v0/Env1"]
    wheel, _ = pp.archive_candidate(root / "archive-v0" / "Linked", links, root)
    assert "wheels-v8/pypi/linked/1.0-py3-none-any.lock" not in rel(root, wheel.paths)


def test_a_marked_archive_bucket_takes_every_link_into_it_from_outside_first(tmp_path):
    root = marked_cache(tmp_path)
    links = pp.links_by_target(list_buckets(root))
    archive = next(b for b in list_buckets(root) if b.dirname == "archive-v0")
    entry, why = pp.bucket_candidate(archive, links)
    assert rel(root, entry.paths) == [
        "environments-v2/8b0cbae4892decd7/80437497dd3db7a4", "environments-v2/8b0cbae4892decd7/80437497dd3db7a4.lock",
        "wheels-v5/pypi/linked/1.0-py3-none-any", "wheels-v8/pypi/linked/1.0-py3-none-any", "archive-v0"]
    assert (entry.kind, entry.label, entry.uses, entry.needs_exclusive) == (Kind.BUCKET, "archive-v0", (archive.path,), True)
    assert why == "marked: the whole bucket; the 3 links into it go first"
    old = next(b for b in list_buckets(root) if b.dirname == "wheels-v5")
    entry, why = pp.bucket_candidate(old, links)
    assert entry.paths == (old.path,) and why == "marked: the whole bucket, left by an older uv"
    empty = make_cache(tmp_path / "empty")
    archive = next(b for b in list_buckets(empty) if b.dirname == "archive-v0")
    entry, why = pp.bucket_candidate(archive, {})
    assert entry.paths == (archive.path,) and why == "marked: the whole bucket"


def test_marked_rows_of_every_screen_become_candidates(tmp_path):
    root = marked_cache(tmp_path)
    inv = scan(root)
    from envtui.core.archive import scan_archive

    archive = {a.id: a for a in scan_archive(root, environments=inv.environments)}
    report = scan_disk(root)
    buckets = {b.dirname: b for b in list_buckets(root)}
    usage = {os.path.relpath(p, root): u for p, u in report.entries.items()}
    env = next(e for e in inv.environments if e.kind == "cached")
    pkg = scan_packages(root, names=["linked"], sizes=False)[0]
    records = [archive["Alone"], buckets["wheels-v5"], (buckets["flat-index-v7"], None), buckets["mine"],
               usage["archive-v0/Linked"], usage["flat-index-v7/html"], usage["wheels-v5/pypi"], env, pkg]
    candidates, kept = pp.marked_candidates(inv, records)
    got = [(c.kind, rel(root, c.paths), why) for c, why in candidates]
    assert got[:2] == [
        (Kind.CACHE_ENTRY, ["wheels-v5/pypi/linked", "wheels-v8/pypi/linked", "archive-v0/Linked"],
         "package linked; with the unpacked wheel only it links to: 1.0 (Linked)"),
        (Kind.BUCKET, ["flat-index-v7"], "uv cache clean NAME removes the whole flat index: it cannot tell which packages it lists"),
    ]
    assert got[2:] == [
        (Kind.ARCHIVE, ["archive-v0/Alone"], "marked; nothing links to it"),
        (Kind.BUCKET, ["wheels-v5"], "marked: the whole bucket, left by an older uv"),
        (Kind.BUCKET, ["flat-index-v7"], "marked: the whole bucket"),
        (Kind.CACHE_ENTRY, ["wheels-v5/pypi/linked/1.0-py3-none-any", "wheels-v8/pypi/linked/1.0-py3-none-any",
                            "archive-v0/Linked"],
         "marked; its links go first: wheels-v5/pypi/linked/1.0-py3-none-any, wheels-v8/pypi/linked/1.0-py3-none-any"),
        (Kind.CACHE_ENTRY, ["flat-index-v7/html"], "marked"),
        (Kind.CACHE_ENTRY, ["wheels-v5/pypi"], "marked"),
        (Kind.CACHED_ENV, ["environments-v2/8b0cbae4892decd7/80437497dd3db7a4",
                           "environments-v2/8b0cbae4892decd7/80437497dd3db7a4.lock", "archive-v0/Env1"], "marked"),
    ]
    assert [(os.path.relpath(p, root), k, why) for p, k, why in kept] == [
        ("mine", Kind.BUCKET, "mine is not a bucket uv owns: never deleted")]
    entry_usage = next(c for c, _ in candidates if c.path == root / "flat-index-v7" / "html")
    assert (entry_usage.label, entry_usage.uses, entry_usage.needs_exclusive) == ("html", (root / "flat-index-v7" / "html",), True)
    assert pp.marked_candidates(inv, []) == ([], [])


def test_a_marked_link_entry_is_measured_and_deleted_with_its_lock(tmp_path):
    root = marked_cache(tmp_path)
    link = root / "environments-v2" / "8b0cbae4892decd7" / "80437497dd3db7a4"
    usage = EntryUsage(link, "environments-v2", "link", None)  # type: ignore[arg-type]
    (c, why), = pp.marked_candidates(scan(root), [usage])[0]
    assert rel(root, c.paths) == ["environments-v2/8b0cbae4892decd7/80437497dd3db7a4",
                                  "environments-v2/8b0cbae4892decd7/80437497dd3db7a4.lock"]
    lock = EntryUsage(Path(str(link) + ".lock"), "environments-v2", "link", None)  # type: ignore[arg-type]
    (c, why), = pp.marked_candidates(scan(root), [lock])[0]
    assert rel(root, c.paths) == ["environments-v2/8b0cbae4892decd7/80437497dd3db7a4.lock"]


def test_marked_interpreter_entries_become_candidates(tmp_path):
    from envtui.core.interpreters import InterpreterEntry

    root = marked_cache(tmp_path)
    e = InterpreterEntry(root / "interpreter-v5" / "x" / "k.msgpack", 5, "x", "k", "stale", True, executable="/py")
    (c, why), = pp.marked_candidates(scan(root), [e])[0]
    assert (c.kind, c.paths, c.label, why) == (Kind.INTERPRETER, (e.path,), "/py", "marked")


def test_plan_marked_and_plan_candidates_list_what_is_kept_unless_planned(tmp_path):
    root = marked_cache(tmp_path)
    inv = scan(root)
    buckets = {b.dirname: b for b in list_buckets(root)}
    plan = pp.plan_marked(inv, [buckets["wheels-v5"], buckets["mine"]], exclusive=True)
    assert [e.path for e in plan.entries] == [root / "wheels-v5"]
    assert plan.entries[0].reasons == ("marked: the whole bucket, left by an older uv",)
    assert [(s.path, s.kind, s.reason) for s in plan.skipped] == [
        (root / "mine", Kind.BUCKET, "mine is not a bucket uv owns: never deleted")]
    c = pp.bucket_candidate(buckets["wheels-v5"], {})
    plan = pp.plan_candidates(inv, [c], [(root / "wheels-v5", Kind.BUCKET, "kept?")], exclusive=True)
    assert [e.path for e in plan.entries] == [root / "wheels-v5"] and plan.skipped == ()
    assert list(pp.iter_paths([c, c])) == [root / "wheels-v5", root / "wheels-v5"]


def test_users_of_a_package_are_named_three_at_most(tmp_path):
    names = {Path(f"/c/e{i}"): f"env {i}" for i in range(5)}
    assert pp._users_note([], Path("/c"), names) == ""
    assert pp._users_note([Path("/c/e0")], Path("/c"), names) == "; files hardlinked by 1 environment stay on disk (env 0)"
    assert pp._users_note([Path("/c/x/y")], Path("/c"), {}) == "; files hardlinked by 1 environment stay on disk (x/y)"
    assert pp._users_note([Path(f"/c/e{i}") for i in range(3)], Path("/c"), names) == (
        "; files hardlinked by 3 environments stay on disk (env 0, env 1, env 2)")
    assert pp._users_note([Path(f"/c/e{i}") for i in range(5)], Path("/c"), names) == (
        "; files hardlinked by 5 environments stay on disk (env 0, env 1, env 2 and 2 more)")


# -- what the first mutation run let through ------------------------------------------------------------------


def test_the_refusal_says_what_a_name_may_hold():
    with pytest.raises(ValueError) as err:
        package_name("a b")
    assert str(err.value) == ("not a package name: 'a b' (a name starts and ends with a letter or digit "
                              "and holds only letters, digits, '-', '_' and '.')")


def test_a_symlinked_index_directory_is_not_read(tmp_path):
    # uv's directories() takes file types without following links: nor does envtui.
    root = make_cache(tmp_path / "cache", "wheels-v8/index", "sdists-v11/url", "simple-v28/index")
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "pkg").mkdir(parents=True)
    (elsewhere / "pkg.rkyv").write_bytes(b"")
    sdist_revision(tmp_path, "x", "url", "u", "r", "pkg")
    for b in ("wheels-v8/index/evil", "simple-v28/index/evil"):
        (root / b).symlink_to(elsewhere)
    (root / "sdists-v11" / "url" / "evil").symlink_to(tmp_path / "x" / "url" / "u")
    assert clean_targets(list_buckets(root), "pkg") == []
    assert package_names(list_buckets(root)) == []


def test_source_distribution_metadata_as_a_map_with_other_keys_and_too_big_to_read(tmp_path):
    root = make_cache(tmp_path / "cache", "sdists-v11/url/u1/r", "sdists-v11/url/u2/r")
    (root / "sdists-v11" / "url" / "u1" / "r" / "metadata.msgpack").write_bytes(
        msgpack.packb({1: "odd key", "name": "pkg"}, strict_types=False))
    big = msgpack.packb(["pkg", "1.0", "x" * (4 * 2**20 + 1)])
    (root / "sdists-v11" / "url" / "u2" / "r" / "metadata.msgpack").write_bytes(big)
    assert [os.path.relpath(e.path, root) for e in clean_targets(list_buckets(root), "pkg")] == ["sdists-v11/url/u1"]


def test_two_entries_that_are_links_to_one_unpacked_wheel_take_it_together(tmp_path):
    root = make_cache(tmp_path / "cache", f"wheels-v8/index/{D1}", "wheels-v8/pypi")
    unpacked(root, "Whole", "odd", "1.0")
    (root / "wheels-v8" / "pypi" / "odd").symlink_to("../../archive-v0/Whole")
    (root / "wheels-v8" / "index" / D1 / "odd").symlink_to("../../../archive-v0/Whole")
    (pkg,) = scan_packages(root, names=["odd"])
    assert rel(root, pkg.archives) == ["archive-v0/Whole"] and pkg.kept_archives == ()


def test_a_version_is_what_follows_the_last_dash_of_a_dist_info(tmp_path):
    root = make_cache(tmp_path / "cache", "wheels-v8")
    odd = root / "archive-v0" / "Odd"
    (odd / "a-b-1.0.dist-info").mkdir(parents=True)
    (root / "archive-v0" / "Bare" / "bare").mkdir(parents=True)
    wheel_link(root, "wheels-v8", "pypi", "odd", "x", "Odd")
    wheel_link(root, "wheels-v8", "pypi", "odd", "y", "Bare")
    (pkg,) = scan_packages(root, names=["odd"])
    assert pkg.versions == ("1.0",)
    ((entry, why),) = pp.package_candidates(root, list_buckets(root), ["odd"])[0]
    assert why == "package odd; with the unpacked wheels only it links to: ? (Bare), 1.0 (Odd)"
    assert entry.label == "odd wheel cache (wheels-v8 pypi)"


def test_only_environments_are_users_and_a_file_with_two_links_is_shared(tmp_path):
    root = make_cache(tmp_path / "cache", "wheels-v8", "environments-v2", "builds-v0")
    tab = unpacked(root, "Tab", "tab", "1.0")
    wheel_link(root, "wheels-v8", "pypi", "tab", "1.0-py3-none-any", "Tab")
    build = pyvenv(root / "builds-v0" / ".tmpBuild")  # a build environment: no user uv keeps
    os.link(tab / "tab" / "__init__.py", build / "lib" / "tab.py")
    (pkg,) = scan_packages(root, names=["tab"])
    assert pkg.used_by == ()
    os.unlink(build / "lib" / "tab.py")
    env = script_env(root, tmp_path / "work" / "s.py")
    os.link(tab / "tab" / "__init__.py", env / "lib" / "tab.py")  # two links: the archive's and this
    (pkg,) = scan_packages(root, names=["tab"])
    assert rel(root, pkg.used_by) == [os.path.relpath(env, root)]


def test_a_dangling_link_before_the_wheel_does_not_hide_it(tmp_path):
    root = make_cache(tmp_path / "cache", "wheels-v8")
    unpacked(root, "Tab", "tab", "1.0")
    wheel_link(root, "wheels-v8", "pypi", "tab", "0.0-py3-none-any", "AGone")
    wheel_link(root, "wheels-v8", "pypi", "tab", "1.0-py3-none-any", "Tab")
    (pkg,) = scan_packages(root, names=["tab"])
    assert rel(root, pkg.archives) == ["archive-v0/Tab"]


def test_an_archive_entry_the_disk_report_has_not_measured_has_no_users(tmp_path):
    root = used_cache(tmp_path)
    report = scan_disk(root)
    unpacked(root, "Later", "later", "1.0")
    wheel_link(root, "wheels-v8", "pypi", "later", "1.0-py3-none-any", "Later")
    (pkg,) = scan_packages(root, names=["later"], report=report)
    assert rel(root, pkg.archives) == ["archive-v0/Later"] and pkg.used_by == ()


def test_a_disk_report_spares_the_walk_of_the_environments(tmp_path, monkeypatch):
    root = used_cache(tmp_path)
    report = scan_disk(root)
    from envtui.core import packages as core

    monkeypatch.setattr(core, "environment_inodes", lambda *a, **k: pytest.fail("walked the environments"))
    (pkg,) = scan_packages(root, names=["tabulate"], report=report)
    assert len(pkg.used_by) == 2


def test_candidates_measure_no_bytes(tmp_path, monkeypatch):
    root = used_cache(tmp_path)
    from envtui.core import packages as core

    monkeypatch.setattr(core, "freed_bytes", lambda *a, **k: pytest.fail("measured"))
    monkeypatch.setattr(core, "walk_stats", lambda *a, **k: pytest.fail("measured"))
    monkeypatch.setattr(core, "users_of", lambda *a, **k: ())
    monkeypatch.setattr(core, "environment_inodes", lambda *a, **k: {})
    (_, _, (pkg,)) = pp.package_candidates(root, list_buckets(root), ["tabulate"])
    assert pkg.disk is None and pkg.freed is None


@pytest.mark.parametrize("where", [("_links_into",), ("walk_stats", "environment_inodes"), ("walk_stats", "users_of"),
                                   ("walk_stats", "_package"), ("add", "freed_bytes"), ("_scan",)])
def test_scan_packages_hands_cancellation_to_every_walk(tmp_path, where):
    root = used_cache(tmp_path)
    with pytest.raises(ScanCancelled):
        scan_packages(root, names=["tabulate"], should_stop=stop_in(*where))


def test_package_candidates_and_plans_hand_on_what_they_are_given(tmp_path):
    from envtui.core.locks import ProcessInfo, try_lock_root
    from envtui.core.prune import Rules
    from envtui.core.prune.safety import LinkListing

    root = used_cache(tmp_path)
    inv = scan(root)
    with pytest.raises(ScanCancelled):
        pp.package_candidates(root, list_buckets(root), ["tabulate"], should_stop=stop_in("_links_into"))
    with pytest.raises(ScanCancelled):
        pp.package_candidates(root, list_buckets(root), ["tabulate"], should_stop=stop_in("walk_stats", "users_of"))
    for plan in (pp.plan_packages, ):
        with pytest.raises(ScanCancelled):
            plan(inv, ["tabulate"], exclusive=True, should_stop=stop_in("_links_into"))
        with pytest.raises(ScanCancelled):
            plan(inv, ["tabulate"], exclusive=True, should_stop=stop_within("vet"))
        holder = ProcessInfo(7, "uv run x", "holds the lock")
        assert plan(inv, ["tabulate"], exclusive=True, lock_holders=[holder]).lock_holders == (holder,)
        other = make_cache(tmp_path / "other")
        with pytest.raises(ValueError, match="links listed for"):
            plan(inv, ["tabulate"], exclusive=True, listing=LinkListing(Rules(other)))
        lock = try_lock_root(root)
        lock.release()
        with pytest.raises(ValueError, match="no longer held"):
            plan(inv, ["tabulate"], exclusive=True, under=lock)
    (entry,) = pp.plan_packages(inv, ["tabulate"], exclusive=True).entries
    assert "script environment report.py" in entry.reasons[0]  # the inventory's environments name the users


def test_users_are_named_by_script_tool_prompt_or_key_else_by_path(tmp_path):
    root = used_cache(tmp_path)
    script = tmp_path / "work" / "report.py"
    envs = scan(root, [script]).environments
    ((_, why),), _, _ = pp.package_candidates(root, list_buckets(root), ["tabulate"], environments=envs)
    assert why.endswith(f"(cached environment 8b0cbae4892decd7/80437497dd3db7a4, script environment {script})")
    ((_, why),), _, _ = pp.package_candidates(root, list_buckets(root), ["tabulate"])
    script_dir = os.path.relpath(next((root / "environments-v2").glob("report-*")), root)
    assert why.endswith(f"stay on disk (archive-v0/Env1, {script_dir})")


def test_labels_and_reasons_name_every_version_and_every_unpacked_wheel(tmp_path):
    root = make_cache(tmp_path / "cache", "wheels-v8", "flat-index-v7", "flat-index-v5")
    unpacked(root, "T8", "tab", "0.8")
    unpacked(root, "T9", "tab", "0.9")
    wheel_link(root, "wheels-v8", "pypi", "tab", "0.8-py3-none-any", "T8")
    wheel_link(root, "wheels-v8", "pypi", "tab", "0.9-py3-none-any", "T9")
    candidates, kept, _ = pp.package_candidates(root, list_buckets(root), ["tab"])
    (entry, why), (flat5, why5), (flat7, why7) = candidates
    assert entry.label == "tab wheel cache (wheels-v8 pypi: 0.8, 0.9)"
    assert why == "package tab; with the unpacked wheels only it links to: 0.8 (T8), 0.9 (T9)"
    assert rel(root, entry.paths) == ["wheels-v8/pypi/tab", "archive-v0/T8", "archive-v0/T9"]
    assert (flat7.kind, flat7.path, flat7.paths, flat7.label, flat7.uses, flat7.needs_exclusive, flat7.reasons) == (
        Kind.BUCKET, Path(os.path.realpath(root)) / "flat-index-v7", (flat7.path,), "flat-index-v7 (the whole flat index)",
        (flat7.path,), True, ())
    assert why7 == why5 == "uv cache clean NAME removes the whole flat index: it cannot tell which packages it lists"
    assert flat5.label == "flat-index-v5 (the whole flat index)" and kept == []
    assert pp.package_candidates(root, list_buckets(root), []) == ([], [], [])


def test_wheels_linked_across_entries_join_every_group_they_touch(tmp_path):
    """A0 is E1's alone, A1 E2's alone, A2 both's: one group, every wheel in it."""
    root = make_cache(tmp_path / "cache", "wheels-v8")
    for ident in ("A0", "A1", "A2"):
        unpacked(root, ident, "tab", ident[1])
    wheel_link(root, "wheels-v8", "pypi", "tab", "0-py3-none-any", "A0")
    wheel_link(root, "wheels-v8", "pypi", "tab", "2-py3-none-any", "A2")
    wheel_link(root, "wheels-v8", f"index/{D1}", "tab", "1-py3-none-any", "A1")
    wheel_link(root, "wheels-v8", f"index/{D1}", "tab", "2-py3-none-any", "A2")
    ((entry, _),), _, _ = pp.package_candidates(root, list_buckets(root), ["tab"])
    assert rel(root, entry.paths) == ["wheels-v8/pypi/tab", f"wheels-v8/index/{D1}/tab", "archive-v0/A0", "archive-v0/A1",
                                      "archive-v0/A2"]


def test_what_each_package_keeps_is_listed_for_every_package(tmp_path):
    root = make_cache(tmp_path / "cache", "wheels-v8", "wheels-v5", "wheels-v9")
    for name in ("one", "two"):
        unpacked(root, name.title(), name, "1.0")
        wheel_link(root, "wheels-v8", "pypi", name, "1.0-py3-none-any", name.title())
        wheel_link(root, "wheels-v5", "pypi", "other", f"{name}-py3-none-any", name.title(), absolute=True)
        (root / "wheels-v9" / "pypi" / name).mkdir(parents=True)
    _, kept, _ = pp.package_candidates(root, list_buckets(root), ["two", "one"])
    assert [(os.path.relpath(p, root), k) for p, k, _why in kept] == [
        ("archive-v0/One", Kind.ARCHIVE), ("wheels-v9/pypi/one", Kind.CACHE_ENTRY),
        ("archive-v0/Two", Kind.ARCHIVE), ("wheels-v9/pypi/two", Kind.CACHE_ENTRY)]


def test_without_sizes_packages_come_by_name_and_json_names_users(tmp_path):
    root = used_cache(tmp_path)
    unpacked(root, "Big", "big", "1.0", size=40 * BLOCK)
    wheel_link(root, "wheels-v8", "pypi", "big", "1.0-py3-none-any", "Big")
    assert [p.name for p in scan_packages(root, sizes=False)] == ["big", "tabulate", "tabulate-extras"]
    assert [p.name for p in scan_packages(root, names=["tabulate", "big"], sizes=False)] == ["big", "tabulate"]
    (doc,) = packages_to_json(scan_packages(root, names=["tabulate"]))
    assert sorted(rel(root, doc["used_by"])) == sorted(rel(root, scan_packages(root, names=["tabulate"])[0].used_by))
    assert len(doc["used_by"]) == 2


def test_marked_candidates_name_their_path_and_hand_on_what_they_are_given(tmp_path, monkeypatch):
    from envtui.core.archive import scan_archive
    from envtui.core.locks import ProcessInfo, try_lock_root
    from envtui.core.prune import Rules
    from envtui.core.prune.safety import LinkListing

    root = marked_cache(tmp_path)
    links = pp.links_by_target(list_buckets(root))
    alone, _ = pp.archive_candidate(root / "archive-v0" / "Alone", links, root)
    linked, _ = pp.archive_candidate(root / "archive-v0" / "Linked", links, root)
    assert alone.path == root / "archive-v0" / "Alone" and linked.path == root / "archive-v0" / "Linked"
    with pytest.raises(ScanCancelled):
        pp.links_by_target(list_buckets(root), should_stop=stop_in("_links_into"))
    inv = scan(root)
    archive = {a.id: a for a in scan_archive(root, environments=inv.environments)}
    buckets = {b.dirname: b for b in list_buckets(root)}
    (c, why), = pp.marked_candidates(inv, [archive["Linked"]])[0]
    assert c.label == "linked 1.0" and why.startswith("marked; its links go first: wheels-v5/pypi/linked/")
    (c, why), = pp.marked_candidates(inv, [buckets["archive-v0"]])[0]
    assert why == "marked: the whole bucket; the 3 links into it go first"
    for record in (archive["Linked"], buckets["archive-v0"]):
        with pytest.raises(ScanCancelled):
            pp.marked_candidates(inv, [record], should_stop=stop_in("_links_into"))
        with pytest.raises(ScanCancelled):
            pp.plan_marked(inv, [record], exclusive=True, should_stop=stop_in("_links_into"))
        with pytest.raises(ScanCancelled):
            pp.plan_marked(inv, [record], exclusive=True, should_stop=stop_within("vet"))
    pkg = scan_packages(root, names=["linked"], sizes=False)[0]
    with pytest.raises(ScanCancelled):
        pp.marked_candidates(inv, [pkg], should_stop=stop_in("_links_into"))
    holder = ProcessInfo(7, "uv run x", "holds the lock")
    assert pp.plan_marked(inv, [archive["Alone"]], exclusive=True, lock_holders=[holder]).lock_holders == (holder,)
    # Marking environments alone reads no link.
    from envtui.core import packages as core

    monkeypatch.setattr(pp, "links_by_target", lambda *a, **k: pytest.fail("read the links"))
    monkeypatch.setattr(core, "archive_links", lambda *a, **k: pytest.fail("read the links"))
    env = next(e for e in inv.environments if e.kind == "cached")
    assert [c.path for c, _ in pp.marked_candidates(inv, [env])[0]] == [env.path]
    monkeypatch.undo()
    c = pp.bucket_candidate(buckets["wheels-v5"], {})
    with pytest.raises(ScanCancelled):
        pp.plan_candidates(inv, [c], exclusive=True, should_stop=stop_within("vet"))
    assert pp.plan_candidates(inv, [c], exclusive=True, lock_holders=[holder]).lock_holders == (holder,)
    with pytest.raises(ValueError, match="links listed for"):
        pp.plan_candidates(inv, [c], exclusive=True, listing=LinkListing(Rules(make_cache(tmp_path / "other"))))
    lock = try_lock_root(root)
    lock.release()
    with pytest.raises(ValueError, match="no longer held"):
        pp.plan_candidates(inv, [c], exclusive=True, under=lock)


def test_a_marked_package_names_the_environments_that_keep_its_files(tmp_path):
    root = used_cache(tmp_path)
    inv = scan(root)
    pkg = scan_packages(root, names=["tabulate"], sizes=False)[0]
    ((_, why),), _ = pp.marked_candidates(inv, [pkg])
    assert why.endswith("(cached environment 8b0cbae4892decd7/80437497dd3db7a4, script environment report.py)")


def test_links_into_an_archive_entry_that_is_itself_a_link_go_before_the_bucket(tmp_path):
    root = make_cache(tmp_path / "cache", "wheels-v8")
    unpacked(tmp_path, "Away", "away", "1.0", archive="elsewhere")
    (root / "archive-v0" / "Moved").symlink_to(tmp_path / "elsewhere" / "Away")
    wheel_link(root, "wheels-v8", "pypi", "away", "1.0-py3-none-any", "Moved")
    archive = next(b for b in list_buckets(root) if b.dirname == "archive-v0")
    entry, why = pp.bucket_candidate(archive, pp.links_by_target(list_buckets(root)))
    assert rel(root, entry.paths) == ["wheels-v8/pypi/away/1.0-py3-none-any", "archive-v0"]


def test_four_users_are_three_named_and_one_more():
    names = {Path(f"/c/e{i}"): f"env {i}" for i in range(4)}
    assert pp._users_note(list(names), Path("/c"), names) == (
        "; files hardlinked by 4 environments stay on disk (env 0, env 1, env 2 and 1 more)")
