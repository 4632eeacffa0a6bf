"""What the repository declares: gitops-mlops.yaml (stages, models, checks, holds), its sites, its Argo CD Applications, and the layout init writes."""
