"""The only module that runs kustomize.

kustomize is found as ``kustomize``, else ``oc kustomize``, else ``kubectl
kustomize`` (``GITOPS_MLOPS_KUSTOMIZE`` overrides). It runs on a leash: load
restrictor RootOnly, no Helm, no exec or KRM plugins, remote resources refused
before the build (unless allow-listed), network proxied to nowhere unless the
config allow-lists remote resources, a wall-clock timeout
(``GITOPS_MLOPS_KUSTOMIZE_TIMEOUT`` seconds, default 300) per process.

Many sites render in one process: each overlay is wrapped in a tiny
kustomization whose ``namePrefix`` carries a unique marker, so resource ids of
different sites never collide; the output is split back by marker, and the
marker removed. A site whose kustomization sets ``sortOptions`` renders alone
(the order of a batch's output is the wrapper's). Batches run in parallel, one per core; a failing batch is
bisected so each broken site gets its own error, and a batch that runs past
the timeout is split into single sites once kustomize has shown it can finish
a build (another batch, or one of the batch's sites alone), so a timeout names
only the sites that cannot render in time, never a whole fleet. When many sites
render, the plain bases they read are rendered once first and each site reads
them from one folder of their renders (``flatbases.py``).
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

from gitops_mlops.config.sites import Site
from gitops_mlops.core import progress, repofiles, scratch, settings
from gitops_mlops.core.errors import GitOpsError, RenderError
from gitops_mlops.pins import kustomization
from gitops_mlops.render import flatbases
from gitops_mlops.render.inputs import References, buildable_sites, closure, resource_estimate, site_dir, site_keys

INSTALL_HINT = (
    "install kustomize (https://kubectl.docs.kubernetes.io/installation/kustomize/), the OpenShift CLI 'oc', or kubectl, or set GITOPS_MLOPS_KUSTOMIZE"
)
_DOC_SPLIT = re.compile(r"^---[ \t]*\r?\n", re.M)


class TimedOut(RenderError):
    """kustomize ran past the timeout and was killed."""


# Sites per kustomize process. One process's cost per site grows with the resources it holds
# (scripts/bench_batch.py: distinct edge sites of 10 models each, on this 2-core machine), while a
# process of one site pays the start-up each time; the bottom of that curve is here.
BATCH_SIZE = 10
# And at most this many resources (``inputs.resource_estimate``) per process: ten sites of ten models.
# A site of a hundred models (about 400) renders alone: per site, batches of 1, 2 and 3 cost the
# same there (2.5 s) and a batch of 10 cost 3.5 s (scripts/bench_batch.py --models 100).
RESOURCE_BUDGET = 400
# Plain bases are rendered once first (``flatbases.py``) when that saves kustomize this many base
# loads or more (sites' references to plain bases, less the bases): below it, the extra kustomize
# process costs more than the loads it saves (scripts/bench_batch.py --flatten, distinct sites of
# 10 models, 2 cores: 5 sites 0.55 s against 0.51 s without, 10 sites 0.65 against 0.74, 80 sites
# 4.2 against 5.3).
FLATTEN_FROM = 90


def parallelism() -> int:
    """kustomize processes at once: one per core this process may use."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


@dataclass(frozen=True)
class Rendered:
    site: str
    output: str = ""
    error: str = ""
    timed_out: bool = False

    @property
    def ok(self) -> bool:
        return not self.error


@dataclass(frozen=True)
class Kustomize:
    command: tuple[str, ...]

    @classmethod
    def find(cls) -> Kustomize:
        override = settings.kustomize_command()
        if override:
            parts = tuple(override.split())
            if not shutil.which(parts[0]):
                raise RenderError(f"GITOPS_MLOPS_KUSTOMIZE={override!r}: {parts[0]} not found on PATH")
            return cls(parts)
        for parts in (("kustomize", "build"), ("oc", "kustomize"), ("kubectl", "kustomize")):
            if shutil.which(parts[0]):
                return cls(parts)
        raise RenderError(f"kustomize not found: {INSTALL_HINT}")

    def identity(self) -> str:
        """What identifies this kustomize's output format: its binary's path, size and time (cached renders key on it)."""
        path = shutil.which(self.command[0]) or self.command[0]
        try:
            info = os.stat(path)
        except OSError:
            return path
        return f"{os.path.realpath(path)}:{info.st_size}:{info.st_mtime_ns}"

    def version(self) -> str:
        """The kustomize version (what decides the output), so renders cached on one machine serve
        another; the binary's identity when the command has no version to ask (a wrapper script)."""
        if self.command[-1] == "build":
            argv = [*self.command[:-1], "version"]
        elif self.command[-1] == "kustomize":
            argv = [self.command[0], "version", "--client"]
        else:
            return self.identity()
        try:
            proc = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False, env=_leashed_env())
        except (OSError, subprocess.TimeoutExpired):
            return self.identity()
        lines = [line for line in proc.stdout.splitlines() if "ustomize" in line] or proc.stdout.splitlines()
        found = re.search(r"v?\d+\.\d+\.\d+", " ".join(lines))
        return f"kustomize {found.group()}" if found else self.identity()

    def describe(self) -> str:
        """This kustomize for ``--version``: its version, its command and the binary the command finds."""
        return f"{self.version()} ({' '.join(self.command)}, {shutil.which(self.command[0])})"

    def build(self, directory: Path, cwd: Path | None = None, timeout: float | None = None, network: bool = False) -> str:
        """Render one kustomization directory; RenderError with kustomize's own first error line."""
        timeout = settings.kustomize_timeout() if timeout is None else timeout
        argv = [*self.command, "--load-restrictor", "LoadRestrictionsRootOnly", str(directory)]
        try:
            proc = subprocess.run(argv, cwd=cwd, env=_leashed_env(network), capture_output=True, text=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            raise TimedOut(f"{directory}: kustomize build timed out after {timeout:g}s") from None
        except OSError as exc:
            raise RenderError(f"cannot run {' '.join(self.command)}: {exc.strerror}; {INSTALL_HINT}") from None
        if proc.returncode != 0:
            raise RenderError(f"{directory}: kustomize build failed: {_first_error(proc.stderr)}")
        return proc.stdout


def _leashed_env(network: bool = False) -> dict[str, str]:
    """The environment kustomize runs in; ``network`` only when the config allow-lists remote resources
    (check_references has refused every other remote reference by then)."""
    env = dict(os.environ)
    if not network:
        dead = "http://127.0.0.1:9"  # nothing listens: a fetch fails at once instead of hanging
        env.update(HTTP_PROXY=dead, HTTPS_PROXY=dead, http_proxy=dead, https_proxy=dead, NO_PROXY="", no_proxy="")
    env.update(GIT_TERMINAL_PROMPT="0", GIT_ALLOW_PROTOCOL="file:https:ssh" if network else "file")
    # A batch holds a few sites, so a kustomize process stays small: collecting its heap less often
    # (Go's GOGC, 100 by default) cut the time per site by a quarter (scripts/bench_batch.py).
    env.setdefault("GOGC", "400")
    for key in ("KUSTOMIZE_PLUGIN_HOME", "XDG_CONFIG_HOME"):
        env.pop(key, None)
    return env


def _first_error(stderr: str) -> str:
    """kustomize's error as one line, without kubectl's log prefix."""
    text = " ".join(line.strip() for line in stderr.splitlines() if line.strip()) or "no error output"
    text = re.sub(r'E\d{4} [\d:.]+\s+\d+ \S+\] "command failed" err=', "", text)
    return text.strip('<> "')[:500]


def render_sites(
    repo: Path,
    sites: tuple[Site, ...] | list[Site],
    allowed_remote: tuple[str, ...] = (),
    kustomize: Kustomize | None = None,
    jobs: int | None = None,
    timeout: float | None = None,
    refs: References | None = None,
    keys: dict[str, str] | None = None,
    texts: dict[str, str] | None = None,
    on_rendered: Callable[[Rendered], None] | None = None,
    flatten: bool | None = None,
) -> dict[str, Rendered]:
    """Render every site; a broken site gets its own error and does not hide the others.

    ``on_rendered`` sees each render as its batch finishes, in this thread, while other batches
    still run: work on outputs done there overlaps kustomize rather than following it.

    Sites with equal input keys (``inputs.site_keys``) are rendered once. A site in ``texts``
    is rendered with that text as its kustomization (its pin-invariant form), from a mirror
    of its folder beside links to the folders it reads; the repository is not touched.

    With ``flatten`` (by default when it saves kustomize FLATTEN_FROM base loads or more) the plain
    bases those sites read are rendered once first, and each site reads them from one folder of
    their renders (``flatbases.py``): the same output for a fraction of kustomize's work."""
    kustomize = kustomize or Kustomize.find()
    timeout = settings.kustomize_timeout() if timeout is None else timeout
    repo = repo.resolve()
    refs = References() if refs is None else refs
    buildable, errors = buildable_sites(repo, sites, allowed_remote, refs)
    results: dict[str, Rendered] = {name: Rendered(name, error=error) for name, error in errors.items()}
    if not buildable:
        return {site.name: results[site.name] for site in sites}
    keys = keys if keys is not None and all(s.name in keys for s in buildable) else site_keys(repo, buildable, refs)
    groups: dict[str, list[Site]] = {}
    for site in buildable:
        groups.setdefault(keys[site.name], []).append(site)
    unique = [members[0] for members in groups.values()]
    size = max(1, min(BATCH_SIZE, -(-len(unique) // (jobs or parallelism()))))  # small batches, yet every core busy
    batches = _batches(unique, size, [_weight(repo, site, refs, texts) for site in unique])
    workers = max(1, min(jobs or parallelism(), len(batches)))
    with scratch.folder("render") as tmp, ThreadPoolExecutor(max_workers=workers) as pool:
        network = bool(allowed_remote)
        dirs = {site.name: repo / site.path for site in unique}
        plans, folders = ({}, {}) if flatten is False or not texts else _flat_bases(pool, kustomize, repo, Path(tmp), unique, texts, refs, timeout, flatten)

        def mirror_and_render(n: int, batch: list[Site], label: str = "") -> dict[str, Rendered]:
            roots = {}
            for i, site in enumerate(batch):  # in the worker: mirroring overlaps the other batches' kustomize runs
                if texts and site.name in texts:
                    plan = None if label else plans.get(site.name)
                    root = roots[site.name] = Path(tmp) / f"m{label}{n}-{i}"
                    text = plan.text({run: os.path.relpath(folders[run], root / site.path) for run in plan.runs()}) if plan else texts[site.name]
                    dirs[site.name] = _mirror(repo, root, site, text, refs)
            done = _render_batch(kustomize, repo, Path(tmp), f"b{label}{n}", batch, timeout, network, dirs)
            for name, root in roots.items():  # an error names the repository's paths, not the mirror's
                if done[name].error:
                    done[name] = Rendered(name, error=done[name].error.replace(f"{root}{os.sep}", ""), timed_out=done[name].timed_out)
            return done

        futures = {pool.submit(mirror_and_render, n, batch): batch for n, batch in enumerate(batches)}
        with progress.Task("rendering sites", len(unique)) as task:
            for future in as_completed(futures):
                done = future.result()
                results.update(done)
                task.advance(len(futures[future]))
                if on_rendered is not None:
                    for rendered in done.values():
                        if rendered.ok:
                            on_rendered(rendered)
        stalled = [site for batch in batches if len(batch) > 1 and results[batch[0].name].timed_out for site in batch]
        if stalled:
            results.update(_render_singly(pool, kustomize, repo, Path(tmp), stalled, timeout, network, dirs, results))
        failed = [site for site in unique if site.name in plans and not results[site.name].ok and not results[site.name].timed_out]
        if failed:  # rendered as they are, so an error is kustomize's own about the site's own files
            redo = [pool.submit(mirror_and_render, n, batch, "x") for n, batch in enumerate(_batches(failed, size, [1] * len(failed)))]
            for future in redo:
                results.update(future.result())
    for first, *others in groups.values():
        done = results[first.name] = _not_empty(results[first.name], repo, first, refs)
        for site in others:  # same inputs, same output; an error names this site
            error = done.error.replace(f"site {first.name}:", f"site {site.name}:").replace(first.path, site.path)
            results[site.name] = Rendered(site.name, output=done.output, error=error)
    return {site.name: results[site.name] for site in sites}


def _not_empty(done: Rendered, repo: Path, site: Site, refs: References) -> Rendered:
    """A render of nothing for a site whose kustomization lists resources is an error, never "valid"."""
    if done.ok and not done.output.strip() and refs.entries.get(site_dir(repo, site, refs)):
        return Rendered(site.name, error=f"site {site.name}: kustomize rendered nothing, yet {site.path} lists resources")
    return done


def _flat_bases(
    pool, kustomize: Kustomize, repo: Path, tmp: Path, sites: list[Site], texts: dict[str, str], refs: References, timeout: float, always: bool | None
) -> tuple[dict[str, flatbases.Plan], dict[flatbases.Run, Path]]:
    """Each site's plan (its runs of plain bases) and, for each run, a folder holding the renders of
    its bases, each base rendered once; none unless ``always`` or it saves FLATTEN_FROM base loads.
    A site whose bases did not all render has no plan."""
    flattener = flatbases.Flattener(refs)
    plans: dict[str, flatbases.Plan] = {}
    for site in sites:
        if site.name in texts:
            plan = flattener.plan(texts[site.name], site_dir(repo, site, refs))
            if plan is not None:
                plans[site.name] = plan
    bases = sorted({base for plan in plans.values() for run in plan.runs() for base in run})
    saved = sum(len(run) for plan in plans.values() for run in plan.runs()) - len(bases)
    if not bases or (not always and saved < FLATTEN_FROM):
        return {}, {}
    named = [Site(f"base {i}", base.as_posix(), "") for i, base in enumerate(bases)]
    dirs = {site.name: base for site, base in zip(named, bases, strict=True)}
    chunks = [named[i : i + BATCH_SIZE] for i in range(0, len(named), BATCH_SIZE)]
    rendered: dict[str, Rendered] = {}
    for future in [pool.submit(_render_batch, kustomize, repo, tmp, f"f{n}", chunk, timeout, False, dirs) for n, chunk in enumerate(chunks)]:
        rendered.update(future.result())
    outputs = {
        base: rendered[site.name].output for site, base in zip(named, bases, strict=True) if rendered[site.name].ok and rendered[site.name].output.strip()
    }
    folders: dict[flatbases.Run, Path] = {}
    for name, plan in list(plans.items()):
        if not all(base in outputs for run in plan.runs() for base in run):
            del plans[name]
            continue
        for run in plan.runs():
            if run not in folders:
                folder = folders[run] = tmp / "flat" / f"r{len(folders)}"
                folder.mkdir(parents=True)
                (folder / "kustomization.yaml").write_text("resources:\n- bases.yaml\n")
                (folder / "bases.yaml").write_text("---\n".join(_ended(outputs[base]) for base in run))
    return plans, folders


_SORT_OPTIONS = re.compile(r"^sortOptions[ \t]*:", re.M)


def _weight(repo: Path, site: Site, refs: References, texts: dict[str, str] | None) -> int:
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


def _ended(text: str) -> str:
    return text if text.endswith("\n") else text + "\n"


def _batches(sites: list[Site], size: int, weights: list[int]) -> list[list[Site]]:
    """Consecutive batches of at most ``size`` sites and RESOURCE_BUDGET resources (a heavier site alone)."""
    batches: list[list[Site]] = []
    batch: list[Site] = []
    load = 0
    for site, weight in zip(sites, weights, strict=True):
        if batch and (len(batch) == size or load + weight > RESOURCE_BUDGET):
            batches.append(batch)
            batch, load = [], 0
        batch.append(site)
        load += weight
    return [*batches, batch] if batch else batches


def mirrorable(repo: Path, site: Site, refs: References) -> bool:
    """Whether a checked site can render from a mirror (no folder it reads holds it; a small folder)."""
    own = site_dir(repo, site, refs)
    inside = str(own)
    if any(inside.startswith(f"{d}{os.sep}") for d in closure(own, refs)):
        return False
    files = refs.files.get(own)
    return files is not None and len(files) <= 200


def _mirror(repo: Path, root: Path, site: Site, text: str, refs: References) -> Path:
    """A copy of the site's folder with ``text`` as its kustomization, at the same relative place
    under ``root`` as in the repository, and links to every folder outside it that its build reads."""
    own = site_dir(repo, site, refs)
    outside = sorted(d for d in closure(own, refs) if d != own and own not in d.parents)
    if any(d in own.parents for d in outside):
        raise RenderError(f"site {site.name}: reads a folder that holds it; no pin-invariant render")
    target = root / site.path
    repofiles.copy_folder(own, target)
    file = kustomization.find_kustomization_file(own)
    (target / file.name).unlink()  # a symlink in the repository: never written through
    (target / file.name).write_text(text, newline="")
    holders = {repo, *own.parents}
    linked: set[Path] = set()
    for directory in outside:
        top = directory  # the widest folder holding it that does not hold the site: one link serves its siblings
        while top.parent not in holders:
            top = top.parent
        if top not in linked:
            link = root / top.relative_to(repo)
            link.parent.mkdir(parents=True, exist_ok=True)
            os.symlink(top, link)
            linked.add(top)
    return target


def _render_singly(
    pool, kustomize: Kustomize, repo: Path, tmp: Path, stalled: list[Site], timeout: float, network: bool, dirs: dict[str, Path], done: dict[str, Rendered]
) -> dict[str, Rendered]:
    """The sites of batches that ran past the timeout, each alone: once some build has finished in
    time (or the first of these alone does), so a kustomize that hangs on everything costs one more
    timeout, not one per site."""
    out: dict[str, Rendered] = {}
    rest = stalled
    if not any(r.ok for r in done.values()):
        out.update(_render_batch(kustomize, repo, tmp, "p", stalled[:1], timeout, network, dirs))
        if not out[stalled[0].name].ok:
            return out
        rest = stalled[1:]
    futures = [pool.submit(_render_batch, kustomize, repo, tmp, f"t{n}", [site], timeout, network, dirs) for n, site in enumerate(rest)]
    for future in futures:
        out.update(future.result())
    return out


def _render_batch(
    kustomize: Kustomize, repo: Path, tmp: Path, label: str, batch: list[Site], timeout: float, network: bool = False, dirs: dict[str, Path] | None = None
) -> dict[str, Rendered]:
    dirs = dirs or {site.name: repo / site.path for site in batch}
    if len(batch) == 1:
        site = batch[0]
        try:
            return {site.name: Rendered(site.name, output=kustomize.build(dirs[site.name], cwd=repo, timeout=timeout, network=network))}
        except RenderError as exc:
            error = f"site {site.name}: {str(exc).replace(str(dirs[site.name]), site.path)}"
            return {site.name: Rendered(site.name, error=error, timed_out=isinstance(exc, TimedOut))}
    token = "g" + secrets.token_hex(4)
    wrapper = tmp / label
    wrapper.mkdir()
    (wrapper / "kustomization.yaml").write_text("resources:\n" + "".join(f"- s{i}\n" for i in range(len(batch))))
    for i, site in enumerate(batch):
        _write_marked(wrapper / f"s{i}", os.path.relpath(dirs[site.name], wrapper / f"s{i}"), f"{token}{i}z")
    try:
        output = kustomize.build(wrapper, timeout=timeout, network=network)
    except TimedOut as exc:  # render_sites splits it once the other batches are done
        return {site.name: Rendered(site.name, error=f"site {site.name}: {exc}", timed_out=True) for site in batch}
    except RenderError:
        output = None
    split = None if output is None else _split(output, token, batch)
    if split is None:  # a broken site, or a resource no marker reached: each half on its own
        half = len(batch) // 2
        split = _render_batch(kustomize, repo, tmp, label + "l", batch[:half], timeout, network, dirs)
        split.update(_render_batch(kustomize, repo, tmp, label + "r", batch[half:], timeout, network, dirs))
    return split


# kustomize's prefix transformer skips these kinds (its ``prefixSuffixFieldSpecsToSkip``); the wrapper
# prefixes their names by a replacement instead, so every resource of a batch carries its site's marker.
_UNPREFIXED = ({"kind": "Namespace"}, {"kind": "CustomResourceDefinition"}, {"group": "apiregistration.k8s.io", "kind": "APIService"})


def _write_marked(folder: Path, target: str, mark: str) -> None:
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


def _split(output: str, token: str, batch: list[Site]) -> dict[str, Rendered] | None:
    """Each site's documents, markers removed; None when a document carries no marker or two."""
    marker = re.compile(rf"{token}(\d+)z-")
    docs: list[list[str]] = [[] for _ in batch]
    for doc in _DOC_SPLIT.split(output):
        if not doc.strip():
            continue
        found = {int(n) for n in marker.findall(doc)}
        if len(found) != 1 or not found <= set(range(len(batch))):
            return None
        docs[found.pop()].append(marker.sub("", doc))
    return {site.name: Rendered(site.name, output="---\n".join(docs[i])) for i, site in enumerate(batch)}


def split_documents(output: str) -> list[str]:
    """The YAML documents of a rendered output, in order."""
    return [doc for doc in _DOC_SPLIT.split(output) if doc.strip()]
