"""The live path: OSC/UDP transport, sessions on the sample clock, scheduler, engine, CLI."""
