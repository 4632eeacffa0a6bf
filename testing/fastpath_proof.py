"""The fast paths against their references, on one generated fleet (``fleetgen.fleet``).

References: one ``kustomize build`` per site, and a YAML parse. Fast paths: batched renders (one
and two kustomize processes at once), pin-invariant renders from mirrors with plain bases rendered
once (flattened), the render state cold and after a change of pin values only (served from the
pin-invariant render without kustomize), the fast pin reader, and the line scanner that reads
the containers of a render, a history's pins read through the pin-invariant form, the one-pass read of a site's own folder and the lean readers of a folder (and what the walk learns after them) against the general walk. ``prove`` returns every difference, one line each; none is the proof.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import yaml

from gitops_mlops.config.load import parse_config
from gitops_mlops.config.sites import Site, discover_sites, kustomization_of
from gitops_mlops.core.errors import GitOpsError
from gitops_mlops.pins import kustomization
from gitops_mlops.pins.sentinels import may_read_through, pin_invariant, pins_of_form
from gitops_mlops.render.inputs import References, closure, site_dir, site_keys, walk_references
from gitops_mlops.render.kustomize import Kustomize, mirrorable, render_sites, split_documents
from gitops_mlops.render.readers import readers
from gitops_mlops.render.state import _POD_PATHS, STORAGE_URI, containers_of, render_state
from testing.fleetgen import Fleet, fleet

NEW_DIGEST = "sha256:" + "d" * 64


def write_fleet(fleet: Fleet, repo: Path) -> None:
    for relative, text in fleet.files.items():
        path = repo / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.encode())
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}
    for argv in (["init", "-q"], ["add", "-A"], ["commit", "-qm", f"fleet {fleet.seed}"]):
        subprocess.run(["git", "-C", str(repo), *argv], check=True, env=env, capture_output=True)


def reference(kustomize: Kustomize, repo: Path, sites) -> dict[str, str | None]:
    """Each site's ``kustomize build`` output, None where it fails."""
    out: dict[str, str | None] = {}
    for site in sites:
        try:
            out[site.name] = kustomize.build(repo / site.path, cwd=repo)
        except GitOpsError:
            out[site.name] = None
    return out


def parsed_containers(output: str) -> list[tuple[str, str, str]]:
    """(Kind/name, container, image) of every Pod-template container and oci:// modelcar, by a YAML parse."""
    found = []
    for obj in yaml.safe_load_all(output):
        if not isinstance(obj, dict):
            continue
        resource = f"{obj.get('kind')}/{(obj.get('metadata') or {}).get('name')}"
        for path in _POD_PATHS:
            spec = obj
            for key in path:
                spec = spec.get(key) if isinstance(spec, dict) else None
            if isinstance(spec, dict) and ("containers" in spec or "initContainers" in spec):
                for c in (spec.get("containers") or []) + (spec.get("initContainers") or []):
                    found.append((resource, str(c.get("name") or ""), c["image"]))
                break
        predictor = (obj.get("spec") or {}).get("predictor") if obj.get("kind") == "InferenceService" else None
        if isinstance(predictor, dict):
            for place in (predictor, *(v for v in predictor.values() if isinstance(v, dict))):
                uri = place.get("storageUri")
                if isinstance(uri, str) and uri.startswith("oci://"):
                    found.append((resource, STORAGE_URI, uri[len("oci://") :]))
    return found


def compare(what: str, expected: dict[str, str | None], got: dict[str, str | None]) -> list[str]:
    problems = []
    for name, want in expected.items():
        have = got.get(name)
        if want is not None and have is None:
            problems.append(f"{what}: {name}: failed where kustomize build succeeds")
        elif want is None and have is not None:
            problems.append(f"{what}: {name}: rendered where kustomize build fails")
        elif want != have:
            problems.append(f"{what}: {name}: output differs from kustomize build")
    return problems


def _invariant_forms(repo: Path, sites) -> dict[str, object]:
    forms = {}
    for site in sites:
        text = kustomization_of(repo, site).read_text(encoding="utf-8")
        form = pin_invariant(text, site.path)
        if form is not None and mirrorable(repo, site, _refs_for(repo, site)):
            forms[site.name] = form
    return forms


def _refs_for(repo: Path, site: Site):
    from gitops_mlops.render.inputs import References, buildable_sites

    refs = References()
    buildable_sites(repo, [site], (), refs)
    return refs


def prove_renders(kustomize: Kustomize, repo: Path, sites, expected: dict[str, str | None], jobs: int) -> list[str]:
    got = render_sites(repo, sites, kustomize=kustomize, jobs=jobs)
    problems = compare(f"batched render ({jobs} at once)", expected, {n: r.output if r.ok else None for n, r in got.items()})
    forms = _invariant_forms(repo, sites)
    got = render_sites(repo, sites, kustomize=kustomize, jobs=2, texts={n: f.text for n, f in forms.items()}, flatten=True)
    outputs = {n: (forms[n].substitute(r.output) if n in forms else r.output) if r.ok else None for n, r in got.items()}
    problems += compare("pin-invariant flattened render", expected, outputs)
    return problems


def prove_state(kustomize: Kustomize, repo: Path, config, sites, expected: dict[str, str | None], what: str) -> list[str]:
    state = render_state(repo, config, sites, outputs=True, kustomize=kustomize, invariants=True)
    problems = compare(what, expected, {n: s.output if s.ok else None for n, s in state.items()})
    for name, want in expected.items():
        if want is not None and state[name].ok:
            have = sorted((c.resource, c.name, c.image) for c in state[name].containers)
            if have != sorted(parsed_containers(want)):
                problems.append(f"{what}: {name}: containers {have} differ from a YAML parse")
    return problems


def change_pin_values(repo: Path, sites) -> list[str]:
    """Every pin of every site gets new values in the fields it has: a change of pin values only."""
    problems = []
    for site in sites:
        path = kustomization_of(repo, site)
        text = path.read_bytes().decode()
        try:
            pins = kustomization.pins(text, site.path)
        except GitOpsError as exc:
            problems.append(f"pin reader: {site.name}: {exc}")
            continue
        for pin in pins:
            values = {}
            if pin.new_tag:
                values["newTag"] = "2.0.0"
            if pin.digest:
                values["digest"] = NEW_DIGEST
            if values:
                text = kustomization.set_pin(text, site.path, pin.name, values)
        path.write_bytes(text.encode())
    return problems


def _prove_pins_through_form(site: Site, text: str, full) -> list[str]:
    """The pins a site's history reads through the pin-invariant form (``sentinels.pins_of_form``) against the parse."""
    form = pin_invariant(text, site.path)
    if form is None or not may_read_through(text):
        return []
    try:
        read = kustomization.pins(form.text, site.path)
    except GitOpsError:
        return []  # the history reads the text itself
    through = pins_of_form(form, read)
    return [] if not read or through == full else [f"pins through the pin-invariant form: {site.name}: {through} differs from a YAML parse"]


def prove_readers(repo: Path, sites, outputs: dict[str, str | None]) -> list[str]:
    problems = []
    for site in sites:
        text = kustomization_of(repo, site).read_bytes().decode()
        fast = kustomization.fast_pins(text, site.path)
        try:
            full = kustomization.pins(text, site.path)
        except GitOpsError:
            continue  # change_pin_values names it
        if fast is not None and sorted(fast, key=str) != sorted(full, key=str):
            problems.append(f"fast pin reader: {site.name}: {fast} differs from a YAML parse")
        problems += _prove_pins_through_form(site, text, full)
    for name, output in outputs.items():
        if output is not None:
            fast = sorted((c.resource, c.name, c.image) for c in containers_of(output))
            if fast != sorted(parsed_containers(output)):
                problems.append(f"container scanner: {name}: {fast} differs from a YAML parse")
            if "---\n".join(split_documents(output)) != output:
                problems.append(f"document splitter: {name}: documents do not join back to the output")
    return problems


def prove(fleet: Fleet, root: Path, kustomize: Kustomize | None = None) -> list[str]:
    """Every difference between the fast paths and their references on this fleet (a fast path
    that raises is one too)."""
    kustomize = kustomize or Kustomize.find()
    repo = root / f"fleet-{fleet.seed}"
    write_fleet(fleet, repo)
    config = parse_config(fleet.config)
    sites = discover_sites(repo, config)
    expected = reference(kustomize, repo, sites)
    steps = (
        ("batched renders", lambda: prove_renders(kustomize, repo, sites, expected, jobs=1 + fleet.seed % 3)),  # one batch, a few, or one site each
        ("readers", lambda: prove_readers(repo, sites, expected)),
        ("one-pass own folders", lambda: prove_own_folders(repo, sites)),
        ("readers of folders", lambda: prove_readers_of(repo, sites, fleet_folders(repo, sites))),
        ("render state, cold", lambda: prove_state(kustomize, repo, config, sites, expected, "render state, cold")),
    )
    problems = _run(steps)
    problems += change_pin_values(repo, sites)
    expected = reference(kustomize, repo, sites)
    steps = (
        (
            "render state after a change of pin values",
            lambda: prove_state(kustomize, repo, config, sites, expected, "render state after a change of pin values"),
        ),
        ("readers after a change of pin values", lambda: prove_readers(repo, sites, expected)),
    )
    problems += _run(steps)
    return [f"seed {fleet.seed}: {p}" for p in problems]


def walk_learned(repo: Path, sites, general: bool, allowed=lambda site: (), refs: References | None = None) -> dict:
    """What the walk and the keys learn of every site: its error, or its closure with each folder's
    references, children and checked files, and its key; ``general``: without the one-pass own folder;
    ``refs``: what an earlier step of the same command learned (the readers of a folder, say)."""
    refs, out, good = References(general=general) if refs is None else refs, {}, []
    for site in sites:
        try:
            walk_references(repo, site, allowed(site), refs)
        except GitOpsError as exc:
            out[site.name] = ("error", str(exc))
            continue
        good.append(site)
    try:
        keys = site_keys(repo, good, refs, "salt")
    except GitOpsError as exc:
        return {"keys-error": str(exc)}
    for site in good:
        folders = closure(site_dir(repo, site, refs), refs)
        out[site.name] = (folders, [(str(d), refs.entries.get(d), refs.children.get(d), refs.trees.get(d)) for d in folders], keys[site.name])
    return out


def prove_own_folders(repo: Path, sites) -> list[str]:
    """The one-pass read of the sites' own folders (``render/ownfolder.py``) against the general walk."""
    fast, general = walk_learned(repo, sites, False), walk_learned(repo, sites, True)
    return [f"one-pass own folder: {name}: {fast.get(name)!r:.200} differs from the general walk" for name in general if fast.get(name) != general[name]]


def prove_readers_of(repo: Path, sites, folders, allowed=lambda site: ()) -> list[str]:
    """The readers of each set of ``folders`` (``render/readers.py``) against the general walk's, and what the
    same command's walk and keys learn afterwards against what the general walk alone learns."""
    problems = []
    reference = walk_learned(repo, sites, True, allowed)
    for dirs in folders:
        refs, general = References(), References(general=True)
        fast = _readers(repo, sites, allowed, refs, dirs)
        want = _readers(repo, sites, allowed, general, dirs)
        if fast != want:
            problems.append(f"readers of {sorted(map(str, dirs))[:3]}: {fast} differ from the general walk's {want}")
        after = walk_learned(repo, sites, False, allowed, refs)
        problems += [f"walk after the readers: {n}: {after.get(n)!r:.200} differs from the general walk" for n in reference if after.get(n) != reference[n]]
    return problems


def _readers(repo: Path, sites, allowed, refs: References, dirs) -> tuple[str, ...] | str:
    """The names of the readers, each site walked with its own allowed remotes (one call per distinct list)."""
    found = set()
    try:
        for remotes in {allowed(s) for s in sites}:
            mine = [s for s in sites if allowed(s) == remotes]
            found |= {s.name for s in readers(repo, mine, remotes, refs, set(dirs), {mine[0].name} if len(mine) > 2 else set())}
    except GitOpsError as exc:
        return f"error: {exc}"
    return tuple(sorted(found))


def fleet_folders(repo: Path, sites) -> list[set[Path]]:
    """Sets of folders a change may touch: each site's own, a few together, and every folder with a kustomization."""
    own = [(repo / s.path).resolve() for s in sites]
    shared = sorted({p.parent.resolve() for p in repo.rglob("kustomization.yaml") if ".git" not in p.parts}, key=str)
    return [{d} for d in own] + [set(own[::3]), set(own[1::4])] + [{d} for d in shared] + [set(shared)]


def _run(steps) -> list[str]:
    problems = []
    for what, step in steps:
        try:
            problems += step()
        except Exception as exc:
            problems.append(f"{what}: raised {type(exc).__name__}: {str(exc)[:300]}")
    return problems


def prove_many(seeds, root: Path, jobs: int = 2, on_fleet=None) -> tuple[list[str], int]:
    """``prove`` over many fleets, ``jobs`` at once (their kustomize processes keep the cores busy);
    every difference, and the number of sites proven. ``on_fleet(seed, problems)`` sees each fleet."""
    from concurrent.futures import ThreadPoolExecutor

    kustomize = Kustomize.find()

    def one(seed: int) -> tuple[int, int, list[str]]:
        drawn = fleet(seed)
        try:
            return seed, len(drawn.sites), prove(drawn, root, kustomize)
        finally:
            shutil.rmtree(root / f"fleet-{seed}", ignore_errors=True)

    problems: list[str] = []
    sites = 0
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        for seed, count, found in pool.map(one, seeds):
            sites += count
            problems += found
            if on_fleet is not None:
                on_fleet(seed, found)
    return problems, sites
