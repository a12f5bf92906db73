"""Ouroboros' common library: the event contract, the bus adapter, storage, registry, models."""
