"""The render cache: what each site's build produced, keyed by the content of its inputs.

Kept under the git directory (``.git/gitops-mlops/renders.sqlite``, shared by linked
worktrees), or in the directory ``GITOPS_MLOPS_RENDER_CACHE`` names (shared by every
repository: the keys are content), never in the work tree or a commit. Each entry holds the containers the
render gives to workloads (all that status, the stage gate and promotion's checks
read) and the whole output, compressed, for what needs it. A cache that cannot be
opened, read or written is skipped, never an error: renders are recomputed.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import zlib
from dataclasses import dataclass
from pathlib import Path

from gitops_mlops.core import settings

SCHEMA = 3
MAX_OUTPUT_BYTES = 256 * 1024 * 1024  # one site's cached output, decompressed
_CHUNK = 500


@dataclass(frozen=True)
class Entry:
    containers: str  # "resource\tcontainer\timage\n" per workload container, in render order
    output_sha: str


def git_common_dir(repo: Path) -> Path | None:
    """The repository's shared git directory (``.git``; the main one from a linked worktree)."""
    dot = repo / ".git"
    if dot.is_dir():
        return dot
    if not dot.is_file():
        return None
    text = dot.read_text(errors="replace").strip()
    if not text.startswith("gitdir:"):
        return None
    own = (repo / text[len("gitdir:") :].strip()).resolve()
    common = own / "commondir"
    if common.is_file():
        return (own / common.read_text().strip()).resolve()
    return own


class RenderCache:
    def __init__(self, repo: Path) -> None:
        self._db: sqlite3.Connection | None = None
        path = cache_path(repo)
        if path is None:
            return
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(path, timeout=10, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version != SCHEMA:
                db.executescript(
                    "DROP TABLE IF EXISTS renders; DROP TABLE IF EXISTS refs; DROP TABLE IF EXISTS meta;"
                    "CREATE TABLE renders (key TEXT PRIMARY KEY, containers TEXT NOT NULL, output_sha TEXT NOT NULL, output BLOB);"
                    "CREATE TABLE refs (sha TEXT PRIMARY KEY, refs TEXT NOT NULL);"
                    "CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);"
                    f"PRAGMA user_version={SCHEMA};"
                )
            self._db = db
        except (OSError, sqlite3.Error):
            self._db = None

    @property
    def enabled(self) -> bool:
        return self._db is not None

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    def __enter__(self) -> RenderCache:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _query(self, sql: str, keys: list[str]) -> list[tuple]:
        rows: list[tuple] = []
        if self._db is None or not keys:
            return rows
        try:
            for i in range(0, len(keys), _CHUNK):
                chunk = keys[i : i + _CHUNK]
                rows += self._db.execute(sql.format(",".join("?" * len(chunk))), chunk).fetchall()
        except sqlite3.Error:
            return []
        return rows

    def entries(self, keys: list[str]) -> dict[str, Entry]:
        """Each key's entry; one without its output's sha (an earlier version kept some) is a miss."""
        rows = self._query("SELECT key, containers, output_sha FROM renders WHERE key IN ({}) AND output_sha != ''", sorted(set(keys)))
        return {key: Entry(containers, sha) for key, containers, sha in rows}

    def outputs(self, keys: list[str]) -> dict[str, str]:
        """Each key's whole output; a row that does not decompress, is over MAX_OUTPUT_BYTES or does not
        match its sha is left out (a miss: the site renders again)."""
        rows = self._query("SELECT key, output, output_sha FROM renders WHERE key IN ({}) AND output IS NOT NULL", sorted(set(keys)))
        found = {}
        for key, blob, sha in rows:
            output = _inflate(blob)
            if output is not None and hashlib.sha256(output.encode()).hexdigest() == sha:
                found[key] = output
        return found

    def store(self, items: dict[str, tuple[Entry, str | None]]) -> None:
        """Keep each key's entry and output, when known (one transaction; a busy or read-only cache is skipped)."""
        if self._db is None or not items:
            return
        rows = [(key, e.containers, e.output_sha, None if out is None else zlib.compress(out.encode("utf-8"), 1)) for key, (e, out) in items.items()]
        self._write("INSERT OR REPLACE INTO renders VALUES (?, ?, ?, ?)", rows)

    def meta(self, name: str) -> str | None:
        if self._db is None:
            return None
        try:
            row = self._db.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
        except sqlite3.Error:
            return None
        return row[0] if row else None

    def set_meta(self, name: str, value: str) -> None:
        if self._db is not None:
            self._write("INSERT OR REPLACE INTO meta VALUES (?, ?)", [(name, value)])

    def drop_metas(self, prefix: str) -> None:
        """Forget every meta entry whose name starts with ``prefix`` (e.g. 'verdict:')."""
        if self._db is not None:
            self._write("DELETE FROM meta WHERE substr(name, 1, ?) = ?", [(len(prefix), prefix)])

    def metas(self, names: list[str]) -> dict[str, str]:
        return dict(self._query("SELECT name, value FROM meta WHERE name IN ({})", sorted(set(names))))

    def set_metas(self, items: dict[str, str]) -> None:
        if self._db is not None and items:
            self._write("INSERT OR REPLACE INTO meta VALUES (?, ?)", list(items.items()))

    def references(self) -> dict[str, tuple[str, ...]]:
        """Every kustomization text's references known so far, by the text's sha1."""
        if self._db is None:
            return {}
        try:
            return {sha: tuple(refs.split("\n")) if refs else () for sha, refs in self._db.execute("SELECT sha, refs FROM refs")}
        except sqlite3.Error:
            return {}

    def store_references(self, learned: dict[str, tuple[str, ...]]) -> None:
        if self._db is not None and learned:
            rows = [(sha, "\n".join(refs)) for sha, refs in learned.items() if not any("\n" in r for r in refs)]
            self._write("INSERT OR REPLACE INTO refs VALUES (?, ?)", rows)

    def _write(self, sql: str, rows: list[tuple]) -> None:
        try:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.executemany(sql, rows)
            self._db.execute("COMMIT")
        except sqlite3.Error:
            try:
                self._db.execute("ROLLBACK")
            except sqlite3.Error:
                pass


def _inflate(blob) -> str | None:
    """A row's output, or None when it is not what ``store`` wrote."""
    try:
        inflater = zlib.decompressobj()
        data = inflater.decompress(blob, MAX_OUTPUT_BYTES + 1)
        if len(data) > MAX_OUTPUT_BYTES or not inflater.eof:
            return None
        return data.decode("utf-8")
    except (zlib.error, TypeError, UnicodeDecodeError):
        return None


def cache_path(repo: Path) -> Path | None:
    """The cache file: in the directory ``GITOPS_MLOPS_RENDER_CACHE`` names, else under the git directory; None when off."""
    where = settings.render_cache_dir()
    if where:
        return Path(where).expanduser().absolute() / "renders.sqlite"
    git_dir = None if where is None else git_common_dir(Path(repo))
    return None if git_dir is None else git_dir / "gitops-mlops" / "renders.sqlite"


def clear(repo: Path) -> None:
    """Drop the cache (benchmarks of a cold start; a user who distrusts it)."""
    path = cache_path(repo)
    if path is not None:
        for suffix in ("", "-wal", "-shm"):
            try:
                os.unlink(f"{path}{suffix}")
            except FileNotFoundError:
                pass
