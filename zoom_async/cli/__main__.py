"""``python -m zoom_async.cli``: the same as the ``zoom-async`` command."""

from . import main

raise SystemExit(main())
