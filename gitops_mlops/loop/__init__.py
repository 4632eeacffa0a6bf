"""The closed loop: verify models in production with Prometheus, and act on a failed check."""
