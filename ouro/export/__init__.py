"""Export the corpus and the adapters in the formats other tools take: see `ouro export --help`."""
