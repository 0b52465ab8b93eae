"""Training: the SAGAN step (hinge loss, TTUR), mixed precision and loss scaling, the EMA of G,
checkpoints, the distributed loop, callbacks, the input pipeline and the run directory."""
