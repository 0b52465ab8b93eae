"""Evaluation: IS / FID / intra-FID (paper section 5), KID, precision/recall and density/coverage,
attention-map pictures (Figures 1 and 5) and the callbacks that measure a run while it trains."""
