"""Renders: the only code that runs kustomize, what each site renders (the render state), its cache, flattened bases, schema and serving checks, hydration."""
