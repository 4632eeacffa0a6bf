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
from dataclasses import dataclass, field, replace
from pathlib import Path

from gitops_mlops.config.sites import Site
from gitops_mlops.core import progress, scratch, settings
from gitops_mlops.core.errors import RenderError
from gitops_mlops.render import flatbases
from gitops_mlops.render.batches import BATCH_SIZE, in_batches, split_marked, weight, write_wrapper
from gitops_mlops.render.batches import RESOURCE_BUDGET as RESOURCE_BUDGET  # where callers have always found it
from gitops_mlops.render.inputs import References, buildable_sites, site_dir, site_keys
from gitops_mlops.render.mirror import mirror
from gitops_mlops.render.mirror import mirrorable as mirrorable  # where callers have always found it

INSTALL_HINT = (
    "install kustomize (https://kubectl.docs.kubernetes.io/installation/kustomize/), the OpenShift CLI 'oc', or kubectl, or set GITOPS_MLOPS_KUSTOMIZE"
)
_DOC_SPLIT = re.compile(r"^---[ \t]*\r?\n", re.M)


class TimedOut(RenderError):
    """kustomize ran past the timeout and was killed."""


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
    (walk_references has refused every other remote reference by then)."""
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
    if buildable:
        keys = keys if keys is not None and all(s.name in keys for s in buildable) else site_keys(repo, buildable, refs)
        groups: dict[str, list[Site]] = {}
        for site in buildable:
            groups.setdefault(keys[site.name], []).append(site)
        with scratch.folder("render") as tmp:
            build = _Build(kustomize, repo, Path(tmp), timeout, network=bool(allowed_remote))
            sources = _Sources(refs, texts, flatten)
            results.update(_render_unique(build, sources, [members[0] for members in groups.values()], jobs or parallelism(), on_rendered))
        for first, *others in groups.values():
            done = results[first.name] = _not_empty(results[first.name], repo, first, refs)
            for site in others:  # same inputs, same output; an error names this site
                error = done.error.replace(f"site {first.name}:", f"site {site.name}:").replace(first.path, site.path)
                results[site.name] = Rendered(site.name, output=done.output, error=error)
    return {site.name: results[site.name] for site in sites}


@dataclass(frozen=True)
class _Build:
    """What every kustomize run of one ``render_sites`` call shares."""

    kustomize: Kustomize
    repo: Path
    tmp: Path  # the call's scratch folder: batch wrappers, mirrors, flattened bases
    timeout: float
    network: bool = False
    dirs: dict[str, Path] = field(default_factory=dict)  # a site's folder to build, when not its own (a mirror)

    def folder(self, site: Site) -> Path:
        return self.dirs.get(site.name, self.repo / site.path)


@dataclass(frozen=True)
class _Sources:
    """Where the sites' kustomizations come from: the repository, or ``texts`` rendered from mirrors,
    reading flattened bases where a site has a plan (``plans``, ``folders``: once they are rendered)."""

    refs: References
    texts: dict[str, str] | None
    flatten: bool | None
    plans: dict[str, flatbases.Plan] = field(default_factory=dict)
    folders: dict[flatbases.Run, Path] = field(default_factory=dict)


def _render_unique(build: _Build, sources: _Sources, unique: list[Site], jobs: int, on_rendered: Callable[[Rendered], None] | None) -> dict[str, Rendered]:
    """Sites with distinct inputs, in batches, ``jobs`` at once; then a batch that ran past the timeout
    site by site, and a site that failed on flattened bases again as it is."""
    size = max(1, min(BATCH_SIZE, -(-len(unique) // jobs)))  # small batches, yet every core busy
    batches = in_batches(unique, size, [weight(build.repo, site, sources.refs, sources.texts) for site in unique])
    results: dict[str, Rendered] = {}
    with ThreadPoolExecutor(max_workers=max(1, min(jobs, len(batches)))) as pool:
        if sources.flatten is not False and sources.texts:
            plans, folders = _flat_bases(pool, build, unique, sources.texts, sources.refs, sources.flatten)
            sources = replace(sources, plans=plans, folders=folders)
        futures = {pool.submit(_mirror_and_render, build, sources, n, batch): batch for n, batch in enumerate(batches)}
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
            results.update(_render_singly(pool, build, stalled, results))
        failed = [site for site in unique if site.name in sources.plans and not results[site.name].ok and not results[site.name].timed_out]
        if failed:  # rendered as they are, so an error is kustomize's own about the site's own files
            redo = [pool.submit(_mirror_and_render, build, sources, n, batch, "x") for n, batch in enumerate(in_batches(failed, size, [1] * len(failed)))]
            for future in redo:
                results.update(future.result())
    return results


def _mirror_and_render(build: _Build, sources: _Sources, n: int, batch: list[Site], label: str = "") -> dict[str, Rendered]:
    """Batch ``n``: each site given a text mirrored first (in the worker: mirroring overlaps the other
    batches' kustomize runs), on flattened bases unless ``label`` marks a second try."""
    roots = {}
    for i, site in enumerate(batch):
        if sources.texts and site.name in sources.texts:
            plan = None if label else sources.plans.get(site.name)
            root = roots[site.name] = build.tmp / f"m{label}{n}-{i}"
            text = plan.text({run: os.path.relpath(sources.folders[run], root / site.path) for run in plan.runs()}) if plan else sources.texts[site.name]
            build.dirs[site.name] = mirror(build.repo, root, site, text, sources.refs)
    done = _render_batch(build, f"b{label}{n}", batch)
    for name, root in roots.items():  # an error names the repository's paths, not the mirror's
        if done[name].error:
            done[name] = Rendered(name, error=done[name].error.replace(f"{root}{os.sep}", ""), timed_out=done[name].timed_out)
    return done


def _not_empty(done: Rendered, repo: Path, site: Site, refs: References) -> Rendered:
    """A render of nothing for a site whose kustomization lists resources is an error, never "valid"."""
    if done.ok and not done.output.strip() and refs.entries.get(site_dir(repo, site, refs)):
        return Rendered(site.name, error=f"site {site.name}: kustomize rendered nothing, yet {site.path} lists resources")
    return done


def _flat_bases(
    pool, build: _Build, sites: list[Site], texts: dict[str, str], refs: References, always: bool | None
) -> tuple[dict[str, flatbases.Plan], dict[flatbases.Run, Path]]:
    """Each site's plan (its runs of plain bases) and, for each run, a folder holding the renders of
    its bases, each base rendered once; none unless ``always`` or it saves FLATTEN_FROM base loads.
    A site whose bases did not all render has no plan."""
    flattener = flatbases.Flattener(refs)
    plans: dict[str, flatbases.Plan] = {}
    for site in sites:
        if site.name in texts:
            plan = flattener.plan(texts[site.name], site_dir(build.repo, site, refs))
            if plan is not None:
                plans[site.name] = plan
    bases = sorted({base for plan in plans.values() for run in plan.runs() for base in run})
    saved = sum(len(run) for plan in plans.values() for run in plan.runs()) - len(bases)
    if not bases or (not always and saved < FLATTEN_FROM):
        return {}, {}
    named = [Site(f"base {i}", base.as_posix(), "") for i, base in enumerate(bases)]
    of_bases = replace(build, network=False, dirs={site.name: base for site, base in zip(named, bases, strict=True)})
    chunks = [named[i : i + BATCH_SIZE] for i in range(0, len(named), BATCH_SIZE)]
    rendered: dict[str, Rendered] = {}
    for future in [pool.submit(_render_batch, of_bases, f"f{n}", chunk) for n, chunk in enumerate(chunks)]:
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
                folder = folders[run] = build.tmp / "flat" / f"r{len(folders)}"
                folder.mkdir(parents=True)
                (folder / "kustomization.yaml").write_text("resources:\n- bases.yaml\n")
                (folder / "bases.yaml").write_text("---\n".join(_ended(outputs[base]) for base in run))
    return plans, folders


def _ended(text: str) -> str:
    return text if text.endswith("\n") else text + "\n"


def _render_singly(pool, build: _Build, stalled: list[Site], done: dict[str, Rendered]) -> dict[str, Rendered]:
    """The sites of batches that ran past the timeout, each alone: once some build has finished in
    time (or the first of these alone does), so a kustomize that hangs on everything costs one more
    timeout, not one per site."""
    out: dict[str, Rendered] = {}
    rest = stalled
    if not any(r.ok for r in done.values()):
        out.update(_render_batch(build, "p", stalled[:1]))
        if not out[stalled[0].name].ok:
            return out
        rest = stalled[1:]
    futures = [pool.submit(_render_batch, build, f"t{n}", [site]) for n, site in enumerate(rest)]
    for future in futures:
        out.update(future.result())
    return out


def _render_batch(build: _Build, label: str, batch: list[Site]) -> dict[str, Rendered]:
    """The sites of ``batch`` rendered in one kustomize process (a wrapper folder ``label``), split back
    by marker; a batch that fails, or whose output does not split, halved until each error is one site's."""
    if len(batch) == 1:
        site = batch[0]
        try:
            return {
                site.name: Rendered(site.name, output=build.kustomize.build(build.folder(site), cwd=build.repo, timeout=build.timeout, network=build.network))
            }
        except RenderError as exc:
            error = f"site {site.name}: {str(exc).replace(str(build.folder(site)), site.path)}"
            return {site.name: Rendered(site.name, error=error, timed_out=isinstance(exc, TimedOut))}
    token = "g" + secrets.token_hex(4)
    wrapper = build.tmp / label
    write_wrapper(wrapper, [os.path.relpath(build.folder(site), wrapper / f"s{i}") for i, site in enumerate(batch)], token)
    try:
        output = build.kustomize.build(wrapper, timeout=build.timeout, network=build.network)
    except TimedOut as exc:  # render_sites splits it once the other batches are done
        return {site.name: Rendered(site.name, error=f"site {site.name}: {exc}", timed_out=True) for site in batch}
    except RenderError:
        output = None
    outputs = None if output is None else split_marked(output, token, len(batch))
    if outputs is None:  # a broken site, or a resource no marker reached: each half on its own
        half = len(batch) // 2
        split = _render_batch(build, label + "l", batch[:half])
        split.update(_render_batch(build, label + "r", batch[half:]))
        return split
    return {site.name: Rendered(site.name, output=text) for site, text in zip(batch, outputs, strict=True)}


def split_documents(output: str) -> list[str]:
    """The YAML documents of a rendered output, in order."""
    return [doc for doc in _DOC_SPLIT.split(output) if doc.strip()]
