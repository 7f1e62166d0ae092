"""``python -m deepbio``: the ``deepbio`` command (see `deepbio.cli`)."""

import sys

from deepbio.cli import main

if __name__ == "__main__":
    sys.exit(main())
