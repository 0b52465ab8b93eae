"""A training run on disk: its directory and config (``run_dir``), its checkpoints and the callback
that writes them (``checkpointing``), and what its training cost (``record``: ``training.json``)."""
