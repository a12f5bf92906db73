"""One small filter per module; `services.judge.core.build_filters` puts them in order."""
