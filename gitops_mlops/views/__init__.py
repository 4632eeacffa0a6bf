"""Read-only views: status, history, rendered differences, one site's render."""
