"""Many sites in one kustomize process: sites cut into batches, each site of a batch wrapped so every
resource it renders carries its marker, and the batch's output split back by marker.

Pure text and file work: kustomize itself runs in ``kustomize.py``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from gitops_mlops.config.sites import Site
from gitops_mlops.core import repofiles
from gitops_mlops.core.errors import GitOpsError
from gitops_mlops.pins import kustomization
from gitops_mlops.render.inputs import References, closure, site_dir

# Sites per kustomize process. One process's cost per site grows with the resources it holds
# (scripts/bench_batch.py: distinct edge sites of 10 models each, on this 2-core machine), while a
# process of one site pays the start-up each time; the bottom of that curve is here.
BATCH_SIZE = 10
# And at most this many resources (``resource_estimate``) per process: ten sites of ten models.
# A site of a hundred models (about 400) renders alone: per site, batches of 1, 2 and 3 cost the
# same there (2.5 s) and a batch of 10 cost 3.5 s (scripts/bench_batch.py --models 100).
RESOURCE_BUDGET = 400

_DOC_SPLIT = re.compile(r"^---[ \t]*\r?\n", re.M)
_SORT_OPTIONS = re.compile(r"^sortOptions[ \t]*:", re.M)
# kustomize's prefix transformer skips these kinds (its ``prefixSuffixFieldSpecsToSkip``); the wrapper
# prefixes their names by a replacement instead, so every resource of a batch carries its site's marker.
_UNPREFIXED = ({"kind": "Namespace"}, {"kind": "CustomResourceDefinition"}, {"group": "apiregistration.k8s.io", "kind": "APIService"})


def weight(repo: Path, site: Site, refs: References, texts: dict[str, str] | None) -> int:
    """A site's share of a batch's RESOURCE_BUDGET; over it for a site that orders its own output
    (``sortOptions``), which renders alone: a batch's order is its wrapper's."""
    text = texts.get(site.name) if texts else None
    if text is None:
        try:
            file = kustomization.find_kustomization_file(site_dir(repo, site, refs))
            text = kustomization.read_text(file, site.path) if file else ""
        except GitOpsError:  # kustomize says what is wrong with it, in the build
            text = ""
    return RESOURCE_BUDGET + 1 if _SORT_OPTIONS.search(text) else resource_estimate(repo, site, refs)


def in_batches(sites: list[Site], size: int, weights: list[int]) -> list[list[Site]]:
    """Consecutive batches of at most ``size`` sites and RESOURCE_BUDGET resources (a heavier site alone)."""
    batches: list[list[Site]] = []
    batch: list[Site] = []
    load = 0
    for site, weight_ in zip(sites, weights, strict=True):
        if batch and (len(batch) == size or load + weight_ > RESOURCE_BUDGET):
            batches.append(batch)
            batch, load = [], 0
        batch.append(site)
        load += weight_
    return [*batches, batch] if batch else batches


def write_wrapper(wrapper: Path, targets: list[str], token: str) -> None:
    """The kustomization that renders a batch: one marked folder per site (``s0``, ``s1``...), each
    building the site's folder at ``targets[i]`` (relative to the wrapper) under ``{token}{i}z-``."""
    wrapper.mkdir()
    (wrapper / "kustomization.yaml").write_text("resources:\n" + "".join(f"- s{i}\n" for i in range(len(targets))))
    for i, target in enumerate(targets):
        write_marked(wrapper / f"s{i}", target, f"{token}{i}z")


def write_marked(folder: Path, target: str, mark: str) -> None:
    """The wrapper of one site of a batch: the site's build with ``mark-`` before every resource's name.

    A prefix, not a suffix: kustomize's legacy order sorts a kind's resources by namespace and name,
    and one prefix before every name of a site keeps their order (a suffix would put ``app-api``
    before ``app``). Namespaces, CRDs and APIServices, which ``namePrefix`` leaves alone, are
    prefixed by a replacement from a local-config ConfigMap (dropped from the output)."""
    folder.mkdir()
    source = f"gitops-mlops-marker-{mark}"
    selects = "".join(
        "  - select: {" + ", ".join(f"{key}: {value}" for key, value in select.items()) + "}\n"
        "    fieldPaths: [metadata.name]\n"
        "    options: {delimiter: '-', index: -1}\n"
        for select in _UNPREFIXED
    )
    (folder / "kustomization.yaml").write_text(
        f"resources:\n- {target}\n- marker.yaml\nnamePrefix: {mark}-\n"
        f"replacements:\n- source: {{kind: ConfigMap, name: {source}, fieldPath: data.mark}}\n  targets:\n{selects}"
    )
    (folder / "marker.yaml").write_text(
        f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {source}\n  annotations:\n    config.kubernetes.io/local-config: 'true'\ndata:\n  mark: {mark}\n"
    )


def split_marked(output: str, token: str, count: int) -> list[str] | None:
    """The output of each of ``count`` sites, markers removed; None when a document carries no marker or two."""
    marker = re.compile(rf"{token}(\d+)z-")
    docs: list[list[str]] = [[] for _ in range(count)]
    for doc in _DOC_SPLIT.split(output):
        if not doc.strip():
            continue
        found = {int(n) for n in marker.findall(doc)}
        if len(found) != 1 or not found <= set(range(count)):
            return None
        docs[found.pop()].append(marker.sub("", doc))
    return ["---\n".join(site_docs) for site_docs in docs]


_KIND_LINE = re.compile(rb"^kind:", re.M)


def resource_estimate(repo: Path, site: Site, refs: References) -> int:
    """Roughly how many resources a checked site's build holds: the ``kind:`` lines of the YAML
    files in every directory it reads (patches count too; an estimate to size batches by)."""
    total = 0
    for directory in closure(site_dir(repo, site, refs), refs):
        count = refs.kinds.get(directory)
        if count is None:
            count = 0
            for entry in os.scandir(directory):
                if entry.is_file() and entry.name.endswith((".yaml", ".yml")) and entry.name not in kustomization.KUSTOMIZATION_FILES:
                    count += len(_KIND_LINE.findall(repofiles.read_bytes(Path(entry.path), entry.path)))
            refs.kinds[directory] = count
        total += count
    return total
