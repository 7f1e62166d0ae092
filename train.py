"""Trains a task's model: cross-validation, then a final model (``model.keras``).

``python train.py --task ptm`` = ``deepbio train ptm``; see README.md.
"""

import sys

from deepbio.cli import script_main

if __name__ == "__main__":
    sys.exit(script_main("train.py"))
