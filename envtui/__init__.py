"""envtui: see into uv's cache, prune it safely, rebuild what is stale."""

__version__ = "0.1.0"
