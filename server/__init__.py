"""The live path: OSC/UDP transport, sessions on the sample clock, scheduler, engine, delivery.

The ``sideman`` command is in ``cli/``, the reference client in ``client/``, the simulator in
``eval/`` (docs/ARCHITECTURE.md)."""
