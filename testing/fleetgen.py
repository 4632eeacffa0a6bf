"""Seeded generator of GitOps fleets for the fast-path proofs (tests/render/test_fastpath_proofs.py,
scripts/prove_fastpaths.py).

A fleet is a repository of bases (one per model), components and site overlays that use, in random
combinations, what real repositories use: Namespaces, CRDs and custom resources, ``namespace:``,
``namePrefix``/``nameSuffix``, labels and annotations, strategic-merge and JSON 6902 patches
(inline, as block and quoted scalars, and from files), components, ConfigMap and Secret generators
with hash suffixes referenced from workloads, replacements, ``images:`` in bases and overlays, wrapper
overlays, several models per site, KServe InferenceServices with modelcar patches, workloads of
every Pod-template kind with initContainers, names that are prefixes of other names, CRLF and
comments. Every choice comes from ``random.Random(seed)``: a seed is a fleet.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

MODELS = ("fraud", "demand", "vision")
STAGES = ("edge", "prod")
DIGITS = "0123456789abcdef"
_POD_TEMPLATE = {  # the indentation of a Pod spec's keys, and what wraps it
    "Deployment": ("apps/v1", "spec:\n  selector:\n    matchLabels: {app: APP}\n  template:\n    metadata:\n      labels: {app: APP}\n    spec:\n", 6),
    "StatefulSet": (
        "apps/v1",
        "spec:\n  serviceName: APP\n  selector:\n    matchLabels: {app: APP}\n  template:\n    metadata:\n      labels: {app: APP}\n    spec:\n",
        6,
    ),
    "DaemonSet": ("apps/v1", "spec:\n  selector:\n    matchLabels: {app: APP}\n  template:\n    metadata:\n      labels: {app: APP}\n    spec:\n", 6),
    "Job": ("batch/v1", "spec:\n  template:\n    spec:\n      restartPolicy: Never\n", 6),
    "CronJob": (
        "batch/v1",
        'spec:\n  schedule: "*/5 * * * *"\n  jobTemplate:\n    spec:\n      template:\n        spec:\n          restartPolicy: Never\n',
        10,
    ),
    "Pod": ("v1", "spec:\n", 2),
}


@dataclass
class Fleet:
    seed: int
    files: dict[str, str] = field(default_factory=dict)
    sites: list[tuple[str, str]] = field(default_factory=list)  # (stage, name) of each overlay
    config: str = ""


def digest(rng: random.Random) -> str:
    return "sha256:" + "".join(rng.choice(DIGITS) for _ in range(64))


def image_name(model: str, form: int) -> str:
    """How a base names a model's image: a placeholder, its repository, or a Docker Hub short name."""
    return (f"{model}-image", f"quay.io/acme/{model}", f"acme/{model}")[form]


def _containers(rng: random.Random, model: str, image: str, indent: int) -> str:
    pad = " " * indent
    dash = pad + ("- " if rng.random() < 0.5 else "  - ")
    inner = " " * (len(dash))
    lines = [f"{pad}containers:\n", f"{dash}name: server\n{inner}image: {image}:0.1\n"]
    if rng.random() < 0.5:
        lines.append(f"{dash}image: busybox:1.36\n{inner}name: sidecar\n")
    if rng.random() < 0.4:
        lines.append(
            f"{dash}name: config\n{inner}image: {image}:0.1\n{inner}envFrom:\n{inner}- configMapRef:\n{inner}    name: {model}-config\n"
            f"{inner}- secretRef:\n{inner}    name: {model}-secret\n"
        )
    if rng.random() < 0.5:
        lines += [f"{pad}initContainers:\n", f"{dash}name: warmup\n{inner}image: {rng.choice((image + ':0.1', 'alpine:3'))}\n"]
    return "".join(lines)


def workload(rng: random.Random, model: str, image: str) -> str:
    kind = rng.choice(tuple(_POD_TEMPLATE))
    api, head, indent = _POD_TEMPLATE[kind]
    comment = "# the model server\n" if rng.random() < 0.3 else ""
    return f"{comment}apiVersion: {api}\nkind: {kind}\nmetadata:\n  name: {model}\n" + head.replace("APP", model) + _containers(rng, model, image, indent)


def inference_service(model: str) -> str:
    return (
        "apiVersion: serving.kserve.io/v1beta1\nkind: InferenceService\nmetadata:\n"
        f"  name: {model}\n  annotations:\n    serving.kserve.io/deploymentMode: RawDeployment\n"
        "spec:\n  predictor:\n    model:\n      modelFormat:\n        name: onnx\n"
        f"      storageUri: oci://quay.io/acme/{model}-model:0.1\n"
    )


def crd(model: str) -> str:
    plural = f"{model}widgets"
    return (
        f"apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: {plural}.example.com\n"
        f"spec:\n  group: example.com\n  names:\n    kind: {model.capitalize()}Widget\n    plural: {plural}\n  scope: Namespaced\n"
        "  versions:\n  - name: v1\n    served: true\n    storage: true\n    schema:\n      openAPIV3Schema:\n        type: object\n"
        "        x-kubernetes-preserve-unknown-fields: true\n"
        f"---\napiVersion: example.com/v1\nkind: {model.capitalize()}Widget\nmetadata:\n  name: {model}\nspec:\n  size: 1\n"
    )


def services(rng: random.Random, model: str) -> str:
    names = [model, f"{model}-metrics"] if rng.random() < 0.6 else [model]  # a name that another extends
    rng.shuffle(names)
    return "---\n".join(
        f"apiVersion: v1\nkind: Service\nmetadata:\n  name: {name}\nspec:\n  selector:\n    app: {model}\n  ports:\n  - port: 80\n" for name in names
    )


def namespace(name: str) -> str:
    return f"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {name}\n"


def finish(rng: random.Random, text: str) -> str:
    """A kustomization as people write them: maybe a header comment, maybe CRLF."""
    if rng.random() < 0.3:
        text = "# managed by the platform team\n" + text
    return text.replace("\n", "\r\n") if rng.random() < 0.15 else text


@dataclass(frozen=True)
class Base:
    model: str
    image: str  # the image name its manifests use
    kind: str  # the workload's kind
    api: str
    isvc: bool


def base(rng: random.Random, model: str, files: dict[str, str]) -> Base:
    image = image_name(model, rng.randrange(3))
    folder = f"base/{model}"
    files[f"{folder}/workload.yaml"] = workload(rng, model, image)
    kind = files[f"{folder}/workload.yaml"].split("kind: ", 1)[1].split("\n", 1)[0]
    resources = ["workload.yaml"]
    for name, chance, text in (
        ("services.yaml", 0.7, services(rng, model)),
        ("namespace.yaml", 0.3, namespace(f"{model}-system")),
        ("crd.yaml", 0.25, crd(model)),
        ("isvc.yaml", 0.5, inference_service(model)),
    ):
        if rng.random() < chance:
            files[f"{folder}/{name}"] = text
            resources.append(name)
    rng.shuffle(resources)
    text = "resources:\n" + "".join(f"- {r}\n" for r in resources)
    if rng.random() < 0.3:
        text += "labels:\n- pairs:\n    team: ml\n"
    if rng.random() < 0.2:
        text += "commonLabels:\n  tier: model\n"
    if rng.random() < 0.3:
        text += "commonAnnotations:\n  owner: ml-platform\n"
    if rng.random() < 0.3:
        text += f'images:\n- name: {image}\n  newTag: "0.2"\n'
    if rng.random() < 0.3:
        text += f"configMapGenerator:\n- name: {model}-config\n  literals:\n  - MODE=fast\n"
    if rng.random() < 0.2:
        text += f"secretGenerator:\n- name: {model}-secret\n  literals:\n  - TOKEN=not-a-secret\n"
    files[f"{folder}/kustomization.yaml"] = finish(rng, text)
    return Base(model, image, kind, _POD_TEMPLATE[kind][0], "isvc.yaml" in resources)


COMPONENT = """\
apiVersion: kustomize.config.k8s.io/v1alpha1
kind: Component
patches:
- target:
    kind: Service
  patch: |-
    - op: add
      path: /metadata/labels
      value: {exposed: "true"}
"""


def pin_entry(rng: random.Random, b: Base, name: str | None = None) -> str:
    """One ``images:`` entry for a base's image: some of newName, newTag and digest, sometimes quoted."""
    fields = [("newName", f"quay.io/acme/{b.model}"), ("newTag", f"1.{rng.randrange(9)}.{rng.randrange(9)}"), ("digest", digest(rng))]
    chosen = [f for f in fields if rng.random() < 0.7] or [fields[2]]
    quote = '"' if rng.random() < 0.2 else ""
    return f"- name: {quote}{name or b.image}{quote}\n" + "".join(f"  {key}: {quote}{value}{quote}\n" for key, value in chosen)


def modelcar_patch(rng: random.Random, model: str) -> str:
    uri = f"oci://quay.io/acme/{model}-model:1.{rng.randrange(9)}@{digest(rng)}"
    body = f"- op: replace\n  path: /spec/predictor/model/storageUri\n  value: {uri}"
    target = f"- target:\n    kind: InferenceService\n    name: {model}\n"
    if rng.random() < 0.7:
        indicator = rng.choice(("|-", "|"))
        return target + f"  patch: {indicator}\n" + "".join(f"    {line}\n" for line in body.split("\n"))
    return target + '  patch: "' + body.replace("\n", "\\n") + '"\n'


def site_patches(rng: random.Random, bases: list[Base], files: dict[str, str], folder: str) -> str:
    out = []
    for b in bases:
        if rng.random() < 0.3:
            smp = f'apiVersion: {b.api}\nkind: {b.kind}\nmetadata:\n  name: {b.model}\n  annotations:\n    patched: "yes"\n'
            out.append("- patch: |-\n" + "".join(f"    {line}\n" for line in smp.rstrip("\n").split("\n")))
        if rng.random() < 0.3:
            json6902 = "- op: add\\n  path: /metadata/annotations\\n  value: {via: json6902}"
            block = json6902.replace("\\n", "\n    ")
            patch = f'"{json6902}"' if rng.random() < 0.5 else f"|-\n    {block}"
            out.append(f"- target:\n    kind: {b.kind}\n    name: {b.model}\n  patch: {patch}\n")
        if rng.random() < 0.2 and b.kind in ("Deployment", "StatefulSet"):
            name = f"replicas-{b.model}.yaml"
            files[f"{folder}/{name}"] = f"apiVersion: {b.api}\nkind: {b.kind}\nmetadata:\n  name: {b.model}\nspec:\n  replicas: 2\n"
            out.append(f"- path: {name}\n")
        if b.isvc and rng.random() < 0.7:
            out.append(modelcar_patch(rng, b.model))
    return "patches:\n" + "".join(out) if out else ""


def overlay(rng: random.Random, name: str, bases: list[Base], files: dict[str, str]) -> None:
    folder = f"overlays/edge/{name}"
    resources = [f"../../../base/{b.model}" for b in bases]
    # ``namespace:`` renames every Namespace object to it: a site that sets it holds at most one
    target = rng.choice((name, "serving")) if rng.random() < 0.4 else None
    namespaces = sum("namespace.yaml" in files.get(f"base/{b.model}/kustomization.yaml", "") for b in bases)
    if rng.random() < 0.6 and not (target and namespaces):
        files[f"{folder}/namespace.yaml"] = namespace(target or rng.choice((f"{name}-ns", "models")))
        resources.append("namespace.yaml")
        namespaces += 1
    text = "resources:\n" + "".join(f"- {r}\n" for r in resources)
    if target and namespaces <= 1:
        text += f"namespace: {target}\n"
    if rng.random() < 0.25:
        text += "namePrefix: edge-\n"
    if rng.random() < 0.2:
        text += "nameSuffix: -v2\n"
    if rng.random() < 0.3:
        text += f"labels:\n- pairs:\n    site: {name}\n  includeSelectors: false\n"
    if rng.random() < 0.2:
        text += f"commonAnnotations:\n  site: {name}\n"
    if rng.random() < 0.2:
        files["components/exposed/kustomization.yaml"] = COMPONENT
        text += "components:\n- ../../../components/exposed\n"
    pinned = [b for b in bases if rng.random() < 0.85]
    if pinned:
        text += "images:\n" + "".join(pin_entry(rng, b) for b in pinned)
    text += site_patches(rng, bases, files, folder)
    if rng.random() < 0.25:
        text += f"configMapGenerator:\n- name: site-config\n  literals:\n  - SITE={name}\n"
        first = bases[0]
        text += (
            "replacements:\n- source:\n    kind: ConfigMap\n    name: site-config\n    fieldPath: data.SITE\n"
            f"  targets:\n  - select:\n      kind: {first.kind}\n      name: {first.model}\n"
            "    fieldPaths:\n    - metadata.annotations.site\n    options:\n      create: true\n"
        )
    files[f"{folder}/kustomization.yaml"] = finish(rng, text)


def wrapper(rng: random.Random, name: str, inner: str, bases: list[Base], files: dict[str, str]) -> None:
    """A prod site built on an edge site's overlay, sometimes pinning one model again."""
    text = f"resources:\n- ../../edge/{inner}\n"
    if rng.random() < 0.5:
        b = rng.choice(bases)
        text += "images:\n" + pin_entry(rng, b, rng.choice((b.image, f"quay.io/acme/{b.model}")))
    if rng.random() < 0.3:
        text += "commonAnnotations:\n  wrapped: 'true'\n"
    files[f"overlays/prod/{name}/kustomization.yaml"] = finish(rng, text)


def config(bases: dict[str, Base]) -> str:
    lines = ["models:\n"]
    for b in bases.values():
        lines.append(f"  - name: {b.model}\n    repository: quay.io/acme/{b.model}\n")
        if not b.image.startswith("quay.io/"):
            lines.append(f"    image: {b.image}\n")
        if b.isvc:
            lines.append(f"  - name: {b.model}-model\n    artifact: modelcar\n    image: {b.model}-model\n")
            lines.append(f"    repository: quay.io/acme/{b.model}-model\n    inferenceService: {b.model}\n")
    return "".join(lines) + "stages:\n" + "".join(f"  - name: {s}\n" for s in STAGES)


def fleet(seed: int, sites: int | None = None) -> Fleet:
    """A fleet of 2 to 6 edge sites over up to three bases, some wrapped by prod sites."""
    rng = random.Random(seed)
    out = Fleet(seed)
    models = rng.sample(MODELS, rng.randint(1, len(MODELS)))
    bases = {m: base(rng, m, out.files) for m in models}
    count = sites or rng.randint(2, 6)
    for n in range(count):
        name = f"s{n}" if rng.random() < 0.7 else f"site-{n}"
        chosen = [bases[m] for m in rng.sample(models, rng.randint(1, len(models)))]
        overlay(rng, name, chosen, out.files)
        out.sites.append(("edge", name))
        if rng.random() < 0.3:
            wrapper(rng, f"w{n}", name, chosen, out.files)
            out.sites.append(("prod", f"w{n}"))
    out.config = config(bases)
    out.files["gitops-mlops.yaml"] = out.config
    return out
