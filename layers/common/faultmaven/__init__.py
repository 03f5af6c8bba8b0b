"""FaultMaven: the shared library shipped as the Lambda layer and installed for local work."""

__version__ = "0.1.0"
