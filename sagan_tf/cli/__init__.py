"""The command-line verbs, one module each: ``train``, ``sample``, ``evaluate``, ``visualize``, ``export``,
``explore`` and ``train_feature_model`` (``sagan-<verb>``, or ``python -m sagan_tf.cli.<verb>``).

The top floor of the package: argument parsing lives here and nowhere below. Each verb parses its
flags in plain Python (``--help`` answers without importing TensorFlow) and calls the library floors.
"""
