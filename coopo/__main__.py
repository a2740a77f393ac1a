"""``python -m coopo``: the same command line as ``coopo``."""

import sys

from coopo.cli import main

sys.exit(main())
