"""deepbio's main script: ``python main.py --task ptm`` runs a task end to end.

Same as ``deepbio run TASK``; ``--predict FILE`` = ``deepbio predict TASK --input FILE``,
``--saliency FILE`` = ``deepbio interpret TASK --input FILE``. See README.md.
"""

import sys

from deepbio.cli import script_main

if __name__ == "__main__":
    sys.exit(script_main("main.py"))
