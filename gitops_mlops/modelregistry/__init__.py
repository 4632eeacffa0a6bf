"""The model registry (Kubeflow Model Registry, OpenShift AI): versions a promotion starts from, and where each runs."""
