"""docs/uv-cache.md's layout names every bucket with the version uv 0.13.9 writes: it listed
git-v0/ and python-v0/ while uv writes git-v2/ and python-v1/ (envtui's own table had them right)."""

from __future__ import annotations

import re
from pathlib import Path

from envtui.core.buckets import CURRENT_BUCKET_VERSIONS

DOC = Path(__file__).parents[2] / "docs" / "uv-cache.md"


def test_the_layout_in_the_docs_names_each_bucket_as_uv_writes_it():
    text = DOC.read_text(encoding="utf-8")
    block = text[text.index("```\nCACHEDIR.TAG"):]
    block = block[:block.index("\n```", 4)]
    named = {m[1]: int(m[2]) for m in re.finditer(r"\b([a-z][a-z-]*?)-v(\d+)/", block)}
    assert named == CURRENT_BUCKET_VERSIONS
