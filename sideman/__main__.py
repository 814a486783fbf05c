"""``python -m sideman`` is the ``sideman`` command."""

from sideman.cli.main import main

raise SystemExit(main())
