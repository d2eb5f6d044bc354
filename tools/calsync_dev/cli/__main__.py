"""``python -m calsync_dev.cli`` = the ``calsync`` command."""

from calsync_dev.cli import main

raise SystemExit(main())
