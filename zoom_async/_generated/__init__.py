"""Code generated from Zoom's OpenAPI specs (``python -m codegen ...``). DO NOT EDIT."""
