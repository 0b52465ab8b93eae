"""Serving: the generator's SavedModel signatures for TF Serving, TFLite conversion, and the export
of a run into TF Serving's versioned layout."""
