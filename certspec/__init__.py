"""certspec: declarative certificate bundles for multi-environment deployments."""

__version__ = "0.1.0"
