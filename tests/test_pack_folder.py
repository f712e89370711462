"""The pack's folder may have any name: the README installs it as custom_nodes/comfyui-actionmesh, and pytest imports
a folder's __init__.py on its own (to look for setup functions), where a hyphenated name gives the file no
package, so a relative import at its top would fail every test."""

import shutil
import subprocess
import sys
import tomllib

from comfy_pack import PACK_DIR


def test_tests_run_in_a_folder_named_like_the_install(tmp_path):
    folder = tmp_path / "comfyui-actionmesh"
    (folder / "tests").mkdir(parents=True)
    for name in ("__init__.py", "pyproject.toml"):  # the pack's entry and its pytest settings
        shutil.copy(PACK_DIR / name, folder / name)
    (folder / "tests" / "test_probe.py").write_text("def test_probe():\n    pass\n")
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_probe.py"],
                         cwd=folder, capture_output=True, text=True, timeout=300, check=False)
    assert run.returncode == 0 and "1 passed" in run.stdout, run.stdout + run.stderr


def test_the_web_folder_is_declared_once():
    """ComfyUI serves a web folder per declaration: WEB_DIRECTORY under the install folder's name and pyproject's
    [tool.comfy] web under the project's name. Under another folder name (a GitHub ZIP's comfyui-actionmesh-main) two
    declarations are two copies of the player's script; so only WEB_DIRECTORY declares it."""
    comfy = tomllib.loads((PACK_DIR / "pyproject.toml").read_text())["tool"]["comfy"]
    assert "web" not in comfy
    entry = (PACK_DIR / "__init__.py").read_text()
    assert 'WEB_DIRECTORY = "./web"' in entry and sorted(p.name for p in (PACK_DIR / "web").glob("*.js")) == [
        "actionmesh_preview.js"]
