"""`python -m app.cli COMMAND ...`, the same as the `semsearch` script."""

import sys

from app.cli import main

sys.exit(main())
