"""Command-line tools beside training: the domain feature model of the metrics."""
