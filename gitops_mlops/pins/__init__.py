"""Pins: a kustomization's image pins and an InferenceService's modelcar pin, read fast and edited in place, and their pin-invariant forms."""
