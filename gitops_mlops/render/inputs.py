"""What a site's build reads: its references (checked to stay local), its closure of
directories, and a key made from the content of all of them.

A site's key is the same whenever kustomize would read the same bytes at the same
relative places, so it keys both the grouping of identical builds in one render and
the render cache that survives between commands (``rendercache.py``). Shared
directories are hashed once per command.
"""

from __future__ import annotations

import bisect
import hashlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from gitops_mlops.config.sites import Site, contained, kustomization_of
from gitops_mlops.core import repofiles
from gitops_mlops.core.errors import InputError
from gitops_mlops.pins import kustomization
from gitops_mlops.render import ownfolder

_REMOTE_RE = re.compile(r"^(?:[a-z][a-z0-9+.-]*://|git@|[\w.-]+\.[a-z]{2,}(?::\d+)?/[^?]*\?|github\.com/|gitlab\.com/|bitbucket\.org/)", re.I)


@dataclass
class References:
    """What is learned about one tree during one command, shared by all its sites: each
    directory's child directories, each checked reference, each closure and shared directory's key, and
    the references of each kustomization text seen (by content, so a cache can preload them)."""

    children: dict[Path, tuple[Path, ...]] = field(default_factory=dict)
    closures: dict[Path, tuple[Path, ...]] = field(default_factory=dict)
    parsed: dict[str, tuple[str, ...]] = field(default_factory=dict)  # sha1 of a kustomization text -> its references
    normal: dict[str, tuple[Path, bool]] = field(default_factory=dict)  # normalised path -> (resolved, is a directory)
    siblings: dict[tuple[str, tuple[str, ...]], tuple[Path, ...]] = field(default_factory=dict)  # (parent, references) -> children
    dir_keys: dict[Path, bytes] = field(default_factory=dict)  # a shared directory's part of a site key
    resolved: dict[tuple[Path, str], Path] = field(default_factory=dict)  # (repository, relative path) -> resolved
    files: dict[Path, list[tuple[bytes, bytes, bool]]] = field(default_factory=dict)  # a site's folder -> (path, sha1, is its kustomization)
    learned: dict[str, tuple[str, ...]] = field(default_factory=dict)  # parsed in this command (for the cache)
    kinds: dict[Path, int] = field(default_factory=dict)  # a directory's `kind:` lines (resources, roughly)
    outside: dict[tuple[Path, ...], tuple[bytes, list[str]]] = field(default_factory=dict)  # children -> their part of a key
    trees: dict[Path, list[tuple[str, Path]] | str] = field(default_factory=dict)  # a directory -> its checked files, or why not
    entries: dict[Path, tuple[str, ...]] = field(default_factory=dict)  # a directory -> its kustomization's references
    relative: dict[Path, str] = field(default_factory=dict)  # a directory in a closure -> its path in the repository
    general: bool = False  # every folder walked the general way (the reference ``ownfolder`` is proven against)


def resolved(repo: Path, relative: str, refs: References) -> Path:
    """``repo/relative`` resolved (symlinks followed), once per command. A folder whose parent is
    resolved already costs one lstat (thousands of sites share a few parents), not a walk from /."""
    key = (repo, relative)
    found = refs.resolved.get(key)
    if found is None:
        parent, _, name = relative.rpartition("/")
        if relative and name not in ("", ".", "..") and ".." not in parent.split("/"):
            candidate = resolved(repo, parent, refs) / name
            found = candidate if not os.path.islink(candidate) else candidate.resolve()
        else:
            found = (repo / relative).resolve() if relative else repo.resolve()
        refs.resolved[key] = found
    return found


def site_dir(repo: Path, site: Site, refs: References) -> Path:
    """A site's folder, resolved."""
    return resolved(repo, site.path, refs)


def is_remote(reference: str) -> bool:
    return bool(_REMOTE_RE.match(reference))


# A fast reader of references for the plain block form (``resources:`` then ``- path`` lines);
# anything else (flow style, quotes, anchors, several documents, CRLF, tabs) returns None and the
# full parser decides, so both always agree (tests/render/test_inputs.py).
_REFERENCE_KEYS = ("resources", "components", "bases")
_BLOCK_ITEM = re.compile(r"( *)- ([A-Za-z0-9_./][^\s#'\"\[\]{}&*!|>%@`,]*)[ ]*(?:#[^\n]*)?\n")
_SKIP = re.compile(r"(?:[ ]*(?:#[^\n]*)?\n)*")


TOP_KEY = re.compile(r"^([^\s#-][^:\n]*):", re.M)


def fast_references(text: str) -> tuple[str, ...] | None:
    if (
        "\r" in text
        or "\t" in text
        or "&" in text
        or "*" in text
        or "<<" in text
        or "\n---" in text
        or text.startswith(("---", "%"))
        or "\n..." in text
        or not text.endswith("\n")
    ):
        return None
    top = TOP_KEY.findall(text)
    if len(top) != len(set(top)):
        return None  # a duplicate key: the parser refuses it with its line
    found: list[str] = []
    for key in _REFERENCE_KEYS:
        count = text.count(f"\n{key}:") + text.startswith(f"{key}:")
        if count == 0:
            if key in text:
                return None  # indented, quoted or otherwise unusual: the parser decides
            continue
        if count > 1:
            return None
        at = 0 if text.startswith(f"{key}:") else text.index(f"\n{key}:") + 1
        at += len(key) + 1
        line_end = text.index("\n", at)
        if text[at:line_end].strip():
            return None  # a value on the key's line: flow style or a scalar
        at = _SKIP.match(text, line_end + 1).end()
        indent = None
        while True:
            item = _BLOCK_ITEM.match(text, at)
            if item is None or (indent is not None and item.group(1) != indent):
                break
            indent = item.group(1)
            found.append(item.group(2))
            at = _SKIP.match(text, item.end()).end()
        if at < len(text) and (text[at] == " " or text.startswith("- ", at) or text.startswith("-\n", at)):
            return None  # something else inside the block
    return tuple(found) if found or not any(k in text for k in _REFERENCE_KEYS) else None


def _references_of(file: Path, source: str, refs: References) -> tuple[str, ...]:
    return parsed_references(repofiles.read_bytes(file, source, limit=kustomization.MAX_KUSTOMIZATION_BYTES), source, refs)


def parsed_references(data: bytes, source: str, refs: References) -> tuple[str, ...]:
    """The references of a kustomization text: known by its sha1, else parsed (and learned, for the cache)."""
    sha = hashlib.sha1(data).hexdigest()
    known = refs.parsed.get(sha)  # read before, in this command or an earlier one (the render cache keeps them)
    if known is None:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise InputError(f"{source}: not UTF-8 text") from None
        fast = fast_references(text)
        known = refs.parsed[sha] = refs.learned[sha] = fast if fast is not None else kustomization.references(text, source)
    return known


def walk_references(repo: Path, site: Site, allowed_remote: tuple[str, ...] = (), refs: References | None = None) -> None:
    """Walk every folder a site's build reads, learning the graph into ``refs``; refuse, before any build,
    remote resources (unless allow-listed) and local references that leave the repository."""
    refs = References() if refs is None else refs
    root = resolved(repo, "", refs)
    start = kustomization_of(repo, site).parent
    if not refs.general and start not in refs.children and ownfolder.walk_own(repo, site, start, allowed_remote, refs):
        walk_from(repo, site, list(refs.children[start]), allowed_remote, refs, taken=[start])  # the own folder, of the plain shape, read in one pass
    else:
        walk_from(repo, site, [start], allowed_remote, refs)
    check_trees(site, closure(start, refs), root, refs)


def walk_from(repo: Path, site: Site, stack: list[Path], allowed_remote: tuple[str, ...], refs: References, taken: list[Path] | None = None) -> None:
    """Walk the folders on ``stack`` and every folder they reference (``taken``: those the caller walked
    already). A reference refused forgets the folders this walk took: a later walk that reaches them
    walks them again and is refused again, never taken for whole."""
    root = resolved(repo, "", refs)
    taken = [] if taken is None else taken
    try:
        _walk_stack(repo, site, stack, allowed_remote, refs, root, taken)
    except InputError:
        for directory in taken:
            refs.children.pop(directory, None)
        raise


def _walk_stack(repo: Path, site: Site, stack: list[Path], allowed_remote: tuple[str, ...], refs: References, root: Path, taken: list[Path]) -> None:
    while stack:
        directory = stack.pop()
        if directory in refs.children:
            continue
        file = kustomization.find_kustomization_file(directory)
        rel_dir = _relative(directory, root, refs)
        entries = _references_of(file, f"{rel_dir}/{file.name}", refs) if file else ()
        refs.entries[directory] = entries
        shared = (rel_dir.rpartition("/")[0], entries) if entries and all(r.startswith("../") for r in entries) else None
        children = refs.siblings.get(shared) if shared else None  # sibling overlays reaching the same bases
        if children is None:
            children = _children(repo, site, rel_dir, file, entries, allowed_remote, refs)
            if shared:
                refs.siblings[shared] = children
        stack.extend(children)
        refs.children[directory] = children
        taken.append(directory)


def check_trees(site: Site, folders, root: Path, refs: References) -> None:
    """Refuse the site when a file under one of ``folders`` may not be read (each folder walked once per References)."""
    for directory in folders:
        tree = refs.trees.get(directory)
        if tree is None:
            tree = _check_tree(directory, root, _relative(directory, root, refs), refs)
        if isinstance(tree, str):
            raise InputError(f"site {site.name}: {tree}")


def _check_tree(directory: Path, root: Path, rel_dir: str, refs: References) -> list[tuple[str, Path]] | str:
    """Every file under ``directory`` checked (``repofiles.walk``): a special file, a symlink out of the
    repository or a file over the limits is kept as the reason no build may read it; the files found
    are kept for the site's key."""
    try:
        tree: list[tuple[str, Path]] | str = [(relative, path) for relative, path, _ in repofiles.walk(directory, root, rel_dir)]
    except InputError as exc:
        tree = str(exc)
    refs.trees[directory] = tree
    return tree


def buildable_sites(repo: Path, sites, allowed_remote: tuple[str, ...], refs: References) -> tuple[list[Site], dict[str, str]]:
    """The sites whose references check out, and the error of each that does not."""
    good, errors = [], {}
    for site in sites:
        try:
            walk_references(repo, site, allowed_remote, refs)
            good.append(site)
        except InputError as exc:
            errors[site.name] = str(exc)
    return good, errors


def _children(
    repo: Path, site: Site, rel_dir: str, file: Path, entries: tuple[str, ...], allowed_remote: tuple[str, ...], refs: References
) -> tuple[Path, ...]:
    """The directories a kustomization's references name (files are checked to exist)."""
    children = []
    for ref in entries:
        if is_remote(ref):
            if not any(ref.startswith(prefix) for prefix in allowed_remote):
                raise InputError(f"site {site.name}: {rel_dir}/{file.name}: remote resource {ref!r} is refused (allow it under policy.remoteResources)")
            continue
        normal = os.path.normpath(os.path.join(rel_dir, ref))
        known = refs.normal.get(normal)
        if known is None:
            known = refs.normal[normal] = resolve_reference(repo, normal, f"site {site.name}: {rel_dir}/{file.name}: resource {ref!r}")
        if known[1]:
            children.append(known[0])
    return tuple(children)


def resolve_reference(repo: Path, normal: str, where: str) -> tuple[Path, bool]:
    """Where a local reference (normalised, repository-relative) leads, and whether it is a folder."""
    try:
        target = contained(repo, normal, "path")
    except InputError as exc:
        raise InputError(f"{where}: {str(exc).split(': ', 1)[-1]}") from None
    if not target.is_dir() and not target.exists():
        raise InputError(f"{where}: does not exist")
    return target, target.is_dir()


def closure(directory: Path, refs: References) -> tuple[Path, ...]:
    """``directory`` and every directory its build reads, after walk_references walked it. A cycle
    (a directory whose build reads itself again) ends where it closes: kustomize refuses such a build,
    and the directories on the cycle are all in the closure."""
    return _closure(directory, refs, set())[0]


def _closure(directory: Path, refs: References, active: set[Path]) -> tuple[tuple[Path, ...], bool]:
    """The closure and whether it is whole: one cut short by a cycle is not kept for later calls."""
    known = refs.closures.get(directory)
    if known is not None:
        return known, True
    if directory in active:
        return (directory,), False
    active.add(directory)
    seen, whole = {directory: None}, True
    for child in refs.children.get(directory, ()):
        paths, complete = _closure(child, refs, active)
        whole = whole and complete
        for path in paths:
            seen.setdefault(path, None)
    active.discard(directory)
    found = tuple(seen)
    if whole:
        refs.closures[directory] = found
    return found, whole


def site_closure(repo: Path, site: Site, refs: References) -> tuple[str, ...]:
    """The repository-relative directories a checked site's build reads, its own first."""
    root = resolved(repo, "", refs)
    return tuple(_relative(d, root, refs) for d in closure(site_dir(repo, site, refs), refs))


def _relative(directory: Path, root: Path, refs: References) -> str:
    known = refs.relative.get(directory)
    if known is None:
        known = refs.relative[directory] = directory.relative_to(root).as_posix()
    return known


def without_header(data: bytes) -> bytes:
    """The file without its leading comment lines (a site's own header); nothing else is touched.
    Only the lines up to the first that is neither blank nor a comment are looked at."""
    at = 0
    while True:
        end = data.find(b"\n", at)
        line = data[at:] if end < 0 else data[at:end]
        if line.strip() and not line.lstrip().startswith(b"#"):
            return data[at:]
        if end < 0:
            return b""
        at = end + 1


def _files(directory: Path, root: Path, refs: References, strip_header: bool = False) -> list[tuple[bytes, bytes, bool]]:
    """Every file under ``directory`` (as walk_references found them): (relative path, sha1 of its
    bytes, whether it is the folder's own kustomization), in a stable order, each read within the
    bounds of ``repofiles``. With ``strip_header`` the kustomization's header comment is left out
    (it does not change the build)."""
    source = _relative(directory, root, refs)
    tree = refs.trees.get(directory)
    if not isinstance(tree, list):
        tree = [(relative, path) for relative, path, _ in repofiles.walk(directory, root, source)]
    out = []
    for relative, path in tree:
        own_file = relative in kustomization.KUSTOMIZATION_FILES
        data = repofiles.read_bytes(path, f"{source}/{relative}", root)
        if strip_header and own_file:
            data = without_header(data)
        out.append((os.fsencode(relative), hashlib.sha1(data).digest(), own_file))
    return out


def _tree_hash(files: list[tuple[bytes, bytes, bool]], kustomization_text: bytes | None = None) -> bytes:
    """A hash of ``files``; with ``kustomization_text``, that (header left out) in place of the folder's own kustomization."""
    digest = hashlib.sha256()
    for relative, sha, own_file in files:
        if own_file and kustomization_text is not None:
            sha = hashlib.sha1(without_header(kustomization_text)).digest()
        digest.update(b"F" + relative + b"\0" + sha)
    return digest.digest()


def _dir_key(directory: Path, root: Path, refs: References) -> bytes:
    known = refs.dir_keys.get(directory)
    if known is None:
        known = refs.dir_keys[directory] = b"D" + _relative(directory, root, refs).encode() + b"\0" + _tree_hash(_files(directory, root, refs))
    return known


def _outside_part(own: Path, inside: str, root: Path, refs: References) -> bytes:
    """The keys of every directory the build of ``own`` reads outside it, in closure order. Sites that
    reference the same directories (a fleet's overlays over shared bases) share one computation."""
    children = refs.children.get(own, ())
    memo = refs.outside.get(children)
    if memo is None:
        order: dict[Path, None] = {}
        for child in children:
            for path in closure(child, refs):
                order.setdefault(path, None)
        memo = refs.outside[children] = (b"".join(_dir_key(d, root, refs) for d in order), sorted(str(d) for d in order))
    part, names = memo
    at = bisect.bisect_left(names, inside)
    if own in children or (at < len(names) and names[at].startswith(inside)) or str(own) in names:  # reads inside itself: walk it
        return b"".join(_dir_key(d, root, refs) for d in closure(own, refs) if d != own and not str(d).startswith(inside))
    return part


def site_keys(repo: Path, sites: list[Site] | tuple[Site, ...], refs: References, salt: str = "", texts: dict[str, bytes] | None = None) -> dict[str, str]:
    """A key per (checked) site: equal keys mean kustomize reads the same bytes and so renders the same.

    The key: every file under the site's own directory (relative path and bytes, the
    kustomization's header comment left out), and for each directory it reaches outside
    it, that directory's repository path and content. ``salt`` adds what else decides the
    output (the kustomize in use, allowed remote resources). ``texts`` stand in for the
    kustomization files of the sites they name (their pin-invariant forms)."""
    root = resolved(repo, "", refs)
    keys = {}
    for site in sites:
        own = site_dir(repo, site, refs)
        inside = f"{own}{os.sep}"
        digest = hashlib.sha256(salt.encode())
        digest.update(_outside_part(own, inside, root, refs))
        files = refs.files.get(own)
        if files is None:
            files = refs.files[own] = _files(own, root, refs, strip_header=True)
        digest.update(b"O" + _tree_hash(files, (texts or {}).get(site.name)))
        keys[site.name] = digest.hexdigest()
    return keys
