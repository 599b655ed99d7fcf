"""``python -m statushub.cli``, as the ``statushub`` console script."""

import sys

from statushub.cli import main

sys.exit(main())
