"""Everything generated from Zoom's OpenAPI specs; nothing here is edited by hand. DO NOT EDIT.

- ``catalog_data``: the operation table behind :mod:`zoom_async.catalog`
  (``python -m codegen catalog``).
- ``api``: one module per namespace of typed methods, ``models``: their response models
  (``python -m codegen api``; naming scheme in ``docs/naming.md``).

Other generators may add modules here; each carries a DO-NOT-EDIT header naming its command.
Nothing is imported eagerly: ``zoom.<namespace>`` imports its module on first use.
"""
