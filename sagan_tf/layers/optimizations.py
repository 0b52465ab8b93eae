"""Removed: which form of each op runs is the model's ``ops`` setting now, not process-wide state."""

raise ImportError("sagan_tf.layers.optimizations is gone: choose the forms of the ops with the model's setting "
                  "(config key model.ops: reference | fast | auto, or ops= when building; sagan_tf.ops_choice), "
                  "e.g. model.ops: reference for what textbook() did")
