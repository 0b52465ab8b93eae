"""sagan-explore: a local web app to explore a trained generator (paper Figures 1 and 5, interactively).

It serves a ``sagan_tf.serving.generators.TrainedGenerator``: an exported SavedModel (its
``generate_truncated``, ``explore`` and ``mix`` signatures) or a run's Keras generator through the
same functions. ``views`` computes what the page
shows (grids, class and z interpolations, the attention of one query pixel, eq. 1) in bounded
generator calls; ``app`` is the FastAPI application that serves the page in ``static/`` and its
JSON/PNG API; ``limits`` holds its bounds, ``budget`` counts the images in flight across requests,
``hosts`` refuses requests for host names it does not serve (DNS rebinding); ``server`` runs it with
uvicorn; ``cli`` is the command line. Importing this package imports neither TensorFlow nor the
web framework.
"""
