"""What runs where: the pin of every model at every site, with drift and stage lag marked."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
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
        path = kustomization_of(repo_dir, site)
        doc = kustomization.read(path, path.relative_to(repo_dir).as_posix())
        for model in chosen_models:
            pin = doc.pin(model.image)
            if pin is None:
                continue
            rows.append(Row(model.name, site.name, site.stage, pin.repository, pin.digest or "", pin.new_tag or ""))
    return _mark(config, rows)


def _mark(config: Config, rows: list[Row]) -> list[Row]:
    """Drift: the site differs from the most common digest of its stage (every site, on a tie).
    Behind: the site does not run what most sites of the closest earlier stage run."""
    counts: dict[tuple[str, str], Counter] = {}
    for row in rows:
        counts.setdefault((row.model, row.stage), Counter())[row.digest] += 1
    common: dict[tuple[str, str], set[str]] = {}
    for key, counter in counts.items():
        top = counter.most_common(1)[0][1]
        common[key] = {digest for digest, n in counter.items() if n == top}
    order = [s.name for s in config.stages]
    marked = []
    for row in rows:
        key = (row.model, row.stage)
        drift = len(counts[key]) > 1 and (len(common[key]) > 1 or row.digest not in common[key])
        behind = False
        if row.stage in order:
            earlier = [s for s in order[: order.index(row.stage)] if (row.model, s) in common]
            if earlier and len(common[(row.model, earlier[-1])]) == 1:
                behind = row.digest not in common[(row.model, earlier[-1])]
        marked.append(Row(**{**row.__dict__, "drift": drift, "behind": behind}))
    return marked
