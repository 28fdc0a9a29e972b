"""`python -m bridge`: the same as the `bridge` console script."""

import sys

from bridge.cli import main

sys.exit(main())
