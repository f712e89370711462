"""The official weights on the Hugging Face hub, fetched into a weights root's layout (README "Weights").

    download_weights(root, components=None, revisions=None, cache_dir=None, log=print) -> list[Fetched]
    download_missing(root, log=print) -> list[Fetched]     (what the root lacks; ComfyUI's Load Models)
    missing_components(root, names=COMPONENT_NAMES) -> list[str]

Components, each from a pinned hub revision (`Component.revision`; override per repository):

    denoiser     facebook/ActionMesh     denoiser/                   -> <root>/ActionMesh/denoiser/
    autoencoder  facebook/ActionMesh     autoencoder/                -> <root>/ActionMesh/autoencoder/
    triposg      VAST-AI/TripoSG         transformer/, vae/,         -> <root>/TripoSG/transformer/, vae/,
                                         image_encoder_dinov2/          image_encoder_dinov2/ (Stage 0's encoder)
    dinov2       facebook/dinov2-large   (top level)                 -> <root>/dinov2/
    rmbg         briaai/RMBG-1.4         (top level)                 -> <root>/RMBG/        (optional)

huggingface_hub's `snapshot_download` fetches each repository into the hub's own cache (HF_HUB_CACHE: progress
bars, finished files kept when interrupted, shared with other tools, usable offline), with `allow_patterns` that
name only the files the loader reads: `config.json`, the safetensors weights and their shard index. Pickled
files (.bin, .pt, .ckpt, .pth, .pkl) and remote code are never fetched, whatever else the repository or the cache
holds. The files are then hard-linked into the root (copied only when the cache is on another disk), so no
gigabyte is stored twice, and every model is checked (headers, as `actionmesh weights check`).
huggingface_hub is imported only here, only when something is downloaded.
"""

from __future__ import annotations

import errno
import fnmatch
import os
import re
import shutil
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError, WeightsError
from .registry import check_checkpoint, get_spec

DEFAULT_FOLDER = "official"  # the weights root's name under ComfyUI's models/actionmesh/
SAFE_SUFFIXES = (".safetensors", ".json")  # everything fetched ends with one of these

# What each repository's model card says its weights may be used for, in our words (README "Weights" names the
# licences); printed with every download so nobody fetches weights without knowing their terms.
RESEARCH_ONLY = "research use only: no commercial use of the weights or their outputs (see the model card)"
TRIPOSG = ("MIT per its model card; parts of its DiT come from HunyuanDiT, whose own terms apply: check both before "
           "commercial use")
NON_COMMERCIAL = "non-commercial use only: commercial use needs an agreement with the authors (see the model card)"


@dataclass(frozen=True)
class Component:
    """One downloadable part of a weights root.

    models:  (registry model name, its folder in the repository; "" = the top level), checked after download.
    folder:  where the repository's files go under the root (the official `pretrained_weights/` layout).
    """

    name: str
    repo: str
    revision: str
    folder: str
    models: tuple[tuple[str, str], ...]
    licence: str
    required: bool = True

    @property
    def url(self) -> str:
        return f"https://huggingface.co/{self.repo}"

    def patterns(self) -> list[str]:
        """allow_patterns for snapshot_download: each model's config.json and safetensors weights (one file, or
        shards with their index). Nothing else."""
        patterns = []
        for model, sub in self.models:
            prefix = f"{sub}/" if sub else ""
            patterns.append(f"{prefix}config.json")
            for name in get_spec(model).weight_files:
                stem = name.removesuffix(".safetensors")
                patterns += [f"{prefix}{name}", f"{prefix}{name}.index.json", f"{prefix}{stem}-*-of-*.safetensors"]
        return patterns

    def targets(self, root: Path) -> list[tuple[str, Path]]:
        """(model, its folder under the root)."""
        return [(model, root / self.folder / sub) for model, sub in self.models]


COMPONENTS = {c.name: c for c in (
    Component("denoiser", "facebook/ActionMesh", "fb69228ba8a4df684907b5d259cff3c22fb722f1", "ActionMesh",
              (("actionmesh-denoiser", "denoiser"),), RESEARCH_ONLY),
    Component("autoencoder", "facebook/ActionMesh", "fb69228ba8a4df684907b5d259cff3c22fb722f1", "ActionMesh",
              (("actionmesh-autoencoder", "autoencoder"),), RESEARCH_ONLY),
    Component("triposg", "VAST-AI/TripoSG", "2c1c516d22d58db486a058d98d31bb6177344e06", "TripoSG",
              (("triposg-dit", "transformer"), ("triposg-vae", "vae"), ("dinov2", "image_encoder_dinov2")), TRIPOSG),
    Component("dinov2", "facebook/dinov2-large", "47b73eefe95e8d44ec3623f8890bd894b6ea2d6c", "dinov2",
              (("dinov2", ""),), "Apache-2.0"),
    Component("rmbg", "briaai/RMBG-1.4", "2ceba5a5efaec153162aedea169f76caf9b46cf8", "RMBG",
              (("rmbg", ""),), NON_COMMERCIAL, required=False),
)}
COMPONENT_NAMES = tuple(COMPONENTS)


@dataclass
class Fetched:
    """What one component's download did. skipped: why an optional component was left out (else None)."""

    component: str
    folder: Path
    files: int = 0
    size: int = 0
    linked: int = 0
    copied: int = 0
    skipped: str | None = None

    def line(self) -> str:
        if self.skipped:
            return f"{self.component}: skipped ({self.skipped})"
        how = f"{self.linked} hard-linked to the hub cache" if not self.copied else \
            f"{self.copied} copied from the hub cache" + (f", {self.linked} hard-linked" if self.linked else "")
        size = f"{self.size / 1e9:.2f} GB" if self.size >= 1e8 else f"{self.size / 1e6:.1f} MB"
        return f"{self.component}: {self.files} files, {size} in {self.folder} ({how})"


def select_components(names: Iterable[str] | None) -> list[Component]:
    """Components by name, in download order; None: all of them."""
    names = COMPONENT_NAMES if names is None else [n.strip() for n in names if n.strip()]
    unknown = [n for n in names if n not in COMPONENTS]
    if unknown or not names:
        raise InputError(f"unknown weights component {unknown[0] if unknown else ''!r}; choose from "
                         f"{','.join(COMPONENT_NAMES)}")
    return [COMPONENTS[n] for n in COMPONENT_NAMES if n in names]


def missing_components(root: str | os.PathLike, names: Iterable[str] = COMPONENT_NAMES) -> list[str]:
    """The components whose models are absent, incomplete or broken under `root` (headers only)."""
    root = Path(root).expanduser()
    return [c.name for c in select_components(names) if _problems(c, root)]


def _problems(component: Component, root: Path) -> list[str]:
    """What is wrong with a component's models under root, one line each ([] when all are complete)."""
    problems = []
    for model, folder in component.targets(root):
        try:
            report = check_checkpoint(model, folder)[-1]
        except WeightsError as exc:
            problems.append(str(exc))
            continue
        if not report.ok:
            problems.append(f"{model} in {folder}: {report.summary().splitlines()[0]}")
    return problems


def download_weights(root: str | os.PathLike, components: Iterable[str] | None = None, *,
                     revisions: Mapping[str, str] | None = None, cache_dir: str | os.PathLike | None = None,
                     lenient: bool | None = None, log: Callable[[str], None] = print) -> list[Fetched]:
    """Download components (None: all) from the hub into `root`'s layout; each component is checked after
    download. revisions: {repository or component: revision} over the pinned ones. lenient: an optional
    component (rmbg) that cannot be had is skipped with a note instead of failing (default: when `components` is
    None). Bad roots, gated repositories, no network and full disks are WeightsErrors that say what to do."""
    lenient = components is None if lenient is None else lenient
    chosen = select_components(components)
    revisions = _revisions_by_repo(revisions or {})
    root = _writable_root(root)
    hub = _import_hub()
    cache = Path(cache_dir).expanduser() if cache_dir else Path(hub.constants.HF_HUB_CACHE)
    fetched = []
    for repo in dict.fromkeys(c.repo for c in chosen):
        group = [c for c in chosen if c.repo == repo]
        revision = revisions.get(repo, group[0].revision)
        log(f"{repo} at {revision[:12]} ({', '.join(c.name for c in group)}), licence: {group[0].licence} "
            f"- {group[0].url}")
        try:
            snapshot = Path(hub.snapshot_download(repo, revision=revision, cache_dir=cache_dir,
                                                  allow_patterns=sorted({p for c in group for p in c.patterns()})))
        except Exception as exc:  # noqa: BLE001 - each hub failure becomes a message; others re-raise
            error = _hub_error(exc, repo, revision, cache, hub)
            if error is None:
                raise
            if lenient and not any(c.required for c in group):
                log(f"skipped {repo}: {error}")
                fetched += [Fetched(c.name, root / c.folder, skipped=str(error)) for c in group]
                continue
            raise error from None
        for component in group:
            fetched.append(_place(component, snapshot, root, revision, cache))
            log(fetched[-1].line())
    return fetched


def download_missing(root: str | os.PathLike, *, log: Callable[[str], None] = print) -> list[Fetched]:
    """Download the components that `root` lacks or holds broken (rmbg only when it can be had): the first-use
    download of ComfyUI's Load Models. Nothing is fetched when the root is complete."""
    missing = missing_components(root)
    return download_weights(root, missing, lenient=True, log=log) if missing else []


def _revisions_by_repo(revisions: Mapping[str, str]) -> dict[str, str]:
    by_repo = {}
    repos = {c.repo for c in COMPONENTS.values()}
    for key, revision in revisions.items():
        repo = COMPONENTS[key].repo if key in COMPONENTS else key
        if repo not in repos or not revision:
            raise InputError(f"a revision needs a repository ({', '.join(sorted(repos))}) or a component "
                             f"({', '.join(COMPONENT_NAMES)}) and a value, got {key}={revision}")
        by_repo[repo] = revision
    return by_repo


def _writable_root(root: str | os.PathLike) -> Path:
    root = Path(root).expanduser()
    probe = root / f".actionmesh-write-test-{uuid.uuid4().hex[:8]}"
    try:
        root.mkdir(parents=True, exist_ok=True)
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise WeightsError(f"cannot write weights into {root} ({exc.strerror or exc}); choose a folder you can "
                           "write to") from None
    return root


def _import_hub():
    """huggingface_hub with the submodules used here (imported on first use: it is slow to import)."""
    try:
        import huggingface_hub
        import huggingface_hub.constants
        import huggingface_hub.errors  # the error classes _hub_error tells apart
    except ImportError:
        raise WeightsError("downloading weights needs the huggingface_hub package (0.25 or newer): "
                           "pip install -U huggingface_hub") from None
    return huggingface_hub


def _hub_error(exc: Exception, repo: str, revision: str, cache: Path, hub) -> WeightsError | None:
    """One line that says what to do about a failed snapshot_download; None for an unexpected failure."""
    errors, constants, url = hub.errors, hub.constants, f"https://huggingface.co/{repo}"
    offline = getattr(constants, "is_offline_mode", lambda: constants.HF_HUB_OFFLINE)()
    login = f"log in here with `{_login_command(hub)}` (or set HF_TOKEN)"
    first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    if isinstance(exc, errors.GatedRepoError):
        return WeightsError(f"{repo} is gated: open {url} while logged in to Hugging Face, accept its licence, "
                            f"then {login} and run again")
    if isinstance(exc, errors.RepositoryNotFoundError):
        return WeightsError(f"{repo} was not found on the hub, or it needs you to log in: check {url}, {login} "
                            "and run again")
    if isinstance(exc, errors.RevisionNotFoundError):
        return WeightsError(f"{repo} has no revision {revision!r}: give one that exists ({url}/commits/main), e.g. "
                            f"--revision {repo}=main")
    if isinstance(exc, errors.LocalEntryNotFoundError):  # no network (or offline mode) and not in the cache
        why = "HF_HUB_OFFLINE is set" if offline else f"the hub ({constants.ENDPOINT}) cannot be reached"
        todo = "unset HF_HUB_OFFLINE to download" if offline else \
            "check the network connection (or HTTPS_PROXY / HF_ENDPOINT) and run again; finished files are kept"
        return WeightsError(f"{why} and the hub cache {cache} does not hold {repo} at {revision[:12]} in full: "
                            f"{todo}")
    if isinstance(exc, errors.HfHubHTTPError):
        status = getattr(getattr(exc, "response", None), "status_code", None)
        if status in (401, 403):
            return WeightsError(f"the hub refused {repo} (HTTP {status}): open {url}, accept its licence if it "
                                f"asks, {login} and run again")
        return WeightsError(f"the hub failed to serve {repo} (HTTP {status}: {first_line}); run again later "
                            "(finished files are kept)")
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
        return WeightsError(f"the disk is full while downloading {repo} into the hub cache {cache}: free some "
                            "space or set HF_HUB_CACHE to a bigger disk, and run again (finished files are kept)")
    if isinstance(exc, OSError) and exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return WeightsError(f"cannot write into the hub cache {cache} ({exc.strerror}): set HF_HUB_CACHE to a "
                            "folder you can write to")
    if isinstance(exc, OSError) or type(exc).__module__.split(".")[0] in ("httpx", "httpx2", "requests",
                                                                          "urllib3", "huggingface_hub"):
        return WeightsError(f"downloading {repo} failed ({type(exc).__name__}: {first_line}); run again to "
                            "continue (finished files are kept)")
    return None


def _login_command(hub) -> str:
    """`hf auth login` (huggingface_hub 0.34 and later), else the older `huggingface-cli login`."""
    major, minor = (int(part) for part in re.findall(r"\d+", hub.__version__)[:2])
    return "hf auth login" if (major, minor) >= (0, 34) else "huggingface-cli login"


def _place(component: Component, snapshot: Path, root: Path, revision: str, cache: Path) -> Fetched:
    """Hard-link (else copy) the component's files from a hub snapshot into root / component.folder, each under
    a temporary name renamed at the end, then check every model. Only files matching the component's patterns
    are placed, whatever else the snapshot holds."""
    patterns = component.patterns()
    sources = {path.relative_to(snapshot).as_posix(): path for path in snapshot.rglob("*") if path.is_file()}
    chosen = {rel: src for rel, src in sorted(sources.items())
              if any(fnmatch.fnmatchcase(rel, p) for p in patterns) and rel.endswith(SAFE_SUFFIXES)}
    targets = component.targets(root)
    fetched = Fetched(component.name, targets[0][1] if len(targets) == 1 else root / component.folder)
    pairs = [(src.resolve(), root / component.folder / rel) for rel, src in chosen.items()]
    _check_room(pairs, root, cache)
    for source, target in pairs:
        how = _link_or_copy(source, target)
        fetched.files += 1
        fetched.size += source.stat().st_size
        fetched.linked += how == "linked"
        fetched.copied += how == "copied"
    problems = _problems(component, root)
    if problems:
        raise WeightsError(f"{component.repo} at {revision[:12]} did not give complete {component.name} weights "
                           f"({problems[0]}); the hub cache {cache} may hold an interrupted download: run again "
                           "with the network on")
    return fetched


def _same_file(source: Path, target: Path) -> bool:
    try:
        return os.path.samefile(source, target)
    except OSError:
        return False


def _check_room(pairs: list[tuple[Path, Path]], root: Path, cache: Path) -> None:
    """Copies (the cache on another disk than the root) must fit in the root's free space."""
    device = root.stat().st_dev
    needed = sum(src.stat().st_size for src, dst in pairs if src.stat().st_dev != device and not _same_file(src, dst))
    free = shutil.disk_usage(root).free
    if needed > free:
        raise WeightsError(f"not enough space in {root}: copying from the hub cache {cache} (another disk) needs "
                           f"{needed / 1e9:.2f} GB, {free / 1e9:.2f} GB are free; free some space, or set "
                           "HF_HUB_CACHE to a folder on the root's disk so that files are hard-linked")


def _link_or_copy(source: Path, target: Path) -> str:
    """target becomes source's content: 'kept' (already the same file), 'linked' (a hard link, no extra space)
    or 'copied'. Written under a temporary name and renamed, so target is never half-written."""
    if _same_file(source, target):
        return "kept"
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.partial")
    try:
        try:
            os.link(source, partial)
            how = "linked"
        except OSError:  # another disk, or a filesystem without hard links
            shutil.copyfile(source, partial)
            how = "copied"
        os.replace(partial, target)
    except OSError as exc:
        raise WeightsError(f"cannot write {target} ({exc.strerror or exc}); free some space or choose a folder "
                           "you can write to, and run again") from None
    finally:
        partial.unlink(missing_ok=True)
    return how
