"""``python -m spendprint.cli``."""

import sys

from . import main

sys.exit(main())
