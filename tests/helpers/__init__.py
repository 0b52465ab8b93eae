"""Helpers shared by the tests: numpy references, tiny configs, running the verbs, test data."""

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
