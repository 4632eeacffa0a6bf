"""The layout of a managed GitOps repository: config, base manifests, overlays, Argo CD.

Pure: renders file texts from a spec with string templates (no git, no YAML
library), so the output is byte-stable and fast for thousands of edge sites.
``gitops-mlops init`` writes it; the project root's own example is the default
spec's output (``scripts/regenerate_example.py``), and a test keeps the two identical.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from gitops_mlops.errors import InputError
from gitops_mlops.imageref import parse_repository
from gitops_mlops.names import BRANCH_RE, NAME_RE

_NAME_RULE = "lowercase letters, digits and '-', starting and ending with a letter or digit, at most 63 characters"
_URL_RE = re.compile(r"^[A-Za-z0-9][^\s\x00-\x1f\x7f\"'#\\{}]*$")
_URL_CREDENTIALS_RE = re.compile(r"^(?:https?://[^/@]+@|[a-z][a-z0-9+.-]*://[^/@:]+:[^/@]*@)", re.I)

INITIAL_VERSION = "1.0.0"
NAMESPACE = "ml-serving"  # where the models run, on every site
ARGOCD_NAMESPACE = "openshift-gitops"  # the OpenShift GitOps (Argo CD) instance
PROJECT = "ml-serving"  # the Argo CD AppProject
IN_CLUSTER = "https://kubernetes.default.svc"
CI_NAMESPACE = "ml-serving-ci"  # where the repository's pipelines run (OpenShift Pipelines)
TOOL_IMAGE = "quay.io/example/gitops-mlops:0.1.0"  # the image that runs gitops-mlops in pipelines
TEMPLATES = Path(__file__).parent / "templates"
CLOUD_API = "https://api.cloud.example.com:6443"


@dataclass(frozen=True)
class ScaffoldSpec:
    """What to scaffold. Validated when built: a spec that exists renders."""

    models: tuple[tuple[str, str], ...] = (
        ("fraud-detector", "quay.io/example/fraud-detector"),
        ("demand-forecast", "quay.io/example/demand-forecast"),
    )  # (name, repository)
    edge_sites: tuple[str, ...] = ("berlin-01", "austin-01", "singapore-01")  # directories under overlays/edge/
    repo_url: str = "https://github.com/example/gitops-mlops.git"
    target_branch: str = "main"

    def __post_init__(self) -> None:
        for field, value in (("models", self.models), ("edge_sites", self.edge_sites)):
            if isinstance(value, str):
                raise InputError(f"{field}: expected a sequence, not the string {value!r}")
        models = tuple(tuple(m) if isinstance(m, list) else m for m in self.models)
        object.__setattr__(self, "models", models)
        object.__setattr__(self, "edge_sites", tuple(self.edge_sites))
        _check(self)


def _check(spec: ScaffoldSpec) -> None:
    if not spec.models:
        raise InputError("at least one model is needed")
    seen: set[str] = set()
    for model in spec.models:
        if not isinstance(model, tuple) or len(model) != 2 or not all(isinstance(v, str) for v in model):
            raise InputError(f"model {model!r}: expected a (name, repository) pair of strings")
        name, repository = model
        if not NAME_RE.match(name):
            raise InputError(f"model name {name!r}: {_NAME_RULE}")
        if name in seen:
            raise InputError(f"model {name!r} is given twice")
        seen.add(name)
        try:
            ref = parse_repository(repository)
        except InputError as exc:
            raise InputError(f"model {name!r}: {exc}") from None
        if ref.repository != repository:
            raise InputError(f"model {name!r}: repository {repository!r} must name its registry, as {ref.repository!r}")
    seen.clear()
    for site in spec.edge_sites:
        if not isinstance(site, str) or not NAME_RE.match(site):
            raise InputError(f"edge site name {site!r}: {_NAME_RULE}")
        if site in seen:
            raise InputError(f"edge site {site!r} is given twice")
        seen.add(site)
    url = spec.repo_url
    if isinstance(url, str) and _URL_CREDENTIALS_RE.search(url.strip()):
        raise InputError("repository URL: must not carry credentials (it is committed and shown to Argo CD); use a repository secret")
    if not isinstance(url, str) or not _URL_RE.match(url):
        shown = "<not shown: it holds '@'>" if isinstance(url, str) and "@" in url else repr(url)
        raise InputError(f"repository URL {shown}: empty, or has whitespace, control characters, quotes, '#', braces or backslashes")
    if not isinstance(spec.target_branch, str) or not BRANCH_RE.match(spec.target_branch):
        raise InputError(f"target branch {spec.target_branch!r}: not a valid git branch name")


def edge_site_names(count: int) -> tuple[str, ...]:
    """``site-0001`` ... ``site-NNNN``: zero-padded to 4 digits, more when count > 9999."""
    if count < 0:
        raise InputError(f"edge site count {count}: must be 0 or more")
    width = max(4, len(str(count)))
    return tuple(f"site-{i:0{width}d}" for i in range(1, count + 1))


def initial_digest(model: str) -> str:
    """A stand-in digest for a model's first pin: deterministic, so the example is byte-stable."""
    return "sha256:" + hashlib.sha256(f"{model}:{INITIAL_VERSION}".encode()).hexdigest()


def render_layout(spec: ScaffoldSpec) -> dict[str, str]:
    """Relative posix path -> file text, for the whole layout. Deterministic."""
    files = {"gitops-mlops.yaml": _config(spec)}
    for name, _ in spec.models:
        files.update(_base(name))
    files["overlays/datacenter/kustomization.yaml"] = _overlay(spec, "datacenter", "../..")
    files["overlays/cloud/kustomization.yaml"] = _overlay(spec, "cloud", "../..")
    edge_body = _overlay_body(spec, "edge", "../../..")  # the same for every edge site
    for site in spec.edge_sites:
        files[f"overlays/edge/{site}/kustomization.yaml"] = _edge_header(site) + edge_body
    files.update(_environments(spec))
    return files


def write_layout(root: Path, spec: ScaffoldSpec) -> list[Path]:
    """Write the layout under ``root`` (creating directories); returns the paths written."""
    written = []
    for relative, text in render_layout(spec).items():
        path = Path(root) / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.encode("utf-8"))
        written.append(path)
    return written


# ------------------------------------------------------------------ gitops-mlops.yaml


def _config(spec: ScaffoldSpec) -> str:
    registries = sorted({parse_repository(repo).registry for _, repo in spec.models})
    width = max(len(f"repository: {repo}") for _, repo in spec.models) + 2
    models = "".join(
        f"  - name: {name}\n"
        f"    {f'image: {name}':<{width}}# the container image name in base/ manifests; overlays pin it\n"
        f"    {f'repository: {repo}':<{width}}# where the pipeline pushes its builds\n"
        for name, repo in spec.models
    )
    allowed = "".join(f"    - {registry}\n" for registry in registries)
    return f"""\
# gitops-mlops: the models this repository serves and the order in which sites take a new build.
# Sites are not listed: every overlays/**/kustomization.yaml is one, named by its path under
# overlays/ (datacenter, cloud, edge/<site>); its stage is the first path component.
repoURL: {spec.repo_url}
targetBranch: {spec.target_branch}
remote: origin
models:
{models}\
# Promotion order: a site takes a digest only once every site of the stage before runs it.
stages:
  - name: datacenter
  - name: cloud
  - name: edge
policy:
  allowedRegistries:           # images may come only from these registries
{allowed}\
  remoteResources: []          # URL prefixes kustomize may fetch; none: every base lives here
# (model, site, digest) kept out after a rollback; 'gitops-mlops release-hold' clears one.
holds: []
"""


# ------------------------------------------------------------------ base/<model>


def _base(name: str) -> dict[str, str]:
    return {
        f"base/{name}/kustomization.yaml": f"""\
# Model-serving manifests for {name}. Overlays pin the image by digest and size it per site.
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
labels:
  - pairs:
      app.kubernetes.io/name: {name}
    includeSelectors: true
  - pairs:
      app.kubernetes.io/component: model-server
      app.kubernetes.io/part-of: gitops-mlops
    includeTemplates: true
resources:
  - deployment.yaml
  - service.yaml
  - hpa.yaml
  - route.yaml
""",
        f"base/{name}/deployment.yaml": f"""\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
spec:
  replicas: 2
  revisionHistoryLimit: 5
  strategy:
    type: RollingUpdate
    rollingUpdate:
      maxSurge: 1
      maxUnavailable: 0
  template:
    metadata:
      annotations:
        prometheus.io/scrape: "true"
        prometheus.io/port: "8080"
        prometheus.io/path: /metrics
    spec:
      automountServiceAccountToken: false
      terminationGracePeriodSeconds: 30
      securityContext:
        runAsNonRoot: true
        seccompProfile:
          type: RuntimeDefault
      containers:
        - name: model-server
          image: {name}  # a placeholder: each overlay's images: pins it by digest
          ports:
            - name: http
              containerPort: 8080
              protocol: TCP
          env:
            - name: MODEL_NAME
              value: {name}
            - name: HOME
              value: /tmp
          resources:
            requests:
              cpu: 500m
              memory: 1Gi
            limits:
              cpu: "2"
              memory: 2Gi
          startupProbe:  # loading model weights can take minutes; liveness waits for it
            httpGet:
              path: /v2/health/ready
              port: http
            periodSeconds: 10
            failureThreshold: 30
          readinessProbe:
            httpGet:
              path: /v2/health/ready
              port: http
            periodSeconds: 10
          livenessProbe:
            httpGet:
              path: /v2/health/live
              port: http
            periodSeconds: 20
            failureThreshold: 3
          securityContext:
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: true
            capabilities:
              drop:
                - ALL
          volumeMounts:
            - name: tmp
              mountPath: /tmp
      volumes:
        - name: tmp
          emptyDir:
            sizeLimit: 1Gi
""",
        f"base/{name}/service.yaml": f"""\
apiVersion: v1
kind: Service
metadata:
  name: {name}
spec:
  ports:
    - name: http
      port: 8080
      targetPort: http
      protocol: TCP
""",
        f"base/{name}/hpa.yaml": f"""\
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: {name}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: {name}
  minReplicas: 2
  maxReplicas: 6
  metrics:
    - type: Resource
      resource:
        name: cpu
        target:
          type: Utilization
          averageUtilization: 70
""",
        f"base/{name}/route.yaml": f"""\
apiVersion: route.openshift.io/v1
kind: Route
metadata:
  name: {name}
spec:
  to:
    kind: Service
    name: {name}
    weight: 100
  port:
    targetPort: http
  tls:
    termination: edge
    insecureEdgeTerminationPolicy: Redirect
""",
    }


# ------------------------------------------------------------------ overlays
#
# Patches are inline (kustomize refuses patch files outside an overlay's own
# directory) and target by kind, so one patch sizes every model of the site. They
# are strategic merges keyed by the container name, so a sidecar never shifts them.

_DEPLOYMENT_PATCH_HEAD = """\
  - target:
      kind: Deployment
    patch: |-
      apiVersion: apps/v1
      kind: Deployment
      metadata:
        name: every-model  # ignored: the target selects every Deployment
      spec:
"""

_HEADERS = {
    "datacenter": "# Datacenter: the on-premises OpenShift cluster with GPU nodes; 3 to 12 replicas per model.\n",
    "cloud": "# Public cloud: a managed OpenShift cluster on CPU nodes; 2 to 20 replicas per model.\n",
}


def _edge_header(site: str) -> str:
    return f"# Edge site {site}: a single-node cluster (MicroShift); one small replica per model, no autoscaler.\n"


_PATCHES = {
    "datacenter": _DEPLOYMENT_PATCH_HEAD
    + """\
        replicas: 3
        template:
          spec:
            containers:
              - name: model-server
                resources:
                  requests:
                    cpu: "2"
                    memory: 8Gi
                    nvidia.com/gpu: "1"
                  limits:
                    cpu: "4"
                    memory: 16Gi
                    nvidia.com/gpu: "1"
            tolerations:
              - key: nvidia.com/gpu
                operator: Exists
                effect: NoSchedule
  - target:
      kind: HorizontalPodAutoscaler
    patch: |-
      apiVersion: autoscaling/v2
      kind: HorizontalPodAutoscaler
      metadata:
        name: every-model
      spec:
        minReplicas: 3
        maxReplicas: 12
""",
    "cloud": _DEPLOYMENT_PATCH_HEAD
    + """\
        template:
          spec:
            containers:
              - name: model-server
                resources:
                  requests:
                    cpu: "1"
                    memory: 2Gi
                  limits:
                    cpu: "2"
                    memory: 4Gi
  - target:
      kind: HorizontalPodAutoscaler
    patch: |-
      apiVersion: autoscaling/v2
      kind: HorizontalPodAutoscaler
      metadata:
        name: every-model
      spec:
        minReplicas: 2
        maxReplicas: 20
""",
    "edge": _DEPLOYMENT_PATCH_HEAD
    + """\
        replicas: 1
        template:
          spec:
            nodeSelector:
              node-role.kubernetes.io/edge: ""
            tolerations:
              - key: node-role.kubernetes.io/edge
                operator: Exists
                effect: NoSchedule
            containers:
              - name: model-server
                resources:
                  requests:
                    cpu: 250m
                    memory: 512Mi
                  limits:
                    cpu: "1"
                    memory: 1Gi
  - target:
      kind: HorizontalPodAutoscaler
    patch: |-
      $patch: delete
      apiVersion: autoscaling/v2
      kind: HorizontalPodAutoscaler
      metadata:
        name: every-model
""",
}


def _overlay(spec: ScaffoldSpec, stage: str, up: str) -> str:
    return _HEADERS[stage] + _overlay_body(spec, stage, up)


def _overlay_body(spec: ScaffoldSpec, stage: str, up: str) -> str:
    resources = "".join(f"  - {up}/base/{name}\n" for name, _ in spec.models)
    pins = "".join(
        f"  - name: {name}\n    newName: {repo}\n    newTag: {INITIAL_VERSION}\n    digest: {initial_digest(name)}\n"
        for name, repo in spec.models
    )
    return (
        f"apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: {NAMESPACE}\n"
        f"resources:\n{resources}patches:\n{_PATCHES[stage]}"
        f"# Image pins: written by 'gitops-mlops promote', one commit per promotion.\nimages:\n{pins}"
    )


# ------------------------------------------------------------------ environments (Argo CD)

_SYNC_POLICY = """\
    automated:
      prune: true
      selfHeal: true
    syncOptions:
      - CreateNamespace=true
"""


# Argo CD regenerates an Application's manifests only when a commit touches these paths: the
# site's own overlay (.) and the shared bases (/base, from the repository root). Without it, every
# commit to this repository regenerates every Application, so a one-site promotion costs the fleet.
_GENERATE_PATHS = "argocd.argoproj.io/manifest-generate-paths: .;/base"


def _template(name: str, **values: str) -> str:
    """A template file of this package with each ``@@key@@`` filled in."""
    text = (TEMPLATES / name).read_text()
    for key, value in values.items():
        text = text.replace(f"@@{key}@@", value)
    if "@@" in text:
        raise AssertionError(f"template {name}: unfilled {text[text.index('@@'):][:40]!r}")
    return text


def _application(spec: ScaffoldSpec, site: str, server: str, what: str) -> str:
    return f"""\
# Argo CD syncs overlays/{site} to {what}.
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: {PROJECT}-{site}
  namespace: {ARGOCD_NAMESPACE}
  labels:
    app.kubernetes.io/part-of: gitops-mlops
  annotations:
    {_GENERATE_PATHS}
spec:
  project: {PROJECT}
  source:
    repoURL: {spec.repo_url}
    targetRevision: {spec.target_branch}
    path: overlays/{site}
  destination:
    server: {server}
    namespace: {NAMESPACE}
  # The HorizontalPodAutoscaler owns the replica count here; Argo CD must not reset it.
  ignoreDifferences:
    - group: apps
      kind: Deployment
      jsonPointers:
        - /spec/replicas
  syncPolicy:
{_SYNC_POLICY}\
      - RespectIgnoreDifferences=true
"""


def _environments(spec: ScaffoldSpec) -> dict[str, str]:
    return {
        "environments/kustomization.yaml": f"""\
# Argo CD objects for the serving fleet, all in the {ARGOCD_NAMESPACE} namespace:
# apply once with 'oc apply -k environments/' (or from an app-of-apps).
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - project.yaml
  - datacenter.yaml
  - cloud.yaml
  - edge-fleet.yaml
  - pipelines/pr-check.yaml
""",
        "environments/project.yaml": f"""\
# The Argo CD project of every serving Application: this repository only, into {NAMESPACE} only.
apiVersion: argoproj.io/v1alpha1
kind: AppProject
metadata:
  name: {PROJECT}
  namespace: {ARGOCD_NAMESPACE}
spec:
  description: ML model serving, promoted by gitops-mlops
  sourceRepos:
    - {spec.repo_url}
  destinations:
    - server: "*"
      namespace: {NAMESPACE}
  clusterResourceWhitelist:
    - group: ""
      kind: Namespace
""",
        "environments/pipelines/pr-check.yaml": _template("pr-check-pipeline.yaml", ci_namespace=CI_NAMESPACE, repo_url=spec.repo_url, target_branch=spec.target_branch, tool_image=TOOL_IMAGE),
        "environments/datacenter.yaml": _application(spec, "datacenter", IN_CLUSTER, "the datacenter cluster (where Argo CD runs)"),
        "environments/cloud.yaml": _application(spec, "cloud", CLOUD_API, "the public cloud cluster"),
        "environments/edge-fleet.yaml": f"""\
# One Application per edge site: every directory under overlays/edge/ is a site, deployed
# to the Argo CD cluster of the same name. Adding a site is adding its directory.
apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata:
  name: {PROJECT}-edge
  namespace: {ARGOCD_NAMESPACE}
spec:
  goTemplate: true
  goTemplateOptions: ["missingkey=error"]
  generators:
    - git:
        repoURL: {spec.repo_url}
        revision: {spec.target_branch}
        directories:
          - path: overlays/edge/*
  template:
    metadata:
      name: "{PROJECT}-edge-{{{{.path.basename}}}}"
      labels:
        app.kubernetes.io/part-of: gitops-mlops
      annotations:
        {_GENERATE_PATHS}
    spec:
      project: {PROJECT}
      source:
        repoURL: {spec.repo_url}
        targetRevision: {spec.target_branch}
        path: "{{{{.path.path}}}}"
      destination:
        name: "{{{{.path.basename}}}}"
        namespace: {NAMESPACE}
      syncPolicy:
        automated:
          prune: true
          selfHeal: true
        syncOptions:
          - CreateNamespace=true
        retry:  # edge links drop; keep trying instead of failing the sync
          limit: 10
          backoff:
            duration: 30s
            factor: 2
            maxDuration: 15m
""",
    }
