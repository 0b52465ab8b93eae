"""Command-line helpers that are not part of training itself."""
