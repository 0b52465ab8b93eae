"""Throughput and memory harnesses (run by hand; JSON on stdout)."""
