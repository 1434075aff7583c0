"""Typed models of every webhook event Zoom documents.

Each event is a pydantic model named after it (``meeting.started`` ->
:class:`MeetingStartedEvent`), with ``event`` as a ``Literal`` discriminator and a typed
``payload``; :data:`EVENT_MODELS` maps names to models and :data:`AnyEvent` is their
discriminated union. Use :func:`zoom_async.webhooks.parse_event` to parse a request body.

The models are generated (``python -m codegen.webhook_events``) into
:mod:`zoom_async._generated.events`; this module is their public home. Importing it takes a
moment (hundreds of models), which is why ``import zoom_async`` does not.
"""

from ._generated.events import *  # noqa: F403
from ._generated.events import __all__ as __all__
