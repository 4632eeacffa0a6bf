"""What runs where: the pin of every model at every site, with drift and stage lag marked."""

from __future__ import annotations

import contextlib
import gc
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path

from gitops_mlops.config import Config, load_config
from gitops_mlops.sites import discover_sites, select, site_pin_fields


@dataclass(frozen=True, slots=True)
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
    chosen_models = [(m.name, m.image) for m in ([config.model(m) for m in models] if models else config.models)]
    sites = discover_sites(repo_dir, config)
    chosen_sites = select(sites, selectors) if selectors else sites
    with _collector_paused():  # some 200,000 acyclic objects: the cycle collector's passes find nothing
        rows = []
        counts: dict[tuple[str, str], Counter] = {}  # (model, stage) -> how many sites run each digest
        for site in chosen_sites:
            by_name = {fields[0]: fields for fields in site_pin_fields(repo_dir, site)}
            name_, stage = site.name, site.stage
            for model, image in chosen_models:
                pin = by_name.get(image)
                if pin is not None:
                    name, new_name, new_tag, digest = pin
                    digest = digest or ""
                    rows.append(Row(model, name_, stage, new_name or name, digest, new_tag or ""))
                    counter = counts.get((model, stage))
                    if counter is None:
                        counter = counts[(model, stage)] = Counter()
                    counter[digest] += 1
        marks = _marks(config, counts)
        if marks:  # rows that drift or lag are few: rebuild only those
            rows = [replace(row, drift=mark[0], behind=mark[1]) if (mark := marks.get((row.model, row.stage, row.digest))) else row for row in rows]
        return rows


@contextlib.contextmanager
def _collector_paused():
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _marks(config: Config, counts: dict[tuple[str, str], Counter]) -> dict[tuple[str, str, str], tuple[bool, bool]]:
    """(drift, behind) of each (model, stage, digest) that drifts or is behind, from how many
    sites of each (model, stage) run each digest.

    Drift: the site differs from the most common digest of its stage (every site, on a tie).
    Behind: the site does not run what most sites of the closest earlier stage run."""
    common: dict[tuple[str, str], set[str]] = {}
    for key, counter in counts.items():
        top = max(counter.values())
        common[key] = {digest for digest, n in counter.items() if n == top}
    order = [s.name for s in config.stages]
    drift, behind = set(), set()
    for (model, stage), counter in counts.items():
        key = (model, stage)
        if len(counter) > 1:
            drift.update((model, stage, d) for d in counter if len(common[key]) > 1 or d not in common[key])
        earlier = [s for s in order[: order.index(stage)] if (model, s) in common] if stage in order else []
        previous = common[(model, earlier[-1])] if earlier else None
        if previous is not None and len(previous) == 1:
            behind.update((model, stage, d) for d in counter if d not in previous)
    return {key: (key in drift, key in behind) for key in drift | behind}
