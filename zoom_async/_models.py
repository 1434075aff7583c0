"""The base of every generated response model."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

__all__ = ["ZoomModel"]


class ZoomModel(BaseModel):
    """A Zoom API object: unknown fields are kept, numbers are accepted for strings.

    Every generated field is optional (Zoom's documented ``required`` lists are not reliable),
    and fields Zoom adds after the model was generated are kept: read them as attributes or
    from ``model_extra``. ``model_dump(by_alias=True, exclude_unset=True)`` gives back the JSON
    as received.
    """

    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
        coerce_numbers_to_str=True,
        defer_build=True,
    )
