"""The foundation: errors, names, image references, settings, output vocabulary, bounded repository reads, HTTP. Imports nothing of the tool's own above it."""
