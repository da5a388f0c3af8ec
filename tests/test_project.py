"""The project's own files agree with each other: lint is clean, conda mirrors pip."""
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent


def test_ruff_is_clean():
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    if ruff is None:
        pytest.fail("ruff is not installed: it comes with the test extras (pip install -e '.[test]')")
    result = subprocess.run([ruff, "check", "workbench", "tests", "benchmarks"], cwd=ROOT, check=False,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_environment_yml_lists_what_pyproject_lists():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = set(project["dependencies"]) | {d for extra in project["optional-dependencies"].values() for d in extra}
    conda = yaml.safe_load((ROOT / "environment.yml").read_text())["dependencies"]
    pip = next(item["pip"] for item in conda if isinstance(item, dict))
    assert set(pip) - {"-e ."} == wanted


GUIDES = [ROOT / "README.md", ROOT / "checkpoint" / "README.md"]
LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")


def documents():
    return GUIDES + sorted((ROOT / "docs").glob("*.md"))


@pytest.mark.parametrize("path", GUIDES, ids=lambda path: str(path.relative_to(ROOT)))
def test_guides_stay_short(path):
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 200, f"{path.relative_to(ROOT)} has {len(lines)} lines; move details to docs/"


def test_relative_links_point_to_files():
    broken = []
    for path in documents():
        text = re.sub(r"```.*?```|`[^`\n]*`", "", path.read_text(encoding="utf-8"), flags=re.DOTALL)  # code: no links
        for target in LINK.findall(text):
            if re.match(r"[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
                continue  # a URL or an anchor in the same page
            if not (path.parent / target.split("#")[0]).exists():
                broken.append(f"{path.relative_to(ROOT)}: {target}")
    assert not broken, "links to missing files:\n" + "\n".join(broken)


def test_link_check_sees_links_and_images():
    text = '![curve](a.png) see [the card](../checkpoint/README.md#data) and [site](https://x.org "t")'
    assert LINK.findall(text) == ["a.png", "../checkpoint/README.md#data", "https://x.org"]


@pytest.mark.parametrize("uid, allow_root", [("0", True), ("1000", False)])
def test_start_script_allows_root_only_as_root(tmp_path, uid, allow_root):
    """start.sh passes --allow-root (which JupyterLab demands of root) exactly when run as root."""
    shutil.copy(ROOT / "start.sh", tmp_path / "start.sh")
    (tmp_path / ".venv" / "bin").mkdir(parents=True)
    fakebin = tmp_path / "fakebin"
    fakebin.mkdir()
    for script, body in [(tmp_path / ".venv" / "bin" / "jupyter", 'echo "$@"'), (fakebin / "id", f"echo {uid}")]:
        script.write_text(f"#!/bin/sh\n{body}\n")
        script.chmod(0o755)
    result = subprocess.run(["bash", str(tmp_path / "start.sh"), "--port", "9999"], capture_output=True, text=True,
                            env={**os.environ, "PATH": f"{fakebin}:{os.environ['PATH']}"}, check=True, timeout=30)
    arguments = result.stdout.split()
    assert arguments[:2] == ["lab", "notebooks/workbench.ipynb"] and arguments[-2:] == ["--port", "9999"]
    assert ("--allow-root" in arguments) == allow_root
