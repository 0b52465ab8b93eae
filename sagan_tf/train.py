"""``python -m sagan_tf.train``: the same as ``sagan-train`` (``sagan_tf.cli.train``), for job scripts that
launch with ``python -m``."""

if __name__ == "__main__":
    import sys

    from sagan_tf.cli.train import main

    sys.exit(main())
