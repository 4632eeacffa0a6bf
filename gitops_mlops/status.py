"""What runs where: the pin of every model at every site, with drift and stage lag marked."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path

from gitops_mlops import kustomization
from gitops_mlops.config import Config, load_config
from gitops_mlops.sites import discover_sites, kustomization_of, select


@dataclass(frozen=True)
class Row:
    model: str
    site: str
    stage: str
    image: str
    digest: str
    version: str
    drift: bool = False  # differs from what most sites of its stage run
    behind: bool = False  # its stage does not yet run what the previous stage runs

    def as_json(self) -> dict:
        return {"model": self.model, "site": self.site, "stage": self.stage, "image": self.image, "digest": self.digest, "version": self.version}


def read_status(repo_dir: Path, models: tuple[str, ...] = (), selectors: tuple[str, ...] = ()) -> list[Row]:
    repo_dir = Path(repo_dir).resolve()
    config = load_config(repo_dir)
    chosen_models = [config.model(m) for m in models] if models else list(config.models)
    sites = discover_sites(repo_dir, config)
    chosen_sites = select(sites, selectors) if selectors else sites
    rows = []
    for site in chosen_sites:
        path = repo_dir / site.file if site.file else kustomization_of(repo_dir, site)
        pins = {fields[0]: fields for fields in kustomization.read_pin_fields(path, site.file or str(path))}
        for model in chosen_models:
            pin = pins.get(model.image)
            if pin is not None:
                name, new_name, new_tag, digest = pin
                rows.append(Row(model.name, site.name, site.stage, new_name or name, digest or "", new_tag or ""))
    return _mark(config, rows)


def _mark(config: Config, rows: list[Row]) -> list[Row]:
    """Drift: the site differs from the most common digest of its stage (every site, on a tie).
    Behind: the site does not run what most sites of the closest earlier stage run."""
    counts: dict[tuple[str, str], Counter] = {}
    for row in rows:
        key = (row.model, row.stage)
        counter = counts.get(key)
        if counter is None:
            counter = counts[key] = Counter()
        counter[row.digest] += 1
    common: dict[tuple[str, str], set[str]] = {}
    for key, counter in counts.items():
        top = max(counter.values())
        common[key] = {digest for digest, n in counter.items() if n == top}
    order = [s.name for s in config.stages]
    reference: dict[tuple[str, str], set[str] | None] = {}
    for model, stage in counts:
        earlier = [s for s in order[: order.index(stage)] if (model, s) in common] if stage in order else []
        previous = common[(model, earlier[-1])] if earlier else None
        reference[(model, stage)] = previous if previous is not None and len(previous) == 1 else None
    marked = []
    for row in rows:
        key = (row.model, row.stage)
        drift = len(counts[key]) > 1 and (len(common[key]) > 1 or row.digest not in common[key])
        previous = reference[key]
        behind = previous is not None and row.digest not in previous
        marked.append(replace(row, drift=drift, behind=behind) if drift or behind else row)
    return marked
