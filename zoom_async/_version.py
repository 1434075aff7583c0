import platform

__version__ = "0.1.0"

# What the SDK's own HTTP clients send, so Zoom (and a proxy's logs) can tell its traffic apart
# from other httpx users'; an http_client passed in keeps its own.
USER_AGENT = f"zoom-async/{__version__} (Python {platform.python_version()})"
