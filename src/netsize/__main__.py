"""``python -m netsize`` runs the command line."""

from netsize.cli import main

raise SystemExit(main())
