"""The command-line verbs, one module each: ``train``, ``sample``, ``evaluate``, ``visualize``, ``export``,
``explore`` and ``train_feature_model`` (``sagan-<verb>``, or ``python -m sagan_tf.cli.<verb>``).

The top floor of the package: argument parsing and printing live here and nowhere below. Each verb
parses its flags in plain Python (``--help`` answers without importing TensorFlow) and calls the
library, which does the same from Python: ``sagan-train`` is ``sagan_tf.Trainer``, ``sagan-sample``
draws from ``sagan_tf.load_generator``, ``sagan-evaluate`` prints ``sagan_tf.evaluate``'s result,
``sagan-export`` writes what ``sagan_tf.export`` writes, ``sagan-train-feature-model`` runs
``evaluation.feature_classifier.train_feature_model``. A ``SaganError`` becomes one ``error: ...``
line and exit status 2 (``errors.exits_cleanly``).
"""
