"""Data input: TFDS datasets and folders of images, turned into the batches the training step reads.

``pipeline.make_dataset`` builds the batches; ``tfds_source`` and ``image_folder`` are its two
sources; ``pixels`` converts between uint8 images and the networks' [-1, 1]; ``class_names`` names a
run's classes for sampling and serving.
"""
