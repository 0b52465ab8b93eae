"""Time of the feature-set metrics (KID, precision/recall, density/coverage) on Gaussian features.

``python -m benchmarks.feature_set_metrics [--sizes 2000 6000] [--dim 2048] [--kid-subsets 100]``

For each size N: N real and N generated feature vectors of dimension ``--dim`` (standard normal, and
standard normal shifted by 0.05), then the seconds of all four neighbour metrics together
(``manifold_metrics``, k = 3 and 5) and of KID (``--kid-subsets`` subsets of 1000). The time of the
neighbour metrics grows with N x N (the pairwise distances); KID's with the subsets. Printed: JSON.
"""

from __future__ import annotations

import argparse
import json
import time


def main(argv: list[str] | None = None) -> None:
    import numpy as np

    from benchmarks.common import environment, load_average
    from sagan_tf.evaluation.metrics import kid, manifold_metrics

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[2000, 6000])
    p.add_argument("--dim", type=int, default=2048)
    p.add_argument("--kid-subsets", type=int, default=100)
    args = p.parse_args(argv)
    rng = np.random.default_rng(0)
    rows = []
    for n in args.sizes:
        real = rng.standard_normal((n, args.dim)).astype(np.float32)
        fake = (rng.standard_normal((n, args.dim)) + 0.05).astype(np.float32)
        start = time.perf_counter()
        values = manifold_metrics(real, fake, ["precision", "recall", "density", "coverage"], k_pr=3, k_dc=5)
        neighbours = time.perf_counter() - start
        start = time.perf_counter()
        kid_mean, _ = kid(real, fake, subset_size=1000, num_subsets=args.kid_subsets, seed=0)
        rows.append({
            "n": n, "dim": args.dim, "neighbour_metrics_s": round(neighbours, 2),
            "kid_s": round(time.perf_counter() - start, 2), "kid": kid_mean,
            **{k: round(v, 4) for k, v in values.items()}, "load_average": load_average(),
        })
    print(json.dumps({"benchmark": "feature_set_metrics", "environment": environment(), "precision": "float64 distances",
                      "results": rows}, indent=2))


if __name__ == "__main__":
    main()
