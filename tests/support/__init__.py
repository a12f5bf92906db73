"""Test support: what tests need that the running loop does not (the tiny model, config files)."""
