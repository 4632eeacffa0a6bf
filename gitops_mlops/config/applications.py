"""The Argo CD Applications under ``environments/``: the folder each one syncs.

No command may leave an Application pointing at a folder that is gone: ``remove-site`` takes
away the Application of the site it removes (a file holding that Application alone, and its
entry in the folder's kustomization), and ``validate`` reports any Application whose path
does not exist. ApplicationSets are not read here: their git generators match folders by
pattern, so a removed folder simply stops being generated.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from gitops_mlops.core import repofiles
from gitops_mlops.core.errors import InputError
from gitops_mlops.pins.kustomization import KUSTOMIZATION_FILES

MAX_FILE_BYTES = 1_000_000  # an Argo CD manifest larger than this is not read


@dataclass(frozen=True)
class Application:
    file: str  # relative to the repository, posix
    line: int  # of its ``path:``
    name: str
    path: str  # the folder it syncs (spec.source.path, or one of spec.sources[].path)
    alone: bool  # the only document of its file


def _read(file: Path, repo_dir: Path) -> str:
    """A file of environments/ as text, read by type, inside the repository and bounded (``repofiles``)."""
    return repofiles.read_bytes(file, file.relative_to(repo_dir).as_posix(), Path(repo_dir).resolve(), MAX_FILE_BYTES).decode("utf-8", errors="replace")


def _documents(text: str) -> list:
    try:
        return [d for d in YAML(typ="safe", pure=True).load_all(text) if d is not None]
    except (YAMLError, ValueError):
        return []  # not a manifest the tool can read: no Application of its


def _paths(doc: dict) -> list[str]:
    spec = doc.get("spec") if isinstance(doc.get("spec"), dict) else {}
    sources = [spec.get("source")] + (spec.get("sources") if isinstance(spec.get("sources"), list) else [])
    return [s["path"].strip("/") for s in sources if isinstance(s, dict) and isinstance(s.get("path"), str) and s["path"].strip("/")]


def applications(repo_dir: Path) -> list[Application]:
    """Every Application under environments/ with a local path, in file order."""
    root = Path(repo_dir) / "environments"
    found: list[Application] = []
    for file in sorted(root.rglob("*.y*ml")) if root.is_dir() else []:
        text = _read(file, Path(repo_dir))
        docs = _documents(text)
        apps = [d for d in docs if isinstance(d, dict) and d.get("kind") == "Application" and str(d.get("apiVersion", "")).startswith("argoproj.io/")]
        for doc in apps:
            name = str((doc.get("metadata") or {}).get("name") or "?")
            for path in _paths(doc):
                found.append(Application(file.relative_to(repo_dir).as_posix(), _line_of(text, path), name, path, len(docs) == 1))
    return found


def _line_of(text: str, path: str) -> int:
    match = re.search(rf"^\s*-?\s*path:\s*['\"]?/?{re.escape(path)}/?['\"]?\s*(#.*)?$", text, re.M)
    return text.count("\n", 0, match.start()) + 1 if match else 1


def missing_paths(repo_dir: Path) -> list[str]:
    """One line for each Application whose folder does not exist in the repository."""
    return [
        f"{a.file}:{a.line}: Application {a.name} syncs {a.path}, which does not exist"
        for a in applications(repo_dir)
        if not (Path(repo_dir) / a.path).is_dir()
    ]


def removal(repo_dir: Path, folder: str) -> tuple[list[str], dict[str, str]]:
    """What takes away the Applications that sync ``folder``: files to delete, and kustomizations with
    their entry for those files removed (path -> new text). An Application that shares its file with
    other documents is refused: the tool does not rewrite it."""
    repo_dir = Path(repo_dir)
    apps = [a for a in applications(repo_dir) if a.path == folder.strip("/")]
    shared = next((a for a in apps if not a.alone), None)
    if shared is not None:
        raise InputError(f"{shared.file}:{shared.line}: Application {shared.name} syncs {folder} and shares its file; remove it first")
    deleted = sorted({a.file for a in apps})
    edited: dict[str, str] = {}
    for file in deleted:
        parent = (repo_dir / file).parent
        for name in KUSTOMIZATION_FILES:
            kustomization = parent / name
            if kustomization.is_file():
                key = kustomization.relative_to(repo_dir).as_posix()
                text = edited.get(key) or _read(kustomization, repo_dir)
                entry = re.escape((repo_dir / file).relative_to(parent).as_posix())
                edited[key] = re.sub(rf"^[ \t]*-[ \t]+['\"]?(?:\./)?{entry}['\"]?[ \t]*(?:#[^\n]*)?\r?\n", "", text, flags=re.M)
    return deleted, {k: v for k, v in edited.items() if v != _read(repo_dir / k, repo_dir)}
