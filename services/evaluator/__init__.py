"""The evaluator service: a pure core plus a thin NATS adapter."""
