"""Non-interactive subcommands of ``envtui``; each module has ``register`` and ``run``."""
