"""``python -m sideman.cli`` is the ``sideman`` command (``accelerate launch -m sideman.cli``)."""

from sideman.cli.main import main

raise SystemExit(main())
