"""deepbio: Keras 3 models and pipelines for deep learning on biological sequences.

Importing the package registers its custom layers and models with Keras, so a
saved ``.keras`` model of any task loads with ``keras.models.load_model``.
"""

from deepbio import layers, models  # noqa: F401  (registers custom objects)
