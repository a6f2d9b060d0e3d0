"""Packaging a user can live with: the wheel carries the MIT LICENSE and full metadata, and the
torch extra is a lower bound (it never replaces a user's torch) while the test extra keeps CI's pin."""

from __future__ import annotations

import email
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel_metadata(tmp_path_factory):
    pytest.importorskip("setuptools")
    out = tmp_path_factory.mktemp("wheel")
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "--no-build-isolation", "-q", "-w", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert build.returncode == 0, build.stderr
    (wheel,) = out.glob("netsize-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        meta = next(n for n in names if n.endswith(".dist-info/METADATA"))
        # the project's own license (bundled assets carry theirs elsewhere in the wheel)
        license_files = [n for n in names if n.endswith(".dist-info/licenses/LICENSE")]
        license_text = zf.read(license_files[0]).decode() if license_files else ""
        return names, email.message_from_bytes(zf.read(meta)), license_text


def test_license_file_is_mit_in_the_repository_and_the_wheel(wheel_metadata):
    names, meta, license_text = wheel_metadata
    assert (ROOT / "LICENSE").read_text().startswith("MIT License")
    assert license_text == (ROOT / "LICENSE").read_text()
    assert meta["License-Expression"] == "MIT"
    assert "LICENSE" in meta.get_all("License-File")
    assert any(n.startswith("netsize/zoo/") for n in names) and "netsize/py.typed" in names


def test_wheel_metadata_names_author_urls_keywords_and_classifiers(wheel_metadata):
    _, meta, _ = wheel_metadata
    assert meta["Author"]
    urls = dict(u.split(", ", 1) for u in meta.get_all("Project-URL"))
    assert {"Homepage", "Repository", "Issues", "Documentation"} <= set(urls)
    assert "torchinfo" in meta["Keywords"] and "flops" in meta["Keywords"]
    classifiers = meta.get_all("Classifier")
    assert "Typing :: Typed" in classifiers
    assert "Programming Language :: Python :: 3.11" in classifiers
    assert any(c.startswith("Topic :: Scientific/Engineering") for c in classifiers)


def test_torch_extra_is_a_lower_bound_and_ci_keeps_its_pin(wheel_metadata):
    _, meta, _ = wheel_metadata
    torch_reqs = [r for r in meta.get_all("Requires-Dist") if r.startswith("torch") and 'extra == "torch"' in r]
    assert torch_reqs == ['torch>=2.10; extra == "torch"']
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert "torch==2.13.0" in extras["test"]
    assert "torch>=2.10" in (ROOT / "docs" / "torch-versions.md").read_text()
