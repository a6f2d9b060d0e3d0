"""The repository stands on its own: nothing reads outside it, and what ships speaks to users
(the seed articles the project grew from are not shipped; tests keep their numbers)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from netsize import zoo

ROOT = Path(__file__).resolve().parent.parent

# Paths that would leave the repository: the sibling ../shared folder, this machine's /work.
OUTSIDE = re.compile(r"\.\./shared|(?<![\w.])/work/")


def _project_files() -> list[Path]:
    files = [ROOT / "README.md", ROOT / "pyproject.toml"]
    # .ci/run names ../shared only to check that it is absent.
    for folder in ("src", "tests", "benchmarks", "docs", "examples"):
        for path in sorted((ROOT / folder).rglob("*")):
            # tests/data holds material made outside the project, kept as it was (its README says where from).
            if path.is_file() and "data" not in path.relative_to(ROOT).parts[:2] and path.suffix != ".pyc":
                files.append(path)
    return files


def test_no_project_file_reads_outside_the_repository():
    offenders = []
    for path in _project_files():
        text = path.read_text(encoding="utf-8", errors="replace")
        for number, line in enumerate(text.splitlines(), 1):
            if OUTSIDE.search(line) and path.name != Path(__file__).name:
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert offenders == []


@pytest.mark.parametrize("name", zoo.names())
def test_zoo_entry_speaks_to_users_not_of_seed_articles(name):
    entry = zoo.get(name)
    for text in (entry.description, entry.source):
        assert not re.search(r"\bseeds?\b", text, re.IGNORECASE), text


def test_readme_names_published_sources_not_seed_numbers():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert not re.search(r"\bseed\s*0\d\d\b|\bseed articles?\b", readme, re.IGNORECASE)
