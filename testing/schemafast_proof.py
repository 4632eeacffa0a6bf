"""The schema check's fast path (``render.schemafast.follows_valid``) against the full jsonschema check,
on generated documents: valid objects as kustomize writes them (built-in kinds, KServe's CRD, and a CRD
whose image-like fields are constrained), each changed at random: image and storageUri values replaced by
strings and by hostile text (non-strings, nulls, flow collections, anchors, quotes, block scalars, empty),
other values and keys changed, lines added and removed. Wherever the fast path says "valid", the full
check must find nothing. ``prove_documents`` returns every difference, one line each; none is the proof."""

from __future__ import annotations

import random
import re
from pathlib import Path

from gitops_mlops.render.schemafast import KnownValid, follows_valid
from gitops_mlops.render.schemas import Schemas

IMAGE = "quay.io/example/fraud-detector:1.5.0@sha256:" + "a" * 64

BASES = {
    "deployment": f"""apiVersion: apps/v1
kind: Deployment
metadata:
  annotations:
    image: {IMAGE}
  labels:
    app: fraud
  name: fraud
spec:
  replicas: 2
  selector:
    matchLabels:
      app: fraud
  template:
    metadata:
      labels:
        app: fraud
    spec:
      containers:
      - args:
        - --image
        - {IMAGE}
        env:
        - name: image
          value: {IMAGE}
        image: {IMAGE}
        name: serve
        ports:
        - containerPort: 8080
      - image: quay.io/example/sidecar:2.0.0
        name: sidecar
      initContainers:
      - image: quay.io/example/init:1.0.0
        name: init
      volumes:
      - image:
          pullPolicy: IfNotPresent
          reference: quay.io/example/weights:1.0.0
        name: weights
""",
    "pod": f"""apiVersion: v1
kind: Pod
metadata:
  name: debug
spec:
  containers:
  - image: {IMAGE}
    name: main
  ephemeralContainers:
  - image: quay.io/example/debug:1.0.0
    name: debug
""",
    "configmap": """apiVersion: v1
data:
  config.yaml: |
    image: quay.io/example/in-text:1.0.0
    other: x
  image: quay.io/example/plain:1.0.0
kind: ConfigMap
metadata:
  name: settings
""",
    "inferenceservice": """apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata:
  annotations:
    serving.kserve.io/deploymentMode: RawDeployment
  name: fraud-detector
spec:
  predictor:
    minReplicas: 2
    model:
      modelFormat:
        name: onnx
      runtime: openvino-model-server
      storageUri: oci://quay.io/example/fraud-detector:1.5.0@sha256:"""
    + "b" * 64
    + """
""",
    "constrained": """apiVersion: proof.example.com/v1
kind: Constrained
metadata:
  name: c
spec:
  pinned:
    image: quay.io/example/a
  choices:
  - image: quay.io/example/one
  either:
    image: quay.io/example/x
  free:
    image: quay.io/example/free:1.0.0
""",
    # line breaks the YAML parser counts and split("\n") does not, before an unconstrained and a constrained image
    "breaks": """apiVersion: proof.example.com/v1
kind: Constrained
metadata:
  name: b
spec:
  note: "p\u2028q\u2028r"
  free:
    image: quay.io/example/free:1.0.0
  pinned:
    image: quay.io/example/a
""",
}

CONSTRAINED_CRD = """apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: constraineds.proof.example.com
spec:
  group: proof.example.com
  names:
    kind: Constrained
    plural: constraineds
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          apiVersion:
            type: string
          kind:
            type: string
          metadata:
            type: object
          spec:
            type: object
            properties:
              note:
                type: string
              pinned:
                type: object
                properties:
                  image:
                    type: string
                    pattern: "^quay[.]io/example/[a-z]+$"
              choices:
                type: array
                uniqueItems: true
                items:
                  type: object
                  properties:
                    image:
                      type: string
                      maxLength: 24
              either:
                type: object
                anyOf:
                - required: [image]
                properties:
                  image:
                    type: string
                    enum: [quay.io/example/x, quay.io/example/y]
              free:
                type: object
                properties:
                  image:
                    type: string
"""

STRINGS = [
    "quay.io/example/fraud-detector:1.6.0@sha256:" + "c" * 64,
    "oci://quay.io/example/fraud-detector:2.0.0@sha256:" + "d" * 64,
    "quay.io/example/one",
    "quay.io/example/y",
    "registry.local:5000/m/x:v1",
    "a",
    "x" * 300,
]
OTHERS = ["fraud-b", "serving-site-0042", "apps/v1", "Pod", "v2", "8081", "true", "IfNotPresent", "Always", "x.example.com/y"]  # plain strings and not
HOSTILE = [
    "null",
    "~",
    "yes",
    "No",
    "off",
    "123",
    "1.5",
    "0x1F",
    "1_000",
    "1:20",
    "2001-12-14",
    ".inf",
    "[a, b]",
    "{a: b}",
    '"quoted"',
    "'single'",
    "foo: bar",
    "- x",
    "&anchor x",
    "*alias",
    "!!int 3",
    "|",
    ">-",
    "",
    "foo #comment",
    "a:",
    "abc-",
    "-abc",
    "a b",
    "@x",
    "%x",
    '"unterminated',
    "[",
]


ODD_BREAKS = ["\u2028", "\u2029", "\x85", "\r", "\u2028\u2028"]


def schemas_for_proof(crds: Path, tmp: Path) -> Schemas:
    """The product's checker with the real CRDs and the constrained CRD written under ``tmp``."""
    extra = tmp / "constrained-crd.yaml"
    extra.write_text(CONSTRAINED_CRD)
    return Schemas(crds=(crds, extra))


def mutate(doc: str, rng: random.Random) -> str:
    """One to three random changes of the document's text."""
    lines = doc.split("\n")
    for _ in range(rng.randint(1, 3)):
        image_lines = [i for i, line in enumerate(lines) if re.match(r" *(- )*(image|storageUri):", line)]
        plain = [i for i, line in enumerate(lines) if re.match(r" *(- )*[A-Za-z0-9_][A-Za-z0-9_./-]*: \S+$", line)]
        roll = rng.random()
        if plain and rng.random() < 0.3:  # any plain value (a name, a namespace, a label, a number, the kind) changed
            i = rng.choice(plain)
            lines[i] = lines[i].rsplit(": ", 1)[0] + ": " + rng.choice(OTHERS + STRINGS[2:] + HOSTILE[:12])
        elif image_lines and roll < 0.75:
            i = rng.choice(image_lines)
            prefix = re.match(r"( *(?:- )*(?:image|storageUri):)", lines[i]).group(1)
            value = rng.choice(STRINGS) if rng.random() < 0.6 else rng.choice(HOSTILE)
            lines[i] = f"{prefix} {value}" if value else prefix
        elif roll < 0.78:  # a quoted value holding a line break YAML counts and split("\n") does not
            lines.insert(rng.randrange(1, len(lines)), '  note: "p' + rng.choice(ODD_BREAKS) + 'q"')
        elif roll < 0.82:  # another value changed
            i = rng.randrange(len(lines))
            if ": " in lines[i]:
                lines[i] = lines[i].split(": ", 1)[0] + ": " + rng.choice(STRINGS + HOSTILE + OTHERS)
        elif roll < 0.88:  # a key renamed
            i = rng.randrange(len(lines))
            lines[i] = re.sub(r"(image|storageUri|name|replicas):", rng.choice(["imag:", "images:", "storageURI:", "x-image:"]), lines[i])
        elif roll < 0.94:  # a line added or removed
            i = rng.randrange(len(lines))
            if rng.random() < 0.5 and len(lines) > 2:
                del lines[i]
            else:
                lines.insert(i, rng.choice(["  image: x", "    image: quay.io/x", "- image: y", "extra: 1"]))
        else:  # an indentation changed
            i = rng.randrange(len(lines))
            lines[i] = " " + lines[i]
    return "\n".join(lines)


class Memory:
    """The render cache's verdict store (``metas``/``set_metas``) in memory, for proofs of many documents."""

    def __init__(self) -> None:
        self.items: dict[str, str] = {}

    def metas(self, names: list[str]) -> dict[str, str]:
        return {n: self.items[n] for n in names if n in self.items}

    def set_metas(self, items: dict[str, str]) -> None:
        self.items.update(items)


def prove_documents(schemas: Schemas, count: int, seed: int, store=None) -> tuple[list[str], dict[str, int]]:
    """``count`` generated changes, each decided by ``follows_valid`` and by ``KnownValid`` over stored verdicts
    (``store``: a render cache, else memory, and the documents it found valid before) and by the full check:
    the differences, and tallies (``fast``: decided by the fast path; ``alike``: only ``follows_valid`` of any key
    says valid; ``invalid``: the full check found the new document invalid)."""
    rng = random.Random(seed)
    problems: list[str] = []
    tally = {"cases": 0, "fast": 0, "alike": 0, "invalid": 0}
    known = KnownValid(schemas, store if store is not None else Memory())
    olds = list(BASES.values())
    for old in olds:
        found = known.check_pairs([(None, old)])
        if found.errors or found.unchecked:
            problems.append(f"base document not valid: {found.errors[:1]} {found.unchecked}")
            return problems, tally
    for n in range(count):
        old = rng.choice(olds)
        new = mutate(old, rng)
        full = schemas.check_docs([new])
        valid = not full.errors and not full.unchecked
        fast = follows_valid(schemas, old, new)
        alike = follows_valid(schemas, old, new, any_key=True)  # a document of another site of the template
        before = known.fast
        got = known.check_pairs([(old, new)])
        tally["cases"] += 1
        tally["fast"] += known.fast > before
        tally["invalid"] += not valid
        tally["alike"] += alike and not fast
        if (fast or alike) and not valid:
            problems.append(f"seed {seed} case {n}: the fast path says valid, the full check finds {full.errors[:1] or full.unchecked}:\n{new}")
        if (got.errors, got.unchecked) != (full.errors, full.unchecked) or (fast and known.fast == before) or (known.fast > before and not valid):
            problems.append(
                f"seed {seed} case {n}: the stored verdicts decide {got.errors[:1]} (fast: {known.fast > before}), the full check {full.errors[:1]} (fast: {fast}):\n{new}"
            )
        if valid and len(olds) < 200:  # a valid result is known valid next time: chains of changes
            olds.append(new)
    return problems, tally
