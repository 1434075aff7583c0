"""zoom-async: an asyncio SDK for the Zoom REST API that respects every rate limit."""

from ._version import __version__

__all__ = ["__version__"]
