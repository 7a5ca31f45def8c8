"""``python -m chainlab``: the ``chainlab`` command line (:func:`chainlab.cli.main`)."""

from __future__ import annotations

import sys

from chainlab.cli import main

if __name__ == "__main__":
    sys.exit(main())
