"""The judge service: a pure core plus a thin NATS adapter."""
