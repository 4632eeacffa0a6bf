"""gitops-mlops: promote ML model image digests through a Kustomize GitOps repository."""

__version__ = "0.1.0"
