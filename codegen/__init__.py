"""Code generators for zoom-async; they run at development time, never at import time.

Run one with ``python -m codegen <name>`` from the repository root:

``python -m codegen catalog``
    Read Zoom's OpenAPI specs (the directory named by ``[tool.codegen] specs`` in
    ``pyproject.toml``) and write ``zoom_async/_generated/catalog_data.py``. See
    :mod:`codegen.catalog`.

``python -m codegen api``
    Write the typed API, ``zoom_async/_generated/api/`` and ``.../models/``, named by the
    scheme of :mod:`codegen.naming` (``[tool.codegen.api]``). See :mod:`codegen.api`.

``python -m codegen fake``
    Write ``zoom_async/_generated/fake_operations.json``, what ``FakeZoom`` knows of each
    operation (status, parameters, body and answer schemas). See :mod:`codegen.fake`.
"""
