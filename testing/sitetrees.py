"""Site trees edited at random for the proofs of the walk's fast paths (tests/render/test_ownfolder.py,
tests/render/test_readers.py): a base, a component some sites share and plain site overlays, then
edits to the base, to components, to one site; files added and removed, subfolders, symlinks,
special and oversized files, references missing, remote or leaving the repository, overlays that
reference other overlays or their files."""

from __future__ import annotations

import os
import random
import shutil
from pathlib import Path

from gitops_mlops.pins import kustomization

SITES = 12
DEPLOYMENT = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\nspec:\n  template:\n    spec:\n      containers:\n        - name: c\n          image: m\n"


def _site_text(i: int, extra: tuple[str, ...] = ()) -> str:
    refs = "".join(f"  - {r}\n" for r in ("../../../base/model", "namespace.yaml", *extra))
    return f"# site {i}\nnamespace: s{i}\nresources:\n{refs}images:\n  - name: m\n    newTag: '1'\n"


def make_tree(root: Path) -> Path:
    repo = root / "repo"
    files = {
        "base/model/kustomization.yaml": "resources:\n  - deployment.yaml\n",
        "base/model/deployment.yaml": DEPLOYMENT.format(name="model"),
        "components/gpu/kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\n",
    }
    for i in range(SITES):
        files[f"overlays/edge/s{i}/kustomization.yaml"] = _site_text(i)
        files[f"overlays/edge/s{i}/namespace.yaml"] = f"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: s{i}\n"
    for relative, text in files.items():
        (repo / relative).parent.mkdir(parents=True, exist_ok=True)
        (repo / relative).write_text(text)
    (root / "outside").mkdir()
    (root / "outside" / "x.yaml").write_text("kind: ConfigMap\n")
    return repo


def _site(rng: random.Random, repo: Path) -> Path:
    return repo / f"overlays/edge/s{rng.randrange(SITES)}"


def _kfile(folder: Path) -> Path | None:
    found = [folder / n for n in kustomization.KUSTOMIZATION_FILES if (folder / n).is_file()]
    return found[0] if found else None


def _add_reference(folder: Path, ref: str) -> None:
    file = _kfile(folder)
    if file is not None and not file.is_symlink():
        file.write_bytes(file.read_bytes().replace(b"resources:\n", f"resources:\n  - {ref}\n".encode(), 1))


def mutate(rng: random.Random, repo: Path) -> str:
    """One random edit of the tree; returns what it was (for a failure's message)."""
    site = _site(rng, repo)
    other = _site(rng, repo)
    edits = {
        "base": lambda: (repo / "base/model/deployment.yaml").write_text(DEPLOYMENT.format(name=f"m{rng.randrange(99)}")),
        "base-file": lambda: (repo / "base/model" / f"extra{rng.randrange(3)}.yaml").write_text("kind: ConfigMap\n"),
        "component": lambda: _add_reference(site, "../../../components/gpu"),
        "component-edit": lambda: (repo / "components/gpu/patch.yaml").write_text(f"x: {rng.randrange(9)}\n"),
        "pin": lambda: _kfile(site) and _kfile(site).write_text(_site_text(rng.randrange(99))),
        "add-file": lambda: (site / f"f{rng.randrange(4)}.yaml").write_text(f"kind: ConfigMap\nn: {rng.random()}\n"),
        "reference-file": lambda: _add_reference(site, f"f{rng.randrange(4)}.yaml"),
        "reference-dot": lambda: _add_reference(site, f"./f{rng.randrange(4)}.yaml"),
        "remove-file": lambda: [p.unlink() for p in list(site.glob("f*.yaml"))[:1]],
        "remove-namespace": lambda: (site / "namespace.yaml").unlink(missing_ok=True),
        "subfolder": lambda: (site / "sub").mkdir(exist_ok=True) or (site / "sub" / "p.yaml").write_text("kind: ConfigMap\n"),
        "reference-subfolder": lambda: _add_reference(site, "sub/p.yaml"),
        "other-site-file": lambda: _add_reference(site, f"../{other.name}/namespace.yaml"),
        "other-site": lambda: site != other and _add_reference(site, f"../{other.name}"),
        "self": lambda: _add_reference(site, "."),
        "missing": lambda: _add_reference(site, "nothing.yaml"),
        "missing-outside": lambda: _add_reference(site, "../../../base/nothing"),
        "leaves": lambda: _add_reference(site, "../../../../outside/x.yaml"),
        "absolute": lambda: _add_reference(site, "/etc/hostname"),
        "remote": lambda: _add_reference(site, "https://example.com/x.yaml"),
        "symlink-in": lambda: _link(site / "link.yaml", repo / "base/model/deployment.yaml"),
        "symlink-out": lambda: _link(site / "out.yaml", repo.parent / "outside/x.yaml"),
        "symlink-kustomization": lambda: _kfile(site) and _link_kustomization(site, other),
        "symlinked-site": lambda: _link_folder(site, other),
        "fifo": lambda: not (site / "pipe").exists() and os.mkfifo(site / "pipe"),
        "oversized": lambda: (site / "big.yaml").write_bytes(b"#" * (2 * 1024 * 1024) if rng.random() < 0.1 else b"kind: X\n"),
        "two-kustomizations": lambda: (site / "kustomization.yml").write_text("resources: []\n"),
        "not-utf8": lambda: _kfile(site) and _kfile(site).write_bytes(b"resources:\n  - \xff\n"),
        "not-utf8-name": lambda: (site / os.fsdecode(b"x\xff.yaml")).write_text("kind: ConfigMap\n"),  # scandir gives a surrogate escape
        "unparsable": lambda: _kfile(site) and _kfile(site).write_text("resources: [a\n"),
        "flow": lambda: _kfile(site) and _kfile(site).write_text("resources: [../../../base/model, namespace.yaml]\n"),
        "restore": lambda: _restore(site),
    }
    name = rng.choice(sorted(edits))
    edits[name]()
    return f"{name} at {site.name}"


def _link(link: Path, target: Path) -> None:
    if not link.exists() and not link.is_symlink():
        os.symlink(target, link)


def _link_kustomization(site: Path, other: Path) -> None:
    if site != other and _kfile(other) is not None:
        file = _kfile(site)
        file.unlink()
        os.symlink(_kfile(other), file)


def _link_folder(site: Path, other: Path) -> None:
    if site != other and not site.is_symlink() and not other.is_symlink():
        shutil.rmtree(site)
        os.symlink(other, site)


def _restore(site: Path) -> None:
    if site.is_symlink():
        site.unlink()
    else:
        shutil.rmtree(site)
    i = int(site.name[1:])
    site.mkdir()
    (site / "kustomization.yaml").write_text(_site_text(i))
    (site / "namespace.yaml").write_text(f"kind: Namespace\nmetadata:\n  name: s{i}\n")
