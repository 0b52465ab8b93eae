"""Evaluation: IS / FID / intra-FID (paper section 5), KID, precision/recall and density/coverage,
attention-map pictures (Figures 1 and 5), the callbacks that measure a run while it trains,
``evaluate`` (a run, an export or a shipped generator measured from Python) and the domain
classifier used as a feature model (``feature_classifier``)."""
