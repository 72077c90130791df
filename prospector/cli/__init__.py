"""Command-line interface (thin click wrappers over the library)."""
