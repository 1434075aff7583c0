"""Listing Zoom collections page by page, with prefetch, concurrency and checkpoints.

:meth:`ZoomClient.paginate <zoom_async.ZoomClient.paginate>` returns a :class:`Paginator`::

    async for user in zoom.paginate("/users"):                 # every item
        ...
    async for page in zoom.paginate("/users").pages():         # whole pages
        print(page.page_number, len(page), page.total_records)
    first = await zoom.paginate("/users", page_size=10)       # just the first page

What it does for you:

* finds the list key (``users``, ``meetings``, ``participants``...) from the operation catalog or
  the response, and clamps ``page_size`` to the endpoint's maximum;
* pages by ``next_page_token``, by legacy ``page_number``, or either for endpoints that take
  both; stops on an empty or missing token (a token means more, even on a page the counts call
  the last); raises :class:`PaginationLoopError` when a token repeats, and
  :class:`PaginationError` after ``max_empty_pages`` empty pages in a row, instead of looping
  forever;
* takes paging and filter parameters wherever they are given: ``params=``, the path's query
  string (``"/users?status=inactive&page_size=50"``), ``page_size=``; a ``next_page_token`` or
  ``page_number`` among them says where to start;
* while you handle page *n*, page *n + 1* is already being fetched (``prefetch`` pages ahead);
* when the number of pages is known after the first page (``page_count``, or ``total_records``
  and ``page_size``) and the endpoint takes ``page_number``, the remaining pages are fetched
  ``concurrency`` at a time, still within the rate limits, and yielded in order;
* keeps a :class:`Checkpoint` (token, page number, offset in the page) so a long job can save its
  position and resume; a ``next_page_token`` lives about 15 minutes, so a token is never left
  waiting longer than ``token_max_age`` (the next page is fetched even if you are behind), and a
  token that did expire raises :class:`~zoom_async.errors.PageTokenExpired` carrying the
  checkpoint;
* leaving the loop (``break``, an exception, cancellation, a timeout) cancels the page fetches
  in progress and gives back their connections and rate-limit slots.

Errors while fetching a page are raised as :class:`PaginationError` (the original error is
``__cause__``) carrying the page number and the checkpoint to resume from.
"""

from __future__ import annotations

import contextlib
import logging
import math
import weakref
from collections import deque
from collections.abc import AsyncIterator, Callable, Generator, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any, Generic, Literal, Self, TypeVar

import anyio

from . import catalog
from ._inputs import merge_query, split_query
from .clock import Clock
from .errors import BadRequestError, ConfigurationError, PageTokenExpired, ZoomError
from .fan_out import _Background, _Signal
from .progress import ProgressCallback, ProgressUpdate, new_task_id

if TYPE_CHECKING:
    from ._client import ZoomClient

__all__ = [
    "DEFAULT_MAX_EMPTY_PAGES",
    "DEFAULT_PAGE_CONCURRENCY",
    "DEFAULT_PAGE_SIZE",
    "DEFAULT_TOKEN_MAX_AGE",
    "Checkpoint",
    "Item",
    "Page",
    "PaginationError",
    "PaginationLoopError",
    "PaginationMode",
    "Paginator",
]

logger = logging.getLogger("zoom_async.pagination")

Item = dict[str, Any]
"""One element of a listing, as Zoom sends it (a JSON object)."""

ItemT = TypeVar("ItemT")
"""The type of a listing's items: :data:`Item` for :meth:`ZoomClient.paginate
<zoom_async.ZoomClient.paginate>`, a generated model for typed list methods."""

PaginationMode = Literal["auto", "token", "page_number"]
"""``"auto"``: concurrent ``page_number`` pages where the endpoint takes them and the page count
is known, else ``next_page_token``. ``"token"``: always follow ``next_page_token`` (consistent
even while the collection changes). ``"page_number"``: always number pages."""

DEFAULT_PAGE_SIZE = 300
DEFAULT_PAGE_CONCURRENCY = 4
"""Pages fetched at once when the page count is known (and the most pages held ahead of the
caller then)."""
DEFAULT_MAX_EMPTY_PAGES = 10
"""Empty pages in a row, each with a fresh ``next_page_token``, that a listing tolerates; one
more raises :class:`PaginationError` (a server that does that forever would otherwise never
end)."""
DEFAULT_TOKEN_MAX_AGE = 600.0
"""Seconds a ``next_page_token`` may wait for a slow consumer before the next page is fetched
anyway (Zoom's tokens expire after about 15 minutes)."""


class PaginationError(ZoomError):
    """Fetching a page of a listing failed.

    Attributes:
        path: the listed path (relative to the API base).
        page_number: which page failed (1-based, counted with the listing's page size).
        checkpoint: where to resume: the start of the failed page (everything before it was
            handed to the caller).

    The original error (a :class:`~zoom_async.errors.ZoomAPIError`, a connection error...) is
    ``__cause__``.
    """

    def __init__(
        self,
        message: str,
        *,
        path: str,
        page_number: int | None = None,
        checkpoint: Checkpoint | None = None,
    ) -> None:
        super().__init__(message)
        self.path = path
        self.page_number = page_number
        self.checkpoint = checkpoint


class PaginationLoopError(PaginationError):
    """The server sent a ``next_page_token`` it had sent before (or ignored ``page_number``):
    following it would never end."""


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A position in a listing, to save and later resume from.

    Resuming fetches the page given by ``next_page_token`` (or by ``page_number`` when there is
    no token) and skips the first ``offset`` items of it. Save it as JSON with :meth:`to_dict`::

        pager = zoom.paginate("/users")
        async for user in pager:
            await handle(user)
            state["users"] = pager.checkpoint.to_dict()
        ...
        resumed = zoom.paginate("/users", checkpoint=Checkpoint.from_dict(state["users"]))

    A ``next_page_token`` expires about 15 minutes after Zoom issued it (``token_issued_at``);
    for endpoints that also take ``page_number``, :meth:`by_page_number` resumes without it.
    """

    path: str
    """The listed path, relative to the API base (``/users/abc/meetings``)."""
    params: dict[str, Any] = field(default_factory=dict)
    """The query parameters other than paging ones."""
    page_size: int = DEFAULT_PAGE_SIZE
    next_page_token: str | None = None
    """The token that fetches the page to resume at (``None``: use ``page_number``)."""
    page_number: int = 1
    """The number of the page to resume at (1-based, with ``page_size``)."""
    offset: int = 0
    """How many items of that page were already handled."""
    items_seen: int = 0
    """How many items of the listing were handed out before this position."""
    done: bool = False
    """The listing is complete: nothing is left to resume."""
    token_issued_at: datetime | None = None
    """When Zoom issued ``next_page_token`` (UTC)."""

    def by_page_number(self) -> Checkpoint:
        """This position without the token: resume by ``page_number`` (for endpoints that take
        both, after :class:`~zoom_async.errors.PageTokenExpired`). Items added or removed since
        may shift what the page holds."""
        return replace(self, next_page_token=None, token_issued_at=None)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-compatible dict (see :meth:`from_dict`)."""
        return {
            "path": self.path,
            "params": dict(self.params),
            "page_size": self.page_size,
            "next_page_token": self.next_page_token,
            "page_number": self.page_number,
            "offset": self.offset,
            "items_seen": self.items_seen,
            "done": self.done,
            "token_issued_at": (
                None if self.token_issued_at is None else self.token_issued_at.isoformat()
            ),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Checkpoint:
        """The checkpoint :meth:`to_dict` saved."""
        issued = data.get("token_issued_at")
        return cls(
            path=str(data["path"]),
            params=dict(data.get("params") or {}),
            page_size=int(data.get("page_size", DEFAULT_PAGE_SIZE)),
            next_page_token=data.get("next_page_token") or None,
            page_number=int(data.get("page_number", 1)),
            offset=int(data.get("offset", 0)),
            items_seen=int(data.get("items_seen", 0)),
            done=bool(data.get("done", False)),
            token_issued_at=None if not issued else datetime.fromisoformat(str(issued)),
        )


@dataclass(frozen=True, slots=True)
class Page(Generic[ItemT]):
    """One page of a listing.

    Iterating a page iterates its items; ``len(page)`` is their number. Items are plain
    ``dict`` objects from :meth:`ZoomClient.paginate <zoom_async.ZoomClient.paginate>` and
    models from typed list methods (``raw`` keeps the body as sent).
    """

    items: list[ItemT]
    """The page's items (on the first page of a resumed listing, those after the offset)."""
    raw: dict[str, Any] = field(repr=False)
    """The decoded response body."""
    page_number: int
    """1-based position of this page in the listing (with the listing's page size)."""
    page_count: int | None
    """Zoom's ``page_count``, when sent."""
    total_records: int | None
    """Zoom's ``total_records``, when sent."""
    next_page_token: str | None
    """Zoom's ``next_page_token``; ``None`` when empty or missing."""
    checkpoint: Checkpoint = field(repr=False)
    """The position after this page: save it once the page is handled."""
    start: Checkpoint = field(repr=False)
    """The position of this page's first item: resuming there fetches this page again."""

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self) -> Iterator[ItemT]:
        return iter(self.items)

    @property
    def has_next(self) -> bool:
        """Whether more pages follow."""
        return not self.checkpoint.done


@dataclass(frozen=True, slots=True)
class _Pos:
    """Where to fetch: by token, or by number."""

    number: int
    token: str | None = None
    issued_at: datetime | None = None


@dataclass(slots=True)
class _Fetched:
    pos: _Pos
    data: dict[str, Any]
    items: list[Item]
    token: str | None
    page_count: int | None
    total_records: int | None
    received_at: datetime
    received_mono: float


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _positive_int(name: str, value: Any) -> int | None:
    """A page size or number from an argument or a query string (``"50"``), or ``None``."""
    if value is None:
        return None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigurationError(f"{name} must be a positive int, got {value!r}")
    return value


def _token_refused(exc: BadRequestError) -> bool:
    return exc.code in (300, None) and "token" in exc.message.lower()


class Paginator(Generic[ItemT]):
    """A listing: ``async for`` its items, ``.pages()`` for pages, ``await`` for the first page.

    Created by :meth:`ZoomClient.paginate <zoom_async.ZoomClient.paginate>` (see there for the
    arguments). Each ``async for`` starts the listing afresh from the start (or from
    ``checkpoint=``); :attr:`checkpoint` follows the latest iteration.

    ``async with`` guarantees the background fetches are stopped on exit even when the
    iterator is kept alive; a plain ``async for`` stops them when the loop is left.

    Example::

        pager = zoom.paginate("/past_meetings/{meetingId}/participants",
                              path_params={"meetingId": uuid}, page_size=300)
        async for participant in pager:
            ...
        print(pager.total_records)
    """

    def __init__(
        self,
        client: ZoomClient,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        path_params: Mapping[str, str | int] | None = None,
        page_size: int | None = None,
        list_key: str | None = None,
        mode: PaginationMode = "auto",
        prefetch: int = 1,
        concurrency: int = DEFAULT_PAGE_CONCURRENCY,
        checkpoint: Checkpoint | None = None,
        token_max_age: float | None = DEFAULT_TOKEN_MAX_AGE,
        progress: ProgressCallback | None = None,
        headers: Mapping[str, str] | None = None,
        item_parser: Callable[[Item], ItemT] | None = None,
        max_empty_pages: int = DEFAULT_MAX_EMPTY_PAGES,
        operation: catalog.Operation | None = None,
    ) -> None:
        if mode not in ("auto", "token", "page_number"):
            raise ConfigurationError(f"mode must be 'auto', 'token' or 'page_number', not {mode!r}")
        for name, value in (
            ("prefetch", prefetch),
            ("concurrency", concurrency),
            ("max_empty_pages", max_empty_pages),
        ):
            if not isinstance(value, int) or value < 1:
                raise ConfigurationError(f"{name} must be a positive int, got {value!r}")
        page_size = _positive_int("page_size", page_size)
        self._client = client
        self._headers = dict(headers) if headers else None
        self._item_parser = item_parser
        self.path, path_query = split_query(client._relative_path(path, path_params))
        """The listed path, relative to the client's base URL (its query string is in
        :attr:`params`)."""
        if operation is None or operation.method != "GET":
            found = catalog.match("GET", self.path)
            operation = found[0] if found else None
        self.operation: catalog.Operation | None = operation
        """The catalog's operation, or ``None`` for a path the catalog does not know."""
        op = self.operation
        self._paged = op is None or op.pagination != "none"
        # Paging and filter parameters count wherever they are given: in the path's query
        # string, in params=, or as arguments. Two different values of one are refused.
        query = merge_query(path_query, params) or {}
        in_query = _positive_int("page_size", query.pop("page_size", None))
        if in_query is not None:
            if page_size is not None and page_size != in_query:
                raise ConfigurationError(
                    f"two page sizes: page_size={page_size} and {in_query} in the query; give one"
                )
            page_size = in_query
        start_token = query.pop("next_page_token", None) or None
        if start_token is not None and not isinstance(start_token, str):
            raise ConfigurationError("next_page_token must be a string")
        start_number = _positive_int("page_number", query.pop("page_number", None))
        if start_number is not None and start_number > 1:
            if start_token is not None:
                raise ConfigurationError(
                    "both next_page_token and page_number are given: resume from one of them"
                )
            if op is not None and op.pagination == "next_page_token":
                raise ConfigurationError(
                    f"GET {op.path} pages by next_page_token only; it does not take page_number"
                )
        if checkpoint is not None:
            if checkpoint.path != self.path:
                raise ConfigurationError(
                    f"the checkpoint is for {checkpoint.path!r}, not {self.path!r}"
                )
            if start_token is not None or (start_number or 1) > 1:
                raise ConfigurationError(
                    "a checkpoint says where to resume: do not also give next_page_token or "
                    "page_number"
                )
            if page_size is not None and page_size != checkpoint.page_size:
                raise ConfigurationError(
                    f"the checkpoint was made with page_size={checkpoint.page_size}, not "
                    f"{page_size}"
                )
            if not query:
                query = dict(checkpoint.params)
            page_size = checkpoint.page_size
        if page_size is None:
            page_size = DEFAULT_PAGE_SIZE
        if op is not None and op.max_page_size is not None:
            page_size = min(page_size, op.max_page_size)
        self.page_size = page_size
        """Items per page: what was asked, clamped to the endpoint's maximum."""
        self.params: dict[str, Any] = query
        """The query parameters sent with every page (without paging ones)."""
        self.list_key = list_key or (op.list_key if op is not None else None)
        """The key of the items in each page; found from the first response when ``None``."""
        self.mode: PaginationMode = mode
        self.prefetch = prefetch
        self.concurrency = concurrency
        self.token_max_age = token_max_age
        self.max_empty_pages = max_empty_pages
        """Empty pages in a row (each with a new ``next_page_token``) tolerated; one more
        raises :class:`PaginationError` instead of following tokens forever."""
        self._progress = progress
        self._task_id = new_task_id()
        if checkpoint is None:
            checkpoint = Checkpoint(
                path=self.path,
                params=dict(query),
                page_size=page_size,
                next_page_token=start_token,
                page_number=start_number or 1,
            )
        elif checkpoint.page_size != page_size:
            raise ConfigurationError(
                f"the checkpoint's page_size {checkpoint.page_size} exceeds the endpoint's "
                f"maximum {page_size}"
            )
        self._start = checkpoint
        self._position: tuple[Page[ItemT], int] | None = None
        self._iterators: weakref.WeakSet[_PageIterator] = weakref.WeakSet()
        self.total_records: int | None = None
        """Zoom's ``total_records``, once a page has arrived (when the endpoint sends it)."""
        self.page_count: int | None = None
        """Zoom's ``page_count``, once a page has arrived (when the endpoint sends it)."""

    def __repr__(self) -> str:
        return f"Paginator(GET {self.path}, page_size={self.page_size}, mode={self.mode!r})"

    @property
    def description(self) -> str:
        """``GET <path>``, the label of progress updates."""
        return f"GET {self.path}"

    @property
    def checkpoint(self) -> Checkpoint:
        """The position of the latest iteration: after the last item (or page) handed out."""
        if self._position is None:
            return self._start
        page, index = self._position
        if index >= len(page.items):
            return page.checkpoint
        start = page.start
        return replace(start, offset=start.offset + index, items_seen=start.items_seen + index)

    # -- iteration --------------------------------------------------------------------------

    def __aiter__(self) -> AsyncIterator[ItemT]:
        return _ItemIterator(self)

    def pages(self) -> AsyncIterator[Page[ItemT]]:
        """Iterate whole :class:`Page` objects instead of items.

        Example::

            async for page in zoom.paginate("/users").pages():
                print(f"page {page.page_number}/{page.page_count}: {len(page)} users")
                save(page.checkpoint)
        """
        return _PageIterator(self, items=False)

    async def collect(self, limit: int | None = None) -> list[ItemT]:
        """Every item of the listing as a list, or only the first ``limit`` of them (the
        fetches stop as soon as they are in).

        Example::

            inactive = await zoom.paginate("/users", params={"status": "inactive"}).collect()
            newest = await zoom.paginate("/users").collect(limit=10)
        """
        if limit is not None and (
            isinstance(limit, bool) or not isinstance(limit, int) or limit < 0
        ):
            raise ConfigurationError(f"limit must be an int >= 0 or None, got {limit!r}")
        items: list[ItemT] = []
        if limit == 0:
            return items
        iterator = _ItemIterator(self)
        try:
            async for item in iterator:
                items.append(item)
                if len(items) == limit:
                    break
        finally:
            await iterator.aclose()
        return items

    def __await__(self) -> Generator[Any, None, Page[ItemT]]:
        return self.first_page().__await__()

    async def first_page(self) -> Page[ItemT]:
        """Fetch only the first page (from ``checkpoint=`` when given); ``await paginator``
        does the same."""
        listing = _Listing(self)
        fetched = await listing.fetch_page(listing.start_pos)
        listing.choose_style(fetched)
        return listing.assemble(fetched)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Stop the background fetches of every iteration still open."""
        for iterator in list(self._iterators):
            await iterator.aclose()

    # -- what the iterators report ----------------------------------------------------------

    def _handed_out(self, page: Page[ItemT], index: int) -> None:
        self._position = (page, index)

    def _report(self, page: Page[Any] | None, finished: bool = False) -> None:
        if self._progress is None:
            return
        completed = (page.checkpoint if page is not None else self.checkpoint).items_seen
        self._progress(
            ProgressUpdate(
                task=self._task_id,
                description=self.description,
                completed=completed,
                total=self.total_records,
                unit="items",
                finished=finished,
            )
        )


class _Listing:
    """One run through a listing: fetching, page assembly, checkpoints, loop detection.

    It refers to the :class:`Paginator` (for settings) but never to the iterator that owns the
    background task, so an abandoned iterator is collected and its task cancelled.
    """

    def __init__(self, pager: Paginator[Any]) -> None:
        self.pager = pager
        self.client = pager._client
        self.path = pager.path
        self.page_size = pager.page_size
        self.list_key = pager.list_key
        start = pager._start
        self.start = start
        self.start_pos = _Pos(start.page_number, start.next_page_token, start.token_issued_at)
        self.items_seen = start.items_seen
        self.first = True
        self.style: Literal["token", "numbered", "single"] = "token"
        self.max_page_count: int | None = None
        self.seen_tokens: set[str] = set()
        self.empty_in_row = 0

    # -- fetching ---------------------------------------------------------------------------

    async def fetch(self, pos: _Pos) -> _Fetched:
        """One request; errors are raised as they are (see :meth:`error`)."""
        params = dict(self.pager.params)
        if self.pager._paged:
            params["page_size"] = self.page_size
        if pos.token:
            params["next_page_token"] = pos.token
        elif pos.number > 1:
            params["page_number"] = pos.number
        data = await self.client.request(
            "GET",
            self.path,
            params=params,
            headers=self.pager._headers,
            operation=self.pager.operation,
        )
        clock = self.client.clock
        received_at, received_mono = clock.utcnow(), clock.monotonic()
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise PaginationError(
                f"GET {self.path} answered with {type(data).__name__}, not a JSON object",
                path=self.path,
                page_number=pos.number,
            )
        key = self.list_key or self._find_list_key(data)
        raw_items = data.get(key) if key is not None else None
        if raw_items is None:
            raw_items = []
        if not isinstance(raw_items, list):
            raise PaginationError(
                f"GET {self.path}: {key!r} is a {type(raw_items).__name__}, not a list; "
                "pass list_key=",
                path=self.path,
                page_number=pos.number,
            )
        token = data.get("next_page_token")
        return _Fetched(
            pos=pos,
            data=data,
            items=raw_items,
            token=token if isinstance(token, str) and token else None,
            page_count=_int_or_none(data.get("page_count")),
            total_records=_int_or_none(data.get("total_records")),
            received_at=received_at,
            received_mono=received_mono,
        )

    async def fetch_page(self, pos: _Pos) -> _Fetched:
        """:meth:`fetch`, raising :meth:`error` on failure."""
        try:
            return await self.fetch(pos)
        except Exception as exc:
            raise self.error(pos, exc) from exc

    def _find_list_key(self, data: dict[str, Any]) -> str | None:
        lists = [k for k, v in data.items() if isinstance(v, list)]
        key: str | None = None
        if len(lists) == 1:
            key = lists[0]
        elif lists:
            last = self.path.rstrip("/").rsplit("/", 1)[-1]
            if last not in lists:
                raise ConfigurationError(
                    f"GET {self.path} answers with several lists ({', '.join(lists)}); "
                    "pass list_key= to say which one holds the items"
                )
            key = last
        if key is not None:
            self.list_key = self.pager.list_key = key
        return key

    def error(self, pos: _Pos, exc: Exception) -> Exception:
        """The error to raise for a failed page: typed, with the checkpoint to resume from."""
        if isinstance(exc, ConfigurationError | PaginationError):
            if isinstance(exc, PaginationError) and exc.checkpoint is None:
                exc.checkpoint = self.start_checkpoint(pos)
            return exc
        checkpoint = self.start_checkpoint(pos)
        if pos.token and isinstance(exc, BadRequestError) and _token_refused(exc):
            return PageTokenExpired(
                f"the next_page_token for page {pos.number} of GET {self.path} is invalid or "
                f"expired (Zoom keeps them about 15 minutes): {exc.message}; the exception's "
                "checkpoint holds the position reached",
                checkpoint=checkpoint,
                status_code=exc.status_code,
                code=exc.code,
                method=exc.method,
                url=exc.url,
                headers=exc.headers,
                body=exc.body,
            )
        return PaginationError(
            f"GET {self.path}: page {pos.number} failed: {type(exc).__name__}: {exc}",
            path=self.path,
            page_number=pos.number,
            checkpoint=checkpoint,
        )

    # -- assembling pages, in order -----------------------------------------------------------

    def choose_style(self, first: _Fetched) -> None:
        """Decide, from the first page, how to reach the others."""
        pager, op = self.pager, self.pager.operation
        data = first.data
        body_size = _int_or_none(data.get("page_size"))
        if body_size is not None and 0 < body_size < self.page_size:
            # Zoom capped the page size below what we asked: count pages with its size.
            self.page_size = body_size
        count = self._page_count(first)
        if count is not None:
            self.max_page_count = count
        if not pager._paged:
            self.style = "single"
            return
        if pager.mode == "token" or first.pos.token:
            self.style = "token"
            return
        numbers_allowed = (
            op.pagination in ("page_number", "both") if op is not None else "page_number" in data
        )
        # Concurrent numbered pages need an endpoint that takes page_number, proof that it
        # honours it (page_number in the answer) and a known page count.
        concurrent = numbers_allowed and "page_number" in data and count is not None
        numbers_only = (
            (op.pagination == "page_number")
            if op is not None
            else ("page_number" in data and "next_page_token" not in data)
        )
        sequential = first.token is None and numbers_only
        self.style = (
            "numbered" if pager.mode == "page_number" or concurrent or sequential else "token"
        )

    def _page_count(self, fetched: _Fetched) -> int | None:
        if fetched.page_count is not None:
            return fetched.page_count
        if fetched.total_records is not None:
            return math.ceil(fetched.total_records / self.page_size)
        return None

    def start_checkpoint(self, pos: _Pos) -> Checkpoint:
        """The position before the first item of the page at ``pos`` (pages before it done)."""
        return Checkpoint(
            path=self.path,
            params=dict(self.pager.params),
            page_size=self.page_size,
            next_page_token=pos.token,
            page_number=pos.number,
            offset=self.start.offset if self.first else 0,
            items_seen=self.items_seen,
            token_issued_at=pos.issued_at if pos.token else None,
        )

    def assemble(self, fetched: _Fetched) -> Page[Any]:
        """Turn a response into a :class:`Page`; call in listing order."""
        pos = fetched.pos
        start = self.start_checkpoint(pos)
        items = fetched.items
        if self.first and start.offset:
            items = items[start.offset :]
        self.first = False
        count = self._page_count(fetched)
        if count is not None and (self.max_page_count is None or count > self.max_page_count):
            self.max_page_count = count
        if fetched.total_records is not None:
            self.pager.total_records = fetched.total_records
        if fetched.page_count is not None or count is not None:
            self.pager.page_count = self.max_page_count
        next_token: str | None = None
        if self.style == "single":
            done = True
        elif self.style == "token":
            if pos.token:
                self.seen_tokens.add(pos.token)
            next_token = fetched.token
            if next_token is not None and next_token in self.seen_tokens:
                raise PaginationLoopError(
                    f"GET {self.path}: page {pos.number} sent a next_page_token that was already "
                    "used; following it would repeat pages forever",
                    path=self.path,
                    page_number=pos.number,
                    checkpoint=start,
                )
            done = next_token is None
            if done:
                self._note_end(pos, len(items))
        else:
            answered = _int_or_none(fetched.data.get("page_number"))
            if pos.number > 1 and answered is not None and answered != pos.number:
                raise PaginationLoopError(
                    f"GET {self.path}: asked for page_number {pos.number} but got page "
                    f"{answered}; the endpoint ignores page_number, use mode='token'",
                    path=self.path,
                    page_number=pos.number,
                    checkpoint=start,
                )
            if self.max_page_count is not None:
                done = not fetched.items or pos.number >= self.max_page_count
            else:
                done = len(fetched.items) < self.page_size
            if done and fetched.token is not None and fetched.token not in self.seen_tokens:
                # The counts say this was the last page, but Zoom sent a next_page_token: a
                # token means more, so follow it (tokens win over counts).
                logger.debug(
                    "GET %s: page %d ends the count but carries a next_page_token; following it",
                    self.path,
                    pos.number,
                )
                self.style = "token"
                next_token = fetched.token
                done = False
            elif done:
                self._note_end(pos, len(items))
        if done or fetched.items:
            self.empty_in_row = 0
        else:
            self.empty_in_row += 1
            if self.empty_in_row > self.pager.max_empty_pages:
                raise PaginationError(
                    f"GET {self.path}: {self.empty_in_row} empty pages in a row, each pointing to "
                    "another; stopping instead of following them forever (max_empty_pages="
                    f"{self.pager.max_empty_pages})",
                    path=self.path,
                    page_number=pos.number,
                    checkpoint=start,
                )
        self.items_seen += len(items)
        parse = self.pager._item_parser
        if parse is not None:
            items = [parse(item) for item in items]
        after = Checkpoint(
            path=self.path,
            params=start.params,
            page_size=self.page_size,
            next_page_token=next_token,
            page_number=pos.number + 1,
            offset=0,
            items_seen=self.items_seen,
            done=done,
            token_issued_at=fetched.received_at if next_token else None,
        )
        return Page(
            items=items,
            raw=fetched.data,
            page_number=pos.number,
            page_count=fetched.page_count,
            total_records=fetched.total_records,
            next_page_token=fetched.token,
            checkpoint=after,
            start=start,
        )

    def _note_end(self, pos: _Pos, handed: int) -> None:
        """The listing ends here: say so when the counts promised more items."""
        total = self.pager.total_records
        seen = self.items_seen + handed
        if total is not None and seen < total and not self.start.items_seen:
            logger.warning(
                "GET %s ended at page %d with %d items, but total_records said %d (no "
                "next_page_token, so there is nothing more to fetch)",
                self.path,
                pos.number,
                seen,
                total,
            )

    # -- the background task ----------------------------------------------------------------

    async def run(self, channel: _Channel) -> None:
        """Fetch every page into ``channel``, in order."""
        fetched = await self.fetch_page(self.start_pos)
        self.choose_style(fetched)
        page = self.assemble(fetched)
        channel.put(page)
        if page.checkpoint.done:
            return
        received = fetched.received_mono
        if self.style == "numbered" and self.max_page_count is not None:
            page, received = await self._run_numbered(channel, page, received)
        if not page.checkpoint.done:
            # Token paging, or numbered pages that ended in a next_page_token (tokens win).
            await self._run_sequential(channel, page, received)

    async def _run_sequential(self, channel: _Channel, page: Page[Any], received: float) -> None:
        token_max_age = self.pager.token_max_age
        while not page.checkpoint.done:
            deadline = None
            if self.style == "token" and token_max_age is not None:
                deadline = received + token_max_age
            await channel.wait_for_room(self.client.clock, deadline)
            after = page.checkpoint
            pos = _Pos(after.page_number, after.next_page_token, after.token_issued_at)
            fetched = await self.fetch_page(pos)
            page = self.assemble(fetched)
            received = fetched.received_mono
            channel.put(page)

    async def _run_numbered(
        self, channel: _Channel, page: Page[Any], received: float
    ) -> tuple[Page[Any], float]:
        """Numbered pages until done or a page hands over to its token; the last page."""
        while (
            self.style == "numbered"
            and not page.checkpoint.done
            and self.max_page_count is not None
            and page.page_number < self.max_page_count
        ):
            page, received = await self._numbered_round(
                channel, page.page_number + 1, self.max_page_count, page, received
            )
        return page, received

    async def _numbered_round(
        self, channel: _Channel, first: int, last: int, page: Page[Any], received: float
    ) -> tuple[Page[Any], float]:
        """Fetch pages ``first..last`` concurrently; deliver them in order; return the last
        delivered (done, or handing over to a ``next_page_token``, or ``last``).

        A page is started only while fewer than ``channel.window`` pages are ahead of the one
        the caller has (in flight, or fetched and waiting). The window starts at ``prefetch``
        and doubles, up to ``max(concurrency, prefetch)``, each time the caller has to wait for
        a page: a caller slower than the network keeps ``prefetch`` pages ahead, a fast one
        gets ``concurrency`` requests at once.
        """
        slots: deque[_PageSlot] = deque()
        failure: Exception | None = None

        async def fetch_into(slot: _PageSlot) -> None:
            try:
                slot.fetched = await self.fetch(slot.pos)
            except Exception as exc:
                slot.error = exc
            slot.done.set()
            channel.signal.notify()

        async def start_all() -> None:
            for number in range(first, last + 1):
                while number - channel.last_taken > channel.window:
                    await channel.signal.wait()
                slot = _PageSlot(_Pos(number))
                slots.append(slot)
                channel.signal.notify()
                tg.start_soon(fetch_into, slot)

        async with anyio.create_task_group() as tg:
            tg.start_soon(start_all)
            try:
                for _ in range(first, last + 1):
                    while not slots or not slots[0].done.is_set():
                        await channel.signal.wait()
                    slot = slots.popleft()
                    if slot.error is not None:
                        raise self.error(slot.pos, slot.error) from slot.error
                    assert slot.fetched is not None
                    page = self.assemble(slot.fetched)
                    received = slot.fetched.received_mono
                    channel.put(page)
                    if page.checkpoint.done or self.style != "numbered":
                        break
            except Exception as exc:
                failure = exc
            tg.cancel_scope.cancel()
        if failure is not None:
            raise failure
        return page, received


class _PageSlot:
    __slots__ = ("done", "error", "fetched", "pos")

    def __init__(self, pos: _Pos) -> None:
        self.pos = pos
        self.fetched: _Fetched | None = None
        self.error: Exception | None = None
        self.done = anyio.Event()


class _Channel:
    """Pages from the background task to the consumer, in order; ``capacity`` pages ahead."""

    def __init__(self, capacity: int, max_window: int) -> None:
        self.capacity = capacity
        self.buffer: deque[Page[Any]] = deque()
        self.last_taken = 0
        """The ``page_number`` of the page the caller took last."""
        self.window = capacity
        """Pages numbered listings may have ahead of the caller (see ``_numbered_round``)."""
        self.max_window = max(max_window, capacity)
        self.ended = False
        self.error: Exception | None = None
        self.runner_done = False
        self.signal = _Signal()

    def put(self, page: Page[Any]) -> None:
        self.buffer.append(page)
        self.signal.notify()

    async def wait_for_room(self, clock: Clock, deadline: float | None = None) -> None:
        """Until fewer than ``capacity`` pages wait, or ``deadline`` (clock time) passes."""
        if deadline is None:
            while len(self.buffer) >= self.capacity:
                await self.signal.wait()
            return
        with anyio.move_on_after(max(0.0, deadline - clock.monotonic())):
            while len(self.buffer) >= self.capacity:
                await self.signal.wait()

    async def get(self) -> Page[Any]:
        if not self.buffer and self.last_taken and self.error is None and not self.ended:
            # The caller is faster than the pages come: allow more of them at once.
            self.window = min(self.max_window, self.window * 2)
            self.signal.notify()
        while not self.buffer:
            if self.error is not None:
                raise self.error
            if self.ended:
                raise StopAsyncIteration
            if self.runner_done:
                raise RuntimeError("the listing's background task ended early")
            await self.signal.wait()
        page = self.buffer.popleft()
        self.last_taken = page.page_number
        self.signal.notify()
        return page


async def _run_listing(listing: _Listing, channel: _Channel) -> None:
    """The background task of one iteration."""
    try:
        await listing.run(channel)
        channel.ended = True
    except Exception as exc:
        channel.error = exc
    finally:
        channel.runner_done = True
        channel.signal.notify()


class _PageIterator:
    """Pages of one iteration; owns the background task (which never refers back to it)."""

    def __init__(self, pager: Paginator[Any], *, items: bool) -> None:
        self._pager = pager
        self._items = items
        self._channel: _Channel | None = None
        self._background: _Background | None = None
        self._finished = False
        pager._iterators.add(self)

    def __del__(self) -> None:
        if self._background is not None:
            with contextlib.suppress(Exception):  # e.g. at interpreter shutdown
                self._background.cancel()

    def __aiter__(self) -> Self:
        return self

    async def aclose(self) -> None:
        """Stop the background fetches and wait for them to clean up."""
        self._finished = True
        if self._background is not None:
            await self._background.aclose()

    async def __anext__(self) -> Page[Any]:
        if self._finished:
            raise StopAsyncIteration
        pager = self._pager
        channel = self._channel
        if channel is None:
            channel = self._channel = _Channel(pager.prefetch, pager.concurrency)
            pager._position = None
            self._background = _Background(
                _run_listing(_Listing(pager), channel), name=f"zoom-async {pager.description}"
            )
        try:
            page = await channel.get()
        except StopAsyncIteration:
            await self.aclose()
            pager._report(None, finished=True)
            raise
        except BaseException:
            await self.aclose()
            raise
        pager._handed_out(page, 0 if self._items else len(page.items))
        pager._report(page)
        return page


class _ItemIterator:
    """Items of one iteration, page after page."""

    def __init__(self, pager: Paginator[Any]) -> None:
        self._pager = pager
        self._pages = _PageIterator(pager, items=True)
        self._page: Page[Any] | None = None
        self._index = 0

    def __aiter__(self) -> Self:
        return self

    async def aclose(self) -> None:
        """Stop the background fetches and wait for them to clean up."""
        await self._pages.aclose()

    async def __anext__(self) -> Any:
        if self._pages._finished:
            raise StopAsyncIteration
        page = self._page
        while page is None or self._index >= len(page.items):
            page = self._page = await self._pages.__anext__()
            self._index = 0
        item = page.items[self._index]
        self._index += 1
        self._pager._handed_out(page, self._index)
        return item
