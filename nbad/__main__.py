"""``python -m nbad ...``: the same as the ``nbad`` console script."""
import sys

from nbad.cli import main

sys.exit(main())
