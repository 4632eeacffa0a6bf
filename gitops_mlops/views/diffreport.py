"""How a diff report is shown: text, a pull-request comment in markdown, and JSON.

Every form gives, per (site, model), what the model's workloads render at the base and at
the head (``diff.ModelChange``), and the rendered manifest diff, identical changes once. The
members of a release are shown together, under the release's name.
"""

from __future__ import annotations

from gitops_mlops.core.present import grouped, short, some
from gitops_mlops.render.state import split_image
from gitops_mlops.views.diff import DiffReport, SiteDiff

MARKDOWN_LIMIT = 60_000  # pull-request comments are capped at 65,536 characters


def _side_json(images: tuple[str, ...], version: str) -> dict | None:
    """One side of a model's change: null where no workload runs the model; ``image`` and ``digest``
    when its workloads run one image, ``images`` always."""
    if not images:
        return None
    one = images[0] if len(images) == 1 else None
    return {"version": version or None, "digest": (split_image(one)[2] or None) if one else None, "image": one, "images": list(images)}


def to_json(report: DiffReport) -> list[dict]:
    """Per site: its stage, each model whose rendered images changed (from, to) and the rendered diff."""
    return [
        {
            "site": s.site,
            "stage": s.stage,
            "models": [
                {
                    "model": m.model,
                    **({"release": m.release} if m.release else {}),  # a release's member names it
                    "from": _side_json(m.old_images, m.old_version),
                    "to": _side_json(m.new_images, m.new_version),
                }
                for m in s.models
            ],
            "diff": s.diff,
        }
        for s in report.sites
    ]


def _digests(images: tuple[str, ...]) -> str:
    """``-`` for no workload; each image's short digest, or ``no digest`` for an image rendered without one."""
    if not images:
        return "-"
    return ", ".join(short(d) if (d := split_image(i)[2]) else "no digest" for i in images)


def _keyed(report: DiffReport):
    """((model, versions, digests) as shown, site) for every model change: rows shown alike group together."""
    for m in report.models:
        yield (_label(m.model, m.release), f"{m.old_version or '-'}", f"{m.new_version or '-'}", _digests(m.old_images), _digests(m.new_images)), m.site


def _label(model: str, release: str) -> str:
    return f"{release}: {model}" if release else model


def _rows(report: DiffReport) -> list:
    """The grouped rows, a release's members together (rows of a model outside any release keep their order)."""
    releases = {_label(m.model, m.release): m.release for m in report.models}
    return sorted(grouped(_keyed(report)), key=lambda row: releases[row[0][0]] == "")


def model_lines(report: DiffReport) -> list[str]:
    """One line per (model, rendered from -> to): the count and the first few sites (``release: model`` for a release's member)."""
    lines = []
    for (model, old_version, new_version, old, new), names in _rows(report):
        change = f"{model} {old_version} -> {new_version}  {old} -> {new}"
        lines.append(f"{change}  ({len(names)} site{'s' if len(names) != 1 else ''}: {some(names)})")
    return lines


def same_changes(report: DiffReport) -> list[tuple[SiteDiff, list[str]]]:
    """Sites whose renders changed alike, each group once: (its first site's diff, every site in it)."""
    first: dict[str, SiteDiff] = {}
    for s in report.sites:
        first.setdefault(s.body, s)
    return [(first[body], names) for body, names in grouped((s.body, s.site) for s in report.sites)]


def to_text(report: DiffReport) -> str:
    lines = [f"# {len(report.sites)} site(s) change between {report.base[:12]} and {report.head[:12]}"]
    lines += [f"# {line}" for line in model_lines(report)]
    out = "\n".join(lines) + "\n"
    for diff, names in same_changes(report):
        if len(names) > 1:
            out += f"# the same change at {len(names)} sites: {', '.join(names)}\n"
        out += diff.diff
    return out


def _model_table(report: DiffReport) -> list[str]:
    if not report.models:
        return []
    rows = ["| model | version | digest | sites |", "| --- | --- | --- | --- |"]
    for (model, old_version, new_version, old, new), names in _rows(report):
        rows.append(f"| {model} | {old_version} → {new_version} | `{old}` → `{new}` | {len(names)}: {some(names)} |")
    return [*rows, ""]


def to_markdown(report: DiffReport) -> str:
    head = [
        f"### gitops-mlops: {len(report.sites)} site(s) change",
        "",
        f"Rendered with kustomize at `{report.base[:12]}` (base) and `{report.head[:12]}` (head).",
        "",
        *_model_table(report),
    ]
    body = "\n".join(head)
    groups = same_changes(report)
    shown = 0
    for diff, names in groups:
        title = diff.site if len(names) == 1 else f"{len(names)} sites: {some(names, 10)}"
        block = f"\n<details><summary>{title}</summary>\n\n```diff\n{diff.diff}```\n</details>\n"
        if len(body) + len(block) > MARKDOWN_LIMIT:
            break
        body += block
        shown += 1
    if shown < len(groups):
        body += f"\n_{len(groups) - shown} more distinct changes not shown (comment size limit); run `gitops-mlops diff` locally._\n"
    return body
