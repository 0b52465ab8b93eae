"""Serving: the generator's SavedModel signatures for TF Serving, TFLite conversion, the export
of a run into TF Serving's versioned layout, and a trained generator loaded from a run, an export or
the package (``sources``, ``generators``: ``load_generator``, ``TrainedGenerator``)."""
