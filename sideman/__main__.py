"""``python -m sideman`` is the ``sideman`` command."""

from sideman.server.cli import main

raise SystemExit(main())
