"""Byte-exact YAML: strict reading into node trees that keep positions, and text edits at those positions."""
