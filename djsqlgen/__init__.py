"""djsqlgen: expand-and-contract migrations for live DataJoint pipelines, generated as plain SQL."""

__version__ = "0.1.0"
