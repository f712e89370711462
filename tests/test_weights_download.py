"""`actionmesh weights download` and Load Models' download_if_missing: huggingface_hub's real snapshot_download
against a stand-in hub on 127.0.0.1 (tests/hub_server.py), against a pre-filled cache in the hub's own layout with
the network off, and with the hub unreachable. Nothing here fakes a download's success."""

from __future__ import annotations

import errno
import fnmatch
import hashlib
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hub_server import FakeHub

from actionmesh_core.errors import InputError, WeightsError
from actionmesh_core.models import hub
from actionmesh_core.pipeline.model_set import BUNDLED_WEIGHTS, ModelSet

huggingface_hub = pytest.importorskip("huggingface_hub")
REPO_ROOT = Path(__file__).resolve().parents[1]
PICKLES_AND_CODE = ("pytorch_model.bin", "model.pt", "model.ckpt", "model.pth", "weights.pkl", "briarmbg.py",
                    "MyConfig.py", "onnx/model.onnx", "model.safetensors.bin")
# A command line run without the hub's back-off waits (1 + 2 + 4 + 8 + 8 s on a refused connection): the hub still
# retries and fails exactly as it would, only sooner.
NO_WAIT = "import sys, time; time.sleep = lambda seconds: None; from actionmesh_core.cli import main; " \
          "sys.exit(main(sys.argv[1:]))"


def _files(folder: str, prefix: str = "") -> dict[str, bytes]:
    return {prefix + path.name: path.read_bytes() for path in sorted((BUNDLED_WEIGHTS / folder).iterdir())}


def hub_repos() -> dict[str, dict[str, bytes]]:
    """The four required repositories in the official layout, made of the bundled small model's files (valid
    checkpoints, a few MB), each beside files that must never be fetched: pickles, code, ONNX, READMEs."""
    return {
        "facebook/ActionMesh": {**_files("ActionMesh/denoiser", "denoiser/"),
                                **_files("ActionMesh/autoencoder", "autoencoder/"),
                                "denoiser/pytorch_model.bin": b"PICKLE", "README.md": b"# ActionMesh"},
        "VAST-AI/TripoSG": {**_files("TripoSG/transformer", "transformer/"), **_files("TripoSG/vae", "vae/"),
                            **_files("dinov2", "image_encoder_dinov2/"), "vae/diffusion_pytorch_model.bin": b"PICKLE",
                            "scheduler/scheduler_config.json": b"{}", "model_index.json": b"{}"},
        "facebook/dinov2-large": {**_files("dinov2"), "pytorch_model.bin": b"PICKLE", "model.pt": b"PICKLE",
                                  "preprocessor_config.json": b"{}"},
    }


def pinned(repo: str) -> str:
    return next(c.revision for c in hub.COMPONENTS.values() if c.repo == repo)


@pytest.fixture
def fake_hub():
    """The stand-in hub serving hub_repos() at their pinned revisions, and RMBG-1.4 gated."""
    stand_in = FakeHub()
    for repo, files in hub_repos().items():
        stand_in.add(repo, files, commit=pinned(repo))
    stand_in.add("briaai/RMBG-1.4", {"config.json": b"{}", "briarmbg.py": b"import os"}, commit=pinned("briaai/RMBG-1.4"),
                 gated=True)
    server, url = stand_in.start()
    stand_in.url = url
    yield stand_in
    server.shutdown()
    server.server_close()


def run_cli(args: list[str], tmp_path: Path, **env) -> subprocess.CompletedProcess:
    """`actionmesh ARGS` in a fresh process, as a user runs it: huggingface_hub reads HF_* at import. No stored
    token (HF_HOME is empty), the cache in tmp_path/cache unless env says otherwise."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("HF_") and k != "ACTIONMESH_WEIGHTS"}
    base.update(HF_HOME=str(tmp_path / "hf_home"), HF_HUB_CACHE=str(tmp_path / "cache"), HF_HUB_DISABLE_TELEMETRY="1",
                PYTHONPATH=os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")]))
    base.update(env)
    return subprocess.run([sys.executable, "-c", NO_WAIT, *args], env=base, capture_output=True, text=True,
                          timeout=300)


def closed_port() -> str:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"  # nothing listens there once the socket is closed


def assert_layout(root: Path, cache: Path | None = None) -> None:
    """Every required model complete in the official layout, nothing but safetensors and JSON, each file a hard link
    to a blob of the hub cache (when given), and no temporary file left."""
    models = ModelSet.from_weights(root)
    assert all(models.has(name) for name in ("actionmesh-denoiser", "triposg-dit", "dinov2", "triposg-dinov2"))
    files = sorted(p for p in root.rglob("*") if p.is_file())
    assert {p.relative_to(root).as_posix() for p in files} >= {
        "ActionMesh/denoiser/model.safetensors", "ActionMesh/autoencoder/config.json",
        "TripoSG/transformer/diffusion_pytorch_model.safetensors", "TripoSG/vae/config.json",
        "TripoSG/image_encoder_dinov2/model.safetensors", "dinov2/model.safetensors", "dinov2/config.json"}
    assert all(p.suffix in (".safetensors", ".json") and not p.name.startswith(".") for p in files), files
    if cache is not None:
        blobs = {(b.stat().st_dev, b.stat().st_ino) for b in cache.glob("models--*/blobs/*")}
        assert all((p.stat().st_dev, p.stat().st_ino) in blobs for p in files)  # linked, not copied


def test_only_safetensors_and_json_are_ever_asked_for():
    for component in hub.COMPONENTS.values():
        patterns = component.patterns()
        assert all(p.endswith(hub.SAFE_SUFFIXES) for p in patterns), component.name
        for model, sub in component.models:
            for bad in PICKLES_AND_CODE:
                path = f"{sub}/{bad}" if sub else bad
                assert not any(fnmatch.fnmatchcase(path, p) for p in patterns), (component.name, path)
            prefix = f"{sub}/" if sub else ""
            weights = hub.get_spec(model).weight_files
            assert any(fnmatch.fnmatchcase(f"{prefix}{weights[0]}", p) for p in patterns)
            assert any(fnmatch.fnmatchcase(f"{prefix}config.json", p) for p in patterns)
            stem = weights[0].removesuffix(".safetensors")
            assert any(fnmatch.fnmatchcase(f"{prefix}{stem}-00001-of-00002.safetensors", p) for p in patterns)
    assert [c.name for c in hub.COMPONENTS.values() if not c.required] == ["rmbg"]


def test_huggingface_hub_is_imported_only_to_download():
    code = ("import sys, actionmesh_core.cli.weights, actionmesh_core.models.hub; "
            "print('huggingface_hub' in sys.modules)")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")]))
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert result.stdout.strip() == "False", result.stderr


def test_download_fills_the_layout_with_hard_links_and_prints_the_licences(fake_hub, tmp_path):
    root = tmp_path / "weights"
    result = run_cli(["weights", "download", "--root", str(root)], tmp_path, HF_ENDPOINT=fake_hub.url)
    assert result.returncode == 0, result.stderr
    assert_layout(root, tmp_path / "cache")
    out = result.stdout
    assert "licence: research use only" in out and "licence: non-commercial use only" in out
    assert "all required models are complete" in out  # the `weights check` table
    assert "skipped briaai/RMBG-1.4: briaai/RMBG-1.4 is gated: open https://huggingface.co/briaai/RMBG-1.4" in out
    assert "hf auth login" in out and "--only rmbg" in out
    fetched = {path.rsplit("/", 1)[-1] for method, path, _ in fake_hub.requests if "/resolve/" in path}
    assert fetched and all(name.endswith((".json", ".safetensors")) for name in fetched)
    assert "model_index.json" not in fetched and "scheduler_config.json" not in fetched  # only what is loaded
    cached = {repo.repo_id: repo for repo in huggingface_hub.scan_cache_dir(tmp_path / "cache").repos}
    assert set(cached) == set(hub_repos())  # the hub's own cache, readable by its own tools


def fill_cache_with_the_hub(fake_hub, cache: Path) -> None:
    """A cache filled by huggingface_hub itself (snapshot_download from the stand-in hub)."""
    for component in hub.COMPONENTS.values():
        if component.required:
            huggingface_hub.snapshot_download(component.repo, revision=component.revision, cache_dir=cache,
                                              allow_patterns=component.patterns(), endpoint=fake_hub.url)


def fill_cache_by_hand(cache: Path, repos: dict[str, dict[str, bytes]], ref: str = "main") -> None:
    """The hub's cache layout built file by file, as another tool (or an older huggingface_hub) leaves it:
    models--org--name/blobs/<sha256>, snapshots/<revision>/<path> -> ../../blobs/<sha256>, refs/<ref>. The snapshot
    also holds pickles and code, which must never reach the weights root."""
    for repo, files in repos.items():
        storage = cache / f"models--{repo.replace('/', '--')}"
        revision = pinned(repo)
        for name, data in files.items():
            blob = storage / "blobs" / hashlib.sha256(data).hexdigest()
            blob.parent.mkdir(parents=True, exist_ok=True)
            blob.write_bytes(data)
            link = storage / "snapshots" / revision / name
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(os.path.relpath(blob, link.parent))
        (storage / "refs").mkdir(exist_ok=True)
        (storage / "refs" / ref).write_text(revision)


def test_download_works_offline_from_a_prefilled_cache(fake_hub, tmp_path):
    cache = tmp_path / "cache"
    fill_cache_by_hand(cache, hub_repos())
    assert {r.repo_id for r in huggingface_hub.scan_cache_dir(cache).repos} == set(hub_repos())  # the hub's layout
    root = tmp_path / "weights"
    result = run_cli(["weights", "download", "--root", str(root)], tmp_path, HF_HUB_OFFLINE="1",
                     HF_ENDPOINT=fake_hub.url)
    assert result.returncode == 0, result.stderr
    assert_layout(root, cache)  # the .bin / .pt / .py files of the snapshots stayed in the cache
    assert fake_hub.requests == []  # not one request: everything came from the cache
    assert "skipped briaai/RMBG-1.4: HF_HUB_OFFLINE is set" in result.stdout


def test_an_unreachable_hub_falls_back_to_the_cache(fake_hub, tmp_path):
    fill_cache_with_the_hub(fake_hub, tmp_path / "cache")
    root = tmp_path / "weights"
    result = run_cli(["weights", "download", "--root", str(root), "--only", "denoiser,autoencoder,triposg,dinov2"],
                     tmp_path, HF_ENDPOINT=closed_port())
    assert result.returncode == 0, result.stderr
    assert_layout(root, tmp_path / "cache")


@pytest.mark.parametrize("why", ["unreachable", "offline"])
def test_no_network_and_nothing_cached_is_one_clear_line(why, tmp_path):
    env = {"HF_ENDPOINT": closed_port()} if why == "unreachable" else {"HF_HUB_OFFLINE": "1"}
    root = tmp_path / "weights"
    result = run_cli(["weights", "download", "--root", str(root)], tmp_path, **env)
    assert result.returncode == 2
    error = result.stderr.strip().splitlines()[-1]
    assert error.startswith("actionmesh weights: error: ") and "Traceback" not in result.stderr
    assert "does not hold facebook/ActionMesh at fb69228ba8a4 in full" in error
    assert ("check the network connection" if why == "unreachable" else "unset HF_HUB_OFFLINE") in error
    assert not [p for p in root.rglob("*") if p.is_file()]  # nothing half-written


def test_a_gated_required_repository_says_how_to_get_access(fake_hub, tmp_path):
    fake_hub.repos["facebook/ActionMesh"].gated = True
    root = tmp_path / "weights"
    result = run_cli(["weights", "download", "--root", str(root), "--only", "denoiser"], tmp_path,
                     HF_ENDPOINT=fake_hub.url)
    assert result.returncode == 2
    error = result.stderr.strip().splitlines()[-1]
    assert error == ("actionmesh weights: error: facebook/ActionMesh is gated: open https://huggingface.co/facebook/"
                     "ActionMesh while logged in to Hugging Face, accept its licence, then log in here with `hf auth "
                     "login` (or set HF_TOKEN) and run again")
    assert not [p for p in root.rglob("*") if p.is_file()]


def test_an_interrupted_download_continues_where_it_stopped(fake_hub, tmp_path):
    big = "transformer/diffusion_pytorch_model.safetensors"
    fake_hub.cuts[big] = 100  # the connection drops every time: the hub gives up (after its own retries)
    root = tmp_path / "weights"
    first = run_cli(["weights", "download", "--root", str(root), "--only", "denoiser,autoencoder,triposg,dinov2"],
                    tmp_path, HF_ENDPOINT=fake_hub.url)
    assert first.returncode == 2 and "run again to continue (finished files are kept)" in first.stderr
    assert (root / "ActionMesh/denoiser/model.safetensors").is_file()  # finished before the failure
    assert not (root / "TripoSG").exists() and not list(root.rglob("*.partial"))
    fake_hub.cuts[big] = 0
    second = run_cli(["weights", "download", "--root", str(root), "--only", "denoiser,autoencoder,triposg,dinov2"],
                     tmp_path, HF_ENDPOINT=fake_hub.url)
    assert second.returncode == 0, second.stderr
    assert_layout(root, tmp_path / "cache")
    assert len(fake_hub.downloads("denoiser/model.safetensors")) == 1  # not fetched again


def test_revisions_and_components_on_the_command_line(fake_hub, tmp_path):
    root = tmp_path / "weights"
    result = run_cli(["weights", "download", "--root", str(root), "--only", "dinov2", "--revision",
                      "facebook/dinov2-large=main"], tmp_path, HF_ENDPOINT=fake_hub.url)
    assert result.returncode == 0, result.stderr
    assert "facebook/dinov2-large at main" in result.stdout and (root / "dinov2/model.safetensors").is_file()
    refs = tmp_path / "cache/models--facebook--dinov2-large/refs/main"
    assert refs.read_text() == pinned("facebook/dinov2-large")  # the hub recorded the branch it resolved
    with pytest.raises(huggingface_hub.errors.RevisionNotFoundError) as raised:  # the hub's own answer
        huggingface_hub.snapshot_download("facebook/dinov2-large", revision="v9", cache_dir=tmp_path / "cache",
                                          endpoint=fake_hub.url)
    message = hub._hub_error(raised.value, "facebook/dinov2-large", "v9", tmp_path, hub._import_hub())
    assert "facebook/dinov2-large has no revision 'v9': give one that exists" in str(message)


def test_bad_components_revisions_and_roots_fail_before_any_download(tmp_path):
    with pytest.raises(InputError, match="unknown weights component 'dino'; choose from denoiser,autoencoder"):
        hub.download_weights(tmp_path, ["dino"])
    with pytest.raises(InputError, match="a revision needs a repository"):
        hub.download_weights(tmp_path / "not_made", ["dinov2"], revisions={"someone/else": "main"})
    assert not (tmp_path / "not_made").exists()
    (tmp_path / "a_file").write_text("")
    with pytest.raises(WeightsError, match="cannot write weights into .*a_file/weights .*choose a folder you can"):
        hub.download_weights(tmp_path / "a_file" / "weights", ["dinov2"])


def test_a_full_disk_while_placing_files_leaves_nothing_half_written(tmp_path, monkeypatch):
    source = tmp_path / "blob"
    source.write_bytes(b"x" * 1000)
    target = tmp_path / "root" / "dinov2" / "model.safetensors"

    def no_link(src, dst):
        raise OSError(errno.EXDEV, "Invalid cross-device link")

    def full(src, dst):
        Path(dst).write_bytes(b"x" * 10)
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(hub.os, "link", no_link)
    monkeypatch.setattr(hub.shutil, "copyfile", full)
    with pytest.raises(WeightsError, match="cannot write .*model.safetensors \\(No space left on device\\); free some"):
        hub._link_or_copy(source, target)
    assert not target.exists() and not list(target.parent.iterdir())


def test_hub_failures_become_messages_that_say_what_to_do():
    cache = Path("/cache")
    full = hub._hub_error(OSError(errno.ENOSPC, "No space left on device"), "facebook/ActionMesh", "abc", cache,
                          hub._import_hub())
    assert "the disk is full while downloading facebook/ActionMesh into the hub cache /cache" in str(full)
    denied = hub._hub_error(PermissionError(errno.EACCES, "Permission denied"), "VAST-AI/TripoSG", "abc", cache,
                            hub._import_hub())
    assert "cannot write into the hub cache /cache (Permission denied): set HF_HUB_CACHE" in str(denied)
    assert hub._hub_error(ValueError("a bug"), "VAST-AI/TripoSG", "abc", cache, hub._import_hub()) is None


def test_load_models_downloads_what_is_missing_from_the_cache(pack, comfy_base, fake_hub, tmp_path, monkeypatch,
                                                             caplog):
    """download_if_missing, offline from a cache that huggingface_hub filled: the official folder is filled and
    loaded."""
    fill_cache_with_the_hub(fake_hub, tmp_path / "cache")
    fake_hub.requests.clear()
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    caplog.set_level(logging.INFO, logger="actionmesh")  # ComfyUI's console shows INFO; the pack's one logger
    node = pack.NODE_CLASS_MAPPINGS["ActionMeshLoadModels"]
    assert node.INPUT_TYPES()["required"]["weights"][0] == ["bundled small model", "official"]
    assert node.VALIDATE_INPUTS("official", "auto", True) is True
    model, = node().load("official", "fp32", "sdpa", "cpu", True)
    folder = comfy_base / "models" / "actionmesh" / "official"
    assert_layout(folder, tmp_path / "cache")
    assert model.name == "official" and model.models.has("triposg-dinov2") and not model.models.has("rmbg")
    assert fake_hub.requests == []
    printed = caplog.text
    caplog.clear()
    assert "[ActionMesh] facebook/ActionMesh at fb69228ba8a4" in printed and "[ActionMesh] skipped briaai" in printed
    assert node.INPUT_TYPES()["required"]["weights"][0] == ["official", "bundled small model"]
    before = sorted((p, p.stat().st_ino) for p in folder.rglob("*"))
    node().load("official", "fp32", "sdpa", "cpu", True)  # complete: nothing is fetched or replaced
    assert sorted((p, p.stat().st_ino) for p in folder.rglob("*")) == before
    assert "facebook/ActionMesh" not in caplog.text


def test_the_root_comes_from_the_option_the_variable_or_the_comfyui_install(tmp_path, monkeypatch, capsys):
    from actionmesh_core.cli import main
    from actionmesh_core.cli import weights as weights_cli

    monkeypatch.delenv("ACTIONMESH_WEIGHTS", raising=False)
    assert main(["weights", "download", "--only", "dinov2"]) == 2
    assert "give the folder to download into (--root DIR) or set ACTIONMESH_WEIGHTS" in capsys.readouterr().err
    comfyui = tmp_path / "ComfyUI"
    (comfyui / "models").mkdir(parents=True)
    module = comfyui / "custom_nodes" / "comfyui-actionmesh" / "actionmesh_core" / "cli" / "weights.py"
    monkeypatch.setattr(weights_cli, "__file__", str(module))  # as if the pack sat in ComfyUI/custom_nodes
    assert weights_cli.comfyui_weights_root() == comfyui / "models" / "actionmesh" / "official"
    monkeypatch.setattr(weights_cli, "__file__", str(tmp_path / "site-packages" / "actionmesh_core" / "cli" / "w.py"))
    assert weights_cli.comfyui_weights_root() is None
