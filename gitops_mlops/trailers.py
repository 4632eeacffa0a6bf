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
stage gate.
"""

from __future__ import annotations

from dataclasses import dataclass

from gitops_mlops.gitrepo import Trailered

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

    @property
    def sites(self) -> tuple[str, ...]:
        return tuple(site for _, sites in self.images for site in sites)


def write(record: Record) -> str:
    """Subject, optional body, then the trailers."""
    trailers = [f"Model: {record.model}"]
    if record.action in ACTIONS:
        trailers.append(f"Model-Version: {record.version}")
        for image, sites in record.images:
            trailers += [f"Image: {image}", f"Sites: {', '.join(sites)}"]
    else:
        trailers.append(f"Sites: {', '.join(record.sites)}")
    trailers.append(f"Action: {record.action}")
    if record.forced:
        trailers.append("Forced: true")
    body = " ".join(record.body.replace("\x00", "").split("\n\n")).strip()
    return record.subject + "\n\n" + (body + "\n\n" if body else "") + "\n".join(trailers) + "\n"


def subject(action: str, model: str, version: str, sites: list[str] | tuple[str, ...]) -> str:
    where = sites[0] if len(sites) == 1 else f"{len(sites)} sites"
    return f"{action} {model} {version} to {where}".replace("  ", " ")


def read(commit: Trailered) -> Record | None:
    """The record of a commit, or None when its trailers are not a promotion or rollback."""
    values: dict[str, str] = {}
    pairs: list[tuple[str, tuple[str, ...]]] = []
    image = None
    for key, value in commit.trailers:
        if key == "Image":
            image = value
        elif key == "Sites" and image is not None:
            pairs.append((image, tuple(s.strip() for s in value.split(",") if s.strip())))
            image = None
        else:
            values.setdefault(key, value)
    if values.get("Action") not in ACTIONS or "Model" not in values or not pairs:
        return None
    return Record(
        action=values["Action"],
        model=values["Model"],
        version=values.get("Model-Version", ""),
        images=tuple(pairs),
        forced=values.get("Forced") == "true",
        subject=commit.subject,
    )
