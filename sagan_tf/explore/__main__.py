"""python -m sagan_tf.explore: the same as sagan-explore."""

import sys

from sagan_tf.explore.cli import main

if __name__ == "__main__":
    sys.exit(main())
