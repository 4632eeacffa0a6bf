"""The commit message of every promotion, rollback and hold release: written and read here.

Trailers are the machine-readable record ``history``, ``rollback`` and ``status``
read (never free text)::

    Model: fraud-detector
    Model-Version: 1.4.0
    Image: quay.io/example/fraud-detector:1.4.0@sha256:...
    Sites: edge/austin-01, edge/berlin-01
    Action: promote

A promotion to several digests (a rollback may return sites to different builds)
has one ``Image:``/``Sites:`` pair per digest. ``Forced: true`` records a skipped
stage gate; ``Wave: N/M`` the wave of a stage a promotion took. A promotion of a version from the model registry also carries
``Registered-Model:`` (the RegisteredModel's name) and ``Model-Version-Id:`` (the
ModelVersion's id in the registry). A long ``Sites:`` value is folded onto continuation lines (each starting
with a space, as git's trailers allow), so a thousand sites never make one
unreadable line, and git reads the value back whole (``%(trailers:unfold)``).

A release's commit (models that move together) names the release first, then one
``Model:``/``Model-Version:``/``Image:``/``Sites:`` block per member, then the
action: each block reads as the single-model record of that member::

    Release: fraud
    Model: fraud-detector
    Model-Version: 1.5.0
    Image: quay.io/example/fraud-detector:1.5.0@sha256:...
    Sites: datacenter
    Model: openvino-model-server
    Model-Version: 2025.1.0
    Image: quay.io/example/ovms:2025.1.0@sha256:...
    Sites: datacenter
    Action: promote
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from gitops_mlops.gitstore.repo import GitRepo, Trailered

ACTIONS = ("promote", "rollback")


@dataclass(frozen=True)
class Record:
    """What one commit says it did."""

    action: str
    model: str
    version: str
    images: tuple[tuple[str, tuple[str, ...]], ...]  # (image reference, sites) pairs
    forced: bool = False
    subject: str = ""
    body: str = ""
    reason: str = ""  # why it was done (a rollback after a failed check)
    registered_model: str = ""  # the model registry's RegisteredModel it came from ('' when not from the registry)
    model_version_id: str = ""  # the registry's id of its ModelVersion
    wave: str = ""  # "N/M": the wave of its stage a promotion took (config/waves.py)
    release: str = ""  # the release it moved with (its commit moved every member named in it)

    @property
    def sites(self) -> tuple[str, ...]:
        return tuple(site for _, sites in self.images for site in sites)

    @cached_property
    def site_set(self) -> frozenset[str]:
        """``sites`` as a set, made once: a fleet's rollback asks it for every site."""
        return frozenset(self.sites)


WIDTH = 72  # the longest trailer line, continuation lines included (when a site name allows)


def folded(key: str, values: tuple[str, ...] | list[str]) -> str:
    """``Key: a, b, c`` folded onto continuation lines of at most WIDTH characters."""
    lines, line = [], f"{key}:"
    for n, value in enumerate(values):
        item = value + ("," if n < len(values) - 1 else "")
        if len(line) + 1 + len(item) > WIDTH and line.strip() and line != f"{key}:":
            lines.append(line)
            line = ""
        line += " " + item
    return "\n".join([*lines, line])


def write(record: Record) -> str:
    """Subject, optional body, then the trailers."""
    trailers = [f"Model: {record.model}"]
    if record.action in ACTIONS:
        trailers.append(f"Model-Version: {record.version}")
        for image, sites in record.images:
            trailers += [f"Image: {image}", folded("Sites", sites)]
    else:
        trailers.append(folded("Sites", record.sites))
    trailers.append(f"Action: {record.action}")
    if record.wave:
        trailers.append(f"Wave: {record.wave}")
    if record.forced:
        trailers.append("Forced: true")
    if record.reason:
        trailers.append("Reason: " + " ".join(record.reason.split()))
    if record.registered_model:
        trailers += ["Registered-Model: " + " ".join(record.registered_model.split()), f"Model-Version-Id: {record.model_version_id}"]
    body = " ".join(record.body.replace("\x00", "").split("\n\n")).strip()
    return record.subject + "\n\n" + (body + "\n\n" if body else "") + "\n".join(trailers) + "\n"


def write_release(release: str, members: list[Record] | tuple[Record, ...]) -> str:
    """One commit for a release: ``Release:``, a block per member (each as ``write`` has it), then the
    action, ``Forced:`` and ``Reason:`` of the first member (they are the release's)."""
    first = members[0]
    blocks = []
    for member in members:
        blocks.append(f"Model: {member.model}\nModel-Version: {member.version}")
        blocks += [f"Image: {image}\n{folded('Sites', sites)}" for image, sites in member.images]
    tail = [f"Action: {first.action}"] + (["Forced: true"] if first.forced else []) + ([f"Reason: {' '.join(first.reason.split())}"] if first.reason else [])
    body = " ".join(first.body.replace("\x00", "").split("\n\n")).strip()
    return first.subject + "\n\n" + (body + "\n\n" if body else "") + "\n".join([f"Release: {release}", *blocks, *tail]) + "\n"


def site_message(action: str, site: str, subject: str, body: str = "") -> str:
    """The message of a commit that adds or removes a site (no model: ``history`` skips it)."""
    return f"{subject}{body}\n\n{folded('Sites', (site,))}\nAction: {action}\n"


def subject(action: str, model: str, version: str, sites: list[str] | tuple[str, ...]) -> str:
    where = sites[0] if len(sites) == 1 else f"{len(sites)} sites"
    return f"{action} {model} {version} to {where}".replace("  ", " ")


def read(commit: Trailered, model: str | None = None) -> Record | None:
    """The record of a commit (of ``model``'s block, for a release's commit that moved several; the
    first block when not given), or None when its trailers are not a promotion or rollback of it."""
    records = read_all(commit)
    if model is None:
        return records[0] if records else None
    return next((r for r in records if r.model == model), None)


def read_all(commit: Trailered) -> list[Record]:
    """Every member's record of a commit: one for a single model's, one per member for a release's."""
    common: dict[str, str] = {}
    blocks: list[tuple[dict[str, str], list[tuple[str, tuple[str, ...]]]]] = []
    image = None
    for key, value in commit.trailers:
        if key == "Model":
            blocks.append(({"Model": value}, []))
        elif key == "Image":
            image = value
        elif key == "Sites" and image is not None and blocks:
            blocks[-1][1].append((image, tuple(s.strip() for s in value.split(",") if s.strip())))
            image = None
        elif key == "Model-Version" and blocks:
            blocks[-1][0].setdefault(key, value)
        else:
            common.setdefault(key, value)
    if common.get("Action") not in ACTIONS or not blocks or not all(pairs for _, pairs in blocks):
        return []
    return [
        Record(
            action=common["Action"],
            model=values["Model"],
            version=values.get("Model-Version", ""),
            images=tuple(pairs),
            forced=common.get("Forced") == "true",
            reason=common.get("Reason", ""),
            subject=commit.subject,
            registered_model=common.get("Registered-Model", ""),
            model_version_id=common.get("Model-Version-Id", ""),
            release=common.get("Release", ""),
            wave=common.get("Wave", ""),
        )
        for values, pairs in blocks
    ]


def registered_digests(git: GitRepo, ref: str = "HEAD") -> dict[tuple[str, str], tuple[str, str]]:
    """(model, digest) -> (registered model, ModelVersion id), from the commits that promoted a version
    from the model registry (``Registered-Model:`` trailers), the newest first."""
    found: dict[tuple[str, str], tuple[str, str]] = {}
    for commit in git.log_trailers(ref, grep=["^Registered-Model: "]):
        record = read(commit)
        if record is None or not record.registered_model or not record.model_version_id:
            continue
        for image, _ in record.images:
            found.setdefault((record.model, image.partition("@")[2]), (record.registered_model, record.model_version_id))
    return found
