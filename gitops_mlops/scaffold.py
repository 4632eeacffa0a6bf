"""The layout of a managed GitOps repository: config, base manifests, overlays, Argo CD.

Pure: renders file texts from a spec (string templates, byte-stable, fast for
thousands of edge sites). ``gitops-mlops init`` writes them; the project root's
own example is the default spec's output, and a test keeps the two identical.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from gitops_mlops.errors import InputError
from gitops_mlops.imageref import parse_repository

NAME_RE = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
INITIAL_VERSION = "1.0.0"
NAMESPACE = "ml-serving"


@dataclass(frozen=True)
class ScaffoldSpec:
    models: tuple[tuple[str, str], ...] = (
        ("fraud-detector", "quay.io/example/fraud-detector"),
        ("demand-forecast", "quay.io/example/demand-forecast"),
    )
    edge_sites: tuple[str, ...] = ("berlin-01", "austin-01", "singapore-01")
    repo_url: str = "https://github.com/example/gitops-mlops.git"
    target_branch: str = "main"


def edge_site_names(count: int) -> tuple[str, ...]:
    width = max(4, len(str(count)))
    return tuple(f"site-{i:0{width}d}" for i in range(1, count + 1))


def initial_digest(model: str) -> str:
    return "sha256:" + hashlib.sha256(f"{model}:{INITIAL_VERSION}".encode()).hexdigest()


def _check(spec: ScaffoldSpec) -> None:
    if not spec.models:
        raise InputError("at least one model is needed")
    names = [name for name, _ in spec.models]
    for name, repository in spec.models:
        if not NAME_RE.match(name):
            raise InputError(f"model name {name!r}: lowercase letters, digits and '-' only, at most 63 characters")
        parse_repository(repository)
    for site in spec.edge_sites:
        if not NAME_RE.match(site):
            raise InputError(f"edge site name {site!r}: lowercase letters, digits and '-' only, at most 63 characters")
    for what, values in (("model", names), ("edge site", list(spec.edge_sites))):
        duplicates = sorted({v for v in values if values.count(v) > 1})
        if duplicates:
            raise InputError(f"{what} {duplicates[0]!r} is given twice")
    if not spec.repo_url or any(c.isspace() for c in spec.repo_url):
        raise InputError(f"repository URL {spec.repo_url!r} is empty or has whitespace")


def render_layout(spec: ScaffoldSpec) -> dict[str, str]:
    """Relative posix path -> file text, for the whole layout."""
    _check(spec)
    files = {"gitops-mlops.yaml": _config(spec)}
    for name, _ in spec.models:
        files.update(_base(name))
    files["overlays/datacenter/kustomization.yaml"] = _overlay(spec, "datacenter", "../..")
    files["overlays/cloud/kustomization.yaml"] = _overlay(spec, "cloud", "../..")
    for site in spec.edge_sites:
        files[f"overlays/edge/{site}/kustomization.yaml"] = _overlay(spec, "edge", "../../..", site)
    files.update(_environments(spec))
    return files


def write_layout(root: Path, spec: ScaffoldSpec) -> list[Path]:
    written = []
    for relative, text in render_layout(spec).items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.encode("utf-8"))
        written.append(path)
    return written


# ------------------------------------------------------------------ gitops-mlops.yaml


def _config(spec: ScaffoldSpec) -> str:
    registries = sorted({parse_repository(repo).registry for _, repo in spec.models})
    models = "".join(
        f"  - name: {name}\n"
        f"    image: {name}                # the container image name in base/{name}; overlays pin it\n"
        f"    repository: {repo}   # where the pipeline pushes its builds\n"
        for name, repo in spec.models
    )
    return f"""\
# gitops-mlops: which models this repository serves, and in which order sites take a new build.
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
# Sites are the overlays/**/kustomization.yaml leaves (datacenter, cloud, edge/<site>).
policy:
  allowedRegistries: [{", ".join(registries)}]
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
      app.kubernetes.io/part-of: gitops-mlops
      app.kubernetes.io/component: model-server
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
      securityContext:
        runAsNonRoot: true
        seccompProfile:
          type: RuntimeDefault
      containers:
        - name: model-server
          image: {name}
          ports:
            - name: http
              containerPort: 8080
              protocol: TCP
          env:
            - name: MODEL_NAME
              value: {name}
          resources:
            requests:
              cpu: 500m
              memory: 1Gi
            limits:
              cpu: "2"
              memory: 2Gi
          readinessProbe:
            httpGet:
              path: /v2/health/ready
              port: http
            initialDelaySeconds: 5
            periodSeconds: 10
          livenessProbe:
            httpGet:
              path: /v2/health/live
              port: http
            initialDelaySeconds: 15
            periodSeconds: 20
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
          emptyDir: {{}}
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

_PATCHES = {
    "datacenter": """\
# Datacenter: GPU nodes, three replicas, room to scale.
patches:
  - target:
      kind: Deployment
    patch: |-
      - op: replace
        path: /spec/replicas
        value: 3
      - op: replace
        path: /spec/template/spec/containers/0/resources
        value:
          requests:
            cpu: "2"
            memory: 8Gi
            nvidia.com/gpu: "1"
          limits:
            cpu: "4"
            memory: 16Gi
            nvidia.com/gpu: "1"
  - target:
      kind: HorizontalPodAutoscaler
    patch: |-
      - op: replace
        path: /spec/minReplicas
        value: 3
      - op: replace
        path: /spec/maxReplicas
        value: 12
""",
    "cloud": """\
# Public cloud: autoscaling on CPU from 2 to 20 replicas.
patches:
  - target:
      kind: Deployment
    patch: |-
      - op: replace
        path: /spec/template/spec/containers/0/resources
        value:
          requests:
            cpu: "1"
            memory: 2Gi
          limits:
            cpu: "2"
            memory: 4Gi
  - target:
      kind: HorizontalPodAutoscaler
    patch: |-
      - op: replace
        path: /spec/minReplicas
        value: 2
      - op: replace
        path: /spec/maxReplicas
        value: 20
""",
    "edge": """\
patches:
  - target:
      kind: Deployment
    patch: |-
      - op: replace
        path: /spec/replicas
        value: 1
      - op: replace
        path: /spec/template/spec/containers/0/resources
        value:
          requests:
            cpu: 250m
            memory: 512Mi
          limits:
            cpu: "1"
            memory: 1Gi
      - op: add
        path: /spec/template/spec/nodeSelector
        value:
          node-role.kubernetes.io/edge: ""
      - op: add
        path: /spec/template/spec/tolerations
        value:
          - key: node-role.kubernetes.io/edge
            operator: Exists
            effect: NoSchedule
  - target:
      kind: HorizontalPodAutoscaler
    patch: |-
      $patch: delete
      apiVersion: autoscaling/v2
      kind: HorizontalPodAutoscaler
      metadata:
        name: any
""",
}


def _overlay(spec: ScaffoldSpec, stage: str, up: str, site: str | None = None) -> str:
    header = f"# Edge site {site}: one replica per model on edge nodes, small footprint, no autoscaler.\n" if site else ""
    resources = "".join(f"  - {up}/base/{name}\n" for name, _ in spec.models)
    pins = "".join(
        f"  - name: {name}\n    newName: {repo}\n    newTag: {INITIAL_VERSION}\n    digest: {initial_digest(name)}\n"
        for name, repo in spec.models
    )
    return (
        f"{header}apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: {NAMESPACE}\n"
        f"resources:\n{resources}{_PATCHES[stage]}"
        f"# Image pins: written by 'gitops-mlops promote', one commit per promotion.\nimages:\n{pins}"
    )


# ------------------------------------------------------------------ environments (Argo CD)


def _application(spec: ScaffoldSpec, site: str, server: str) -> str:
    return f"""\
# Argo CD syncs overlays/{site} to the {site} cluster.
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: ml-serving-{site}
  namespace: openshift-gitops
  labels:
    app.kubernetes.io/part-of: gitops-mlops
spec:
  project: ml-serving
  source:
    repoURL: {spec.repo_url}
    targetRevision: {spec.target_branch}
    path: overlays/{site}
  destination:
    server: {server}
    namespace: {NAMESPACE}
  syncPolicy:
    automated:
      prune: true
      selfHeal: true
    syncOptions:
      - CreateNamespace=true
"""


def _environments(spec: ScaffoldSpec) -> dict[str, str]:
    return {
        "environments/kustomization.yaml": """\
# Argo CD objects for the serving fleet; apply to the openshift-gitops namespace.
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - project.yaml
  - datacenter.yaml
  - cloud.yaml
  - edge-fleet.yaml
""",
        "environments/project.yaml": f"""\
apiVersion: argoproj.io/v1alpha1
kind: AppProject
metadata:
  name: ml-serving
  namespace: openshift-gitops
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
        "environments/datacenter.yaml": _application(spec, "datacenter", "https://kubernetes.default.svc"),
        "environments/cloud.yaml": _application(spec, "cloud", "https://api.cloud.example.com:6443"),
        "environments/edge-fleet.yaml": f"""\
# One Application per edge site: every directory under overlays/edge/ is a site,
# deployed to the Argo CD cluster of the same name.
apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata:
  name: ml-serving-edge
  namespace: openshift-gitops
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
      name: "ml-serving-edge-{{{{.path.basename}}}}"
      labels:
        app.kubernetes.io/part-of: gitops-mlops
    spec:
      project: ml-serving
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
""",
    }
