"""deepbio's main script: ``python main.py --task ptm`` runs a task end to end.

See ``python main.py --help`` and README.md.
"""

import sys

from deepbio.cli import main

if __name__ == "__main__":
    sys.exit(main(script="main.py"))
