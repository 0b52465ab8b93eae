"""sagan-explore: a local web app to explore a trained generator (paper Figures 1 and 5, interactively).

``generators`` runs an exported SavedModel (its ``generate_truncated`` and ``explore`` signatures)
or a run's Keras generator through the same functions; ``views`` computes what the page shows
(grids, class and z interpolations, the attention of one query pixel, eq. 1); ``app`` is the
FastAPI application that serves the page in ``static/`` and its JSON/PNG API; ``server`` runs it
with uvicorn; ``cli`` is the command line. Importing this package imports neither TensorFlow nor
the web framework.
"""
