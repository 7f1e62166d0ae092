"""Trains a task's model: cross-validation, then a final model (``model.keras``).

``python train.py --task ptm``; see ``python train.py --help``.
"""

import sys

from deepbio.cli import main

if __name__ == "__main__":
    sys.exit(main(script="train.py"))
