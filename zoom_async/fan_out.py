"""Run one coroutine per item of a (possibly endless) iterable, a bounded number at a time.

:func:`fan_out` (also :meth:`ZoomClient.fan_out <zoom_async.ZoomClient.fan_out>`) is the batch
job's loop: "every meeting of every user", "every participant of every past meeting"::

    async for user, meetings in zoom.fan_out(
        zoom.paginate("/users"),
        lambda u: zoom.get(f"/users/{u['id']}/meetings"),
    ):
        print(user["email"], len(meetings["meetings"]))

* At most ``concurrency`` items are in progress or finished-but-not-yet-yielded, so memory stays
  flat however long the input is: the input is read only when a place is free.
* Requests made by the coroutines go through the client's rate limiter, so the fan-out runs at
  the full rate the plan allows and no faster; ``concurrency`` only needs to cover the round trip
  (the default, 64, covers 60 requests a second at up to one second per request).
* ``ordered=False`` (default) yields results as they complete; ``ordered=True`` in input order.
* ``errors="raise"`` (default) stops at the first failure with :class:`FanOutError` (the item,
  its index, and the original exception as ``__cause__``); ``errors="collect"`` yields a
  :class:`Result` for every item instead.
* Leaving the ``async for`` (``break``, an exception, cancellation, a timeout) cancels the
  coroutines still running; their rate-limit slots and connections are given back. If you keep
  the fan-out in a variable after leaving the loop early, call :meth:`FanOut.aclose` (or use
  ``async with``) to stop the work at once.

The work runs in a background asyncio task owned by the iterator, so the caller's loop body and
the requests overlap; the helpers therefore need asyncio (anyio on asyncio is fine).
"""

from __future__ import annotations

import asyncio
import contextlib
import reprlib
import weakref
from collections import deque
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Coroutine, Iterable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Generic, Literal, Self, TypeVar, cast, overload

import anyio

from .errors import ConfigurationError, ZoomError
from .progress import ProgressCallback, ProgressUpdate, new_task_id

__all__ = ["DEFAULT_CONCURRENCY", "FanOut", "FanOutError", "Result", "fan_out"]

T = TypeVar("T")
R = TypeVar("R")
Y = TypeVar("Y")

DEFAULT_CONCURRENCY = 64
"""Default bound on items in progress at once: the rate limiter paces the requests, this only
has to cover requests in flight (rate x round trip) with room to spare."""

_repr = reprlib.Repr()
_repr.maxstring = 80
_repr.maxother = 80


class FanOutError(ZoomError):
    """One item of a :func:`fan_out` failed (with ``errors="raise"``).

    Attributes:
        item: the input item whose coroutine failed.
        index: its position in the input (0-based).

    The original exception is ``__cause__`` (also ``error``).
    """

    def __init__(self, message: str, *, item: Any, index: int, error: BaseException) -> None:
        super().__init__(message)
        self.item = item
        self.index = index
        self.error = error


@dataclass(frozen=True, slots=True)
class Result(Generic[T, R]):
    """The outcome of one item, as yielded with ``errors="collect"``.

    Example::

        async for result in zoom.fan_out(users, fetch_meetings, errors="collect"):
            if result.ok:
                save(result.item, result.value)
            else:
                log.warning("user %s failed: %s", result.item["id"], result.error)
    """

    item: T
    """The input item."""
    index: int
    """Its position in the input (0-based)."""
    value: R | None = None
    """What the coroutine returned (``None`` when it failed)."""
    error: Exception | None = None
    """What the coroutine raised, or ``None``."""

    @property
    def ok(self) -> bool:
        """``True`` when the coroutine returned normally."""
        return self.error is None

    def unwrap(self) -> R:
        """The value, or raise :class:`FanOutError` (from the original error)."""
        if self.error is not None:
            raise _item_error(self.item, self.index, self.error) from self.error
        return cast(R, self.value)


def _item_error(item: Any, index: int, error: BaseException) -> FanOutError:
    return FanOutError(
        f"fan-out item #{index} ({_repr.repr(item)}) failed: {type(error).__name__}: {error}",
        item=item,
        index=index,
        error=error,
    )


# --------------------------------------------------------------------------------------------
# Machinery shared with zoom_async.pagination
# --------------------------------------------------------------------------------------------


class _Signal:
    """A level-free notification: ``wait()`` returns after the next ``notify()``.

    Waiters check their condition, then wait; with one event loop thread nothing can happen in
    between, so no wake-up is lost.
    """

    __slots__ = ("_event",)

    def __init__(self) -> None:
        self._event = anyio.Event()

    def notify(self) -> None:
        self._event.set()
        self._event = anyio.Event()

    async def wait(self) -> None:
        await self._event.wait()


class _Background:
    """One coroutine running in its own asyncio task, owned by an iterator.

    The coroutine must not refer to the owner, so that an owner dropped by ``break`` is
    collected at once; its ``__del__`` then calls :meth:`cancel`.
    """

    __slots__ = ("_task",)

    def __init__(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            coro.close()
            raise ConfigurationError(
                "zoom-async's pagination and fan-out run background work on asyncio; "
                "iterate them inside an asyncio event loop"
            ) from None
        self._task = loop.create_task(coro, name=name)

    @property
    def done(self) -> bool:
        return self._task.done()

    def cancel(self) -> None:
        """Ask the task to stop (safe from ``__del__``, from any thread)."""
        task = self._task
        if task.done():
            return
        loop = task.get_loop()
        if loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            task.cancel()
        else:
            loop.call_soon_threadsafe(task.cancel)

    async def aclose(self) -> None:
        """Cancel the task and wait until it has finished cleaning up."""
        self.cancel()
        if not self._task.done():
            with anyio.CancelScope(shield=True):
                await asyncio.wait({self._task})
        if not self._task.cancelled():
            self._task.exception()  # retrieved: the coroutine reports errors itself


async def _close_iterator(iterator: object) -> None:
    """``aclose()`` an async iterator we opened, even while being cancelled."""
    aclose = getattr(iterator, "aclose", None)
    if aclose is not None:
        with anyio.CancelScope(shield=True), contextlib.suppress(Exception):
            await aclose()


# --------------------------------------------------------------------------------------------
# The fan-out
# --------------------------------------------------------------------------------------------


class _Slot:
    __slots__ = ("done", "error", "index", "item", "value")

    def __init__(self, index: int, item: Any) -> None:
        self.index = index
        self.item = item
        self.value: Any = None
        self.error: Exception | None = None
        self.done = False


class _State:
    """What the background task and the consumer share (never the consumer itself)."""

    def __init__(self, concurrency: int, ordered: bool, stop_on_error: bool) -> None:
        self.concurrency = concurrency
        self.ordered = ordered
        self.stop_on_error = stop_on_error
        self.queue: deque[_Slot] = deque()
        """Ordered: every started slot in input order. Unordered: finished slots."""
        self.active = 0
        """Items started and not yet yielded: the bound on memory and concurrency."""
        self.started = 0
        self.input_done = False
        self.input_error: Exception | None = None
        self.stop = False
        self.runner_done = False
        self.runner_error: BaseException | None = None
        self.signal = _Signal()


async def _run_fan_out(
    state: _State,
    source: AsyncIterable[Any] | Iterable[Any],
    fn: Callable[[Any], Awaitable[Any]],
) -> None:
    """The background task: feed items to workers while places are free."""

    async def work(slot: _Slot) -> None:
        try:
            slot.value = await fn(slot.item)
        except Exception as exc:
            slot.error = exc
            if state.stop_on_error:
                state.stop = True
        slot.done = True
        if not state.ordered:
            state.queue.append(slot)
        state.signal.notify()

    iterator: AsyncIterator[Any] | None = None
    try:
        async with anyio.create_task_group() as tg:
            try:
                if isinstance(source, AsyncIterable):
                    iterator = aiter(source)
                    items: AsyncIterator[Any] = iterator
                else:
                    items = _AsyncFromSync(source)
                while True:
                    while state.active >= state.concurrency and not state.stop:
                        await state.signal.wait()
                    if state.stop:
                        break
                    try:
                        item = await anext(items)
                    except StopAsyncIteration:
                        break
                    slot = _Slot(state.started, item)
                    state.started += 1
                    state.active += 1
                    if state.ordered:
                        state.queue.append(slot)
                    tg.start_soon(work, slot)
            except Exception as exc:
                state.input_error = exc
            finally:
                state.input_done = True
                state.signal.notify()
                if iterator is not None:
                    await _close_iterator(iterator)
    except BaseException as exc:
        state.runner_error = exc
        raise
    finally:
        state.runner_done = True
        state.signal.notify()


class _AsyncFromSync:
    """A plain iterable read as an async iterator (in the event loop's thread)."""

    __slots__ = ("_iterator",)

    def __init__(self, items: Iterable[Any]) -> None:
        self._iterator = iter(items)

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> Any:
        try:
            return next(self._iterator)
        except StopIteration:
            raise StopAsyncIteration from None


class FanOut(Generic[Y]):
    """The async iterator :func:`fan_out` returns; iterate it once.

    Yields ``(item, value)`` tuples, or :class:`Result` objects with ``errors="collect"``.
    Counters: :attr:`started`, :attr:`completed`, :attr:`failed`.

    ``async with`` (or :meth:`aclose`) guarantees the background work is stopped on exit even
    if the fan-out object is kept alive; a plain ``async for`` stops it when the loop is left.
    """

    def __init__(
        self,
        items: AsyncIterable[Any] | Iterable[Any],
        fn: Callable[[Any], Awaitable[Any]],
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
        ordered: bool = False,
        errors: Literal["raise", "collect"] = "raise",
        progress: ProgressCallback | None = None,
        total: int | None = None,
        description: str = "fan-out",
    ) -> None:
        if not isinstance(concurrency, int) or concurrency < 1:
            raise ConfigurationError(f"concurrency must be a positive int, got {concurrency!r}")
        if errors not in ("raise", "collect"):
            raise ConfigurationError(f"errors must be 'raise' or 'collect', got {errors!r}")
        if not callable(fn):
            raise ConfigurationError("fn must be a callable returning an awaitable")
        self._items = items
        self._fn = fn
        self.concurrency = concurrency
        self.ordered = ordered
        self.errors = errors
        self._progress = progress
        self._total = total
        self.description = description
        self._iterator: weakref.ref[_FanOutIterator[Y]] | None = None
        self._task_id = new_task_id()
        self._state: _State | None = None
        self.completed = 0
        """Items yielded so far (successes and, with ``errors="collect"``, failures)."""
        self.failed = 0
        """Items whose coroutine raised."""

    @property
    def started(self) -> int:
        """Items whose coroutine has been started."""
        return self._state.started if self._state is not None else 0

    def __repr__(self) -> str:
        return (
            f"FanOut(concurrency={self.concurrency}, ordered={self.ordered}, "
            f"errors={self.errors!r}, completed={self.completed}, failed={self.failed})"
        )

    def __aiter__(self) -> AsyncIterator[Y]:
        if self._iterator is not None:
            raise RuntimeError("a fan-out can be iterated only once")
        iterator = _FanOutIterator[Y](self)
        self._iterator = weakref.ref(iterator)
        return iterator

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
        """Cancel the coroutines still running and wait until they have cleaned up."""
        iterator = self._iterator() if self._iterator is not None else None
        if iterator is not None:
            await iterator.aclose()

    def total(self) -> int | None:
        """How many items the input has, when known (``total=``, ``len()``, or a paginator's
        ``total_records`` once its first page has arrived)."""
        if self._total is not None:
            return self._total
        try:
            return len(self._items)  # type: ignore[arg-type]
        except TypeError:
            pass
        known = getattr(self._items, "total_records", None)
        return known if isinstance(known, int) else None

    def _report(self, finished: bool = False) -> None:
        if self._progress is not None:
            self._progress(
                ProgressUpdate(
                    task=self._task_id,
                    description=self.description,
                    completed=self.completed,
                    total=self.total(),
                    unit="items",
                    failed=self.failed,
                    finished=finished,
                )
            )


class _FanOutIterator(Generic[Y]):
    """The consumer's side: owns the background task, which never refers back to it."""

    def __init__(self, owner: FanOut[Y]) -> None:
        self._owner = owner
        self._state: _State | None = None
        self._background: _Background | None = None
        self._finished = False

    def __del__(self) -> None:
        if self._background is not None:
            with contextlib.suppress(Exception):  # e.g. at interpreter shutdown
                self._background.cancel()

    def __aiter__(self) -> Self:
        return self

    def _start(self) -> _State:
        owner = self._owner
        state = _State(owner.concurrency, owner.ordered, owner.errors == "raise")
        self._state = owner._state = state
        self._background = _Background(
            _run_fan_out(state, owner._items, owner._fn), name=f"zoom-async {owner.description}"
        )
        return state

    async def aclose(self) -> None:
        """Stop the background work and wait for it."""
        self._finished = True
        if self._background is not None:
            await self._background.aclose()

    async def __anext__(self) -> Y:
        if self._finished:
            raise StopAsyncIteration
        state = self._state if self._state is not None else self._start()
        owner = self._owner
        try:
            while True:
                slot = self._ready(state)
                if slot is not None:
                    break
                if state.input_done and state.active == 0:
                    await self.aclose()
                    owner._report(finished=True)
                    if state.input_error is not None:
                        raise state.input_error
                    raise StopAsyncIteration
                if state.runner_done:
                    await self.aclose()
                    raise RuntimeError("the fan-out's background task ended early") from (
                        state.runner_error
                    )
                await state.signal.wait()
        except BaseException:
            if not self._finished:
                await self.aclose()
            raise
        state.active -= 1
        state.signal.notify()
        owner.completed += 1
        if slot.error is not None:
            owner.failed += 1
            if owner.errors == "raise":
                owner.completed -= 1
                await self.aclose()
                owner._report(finished=True)
                raise _item_error(slot.item, slot.index, slot.error) from slot.error
            owner._report()
            return cast(Y, Result(slot.item, slot.index, None, slot.error))
        owner._report()
        if owner.errors == "collect":
            return cast(Y, Result(slot.item, slot.index, slot.value, None))
        return cast(Y, (slot.item, slot.value))

    @staticmethod
    def _ready(state: _State) -> _Slot | None:
        queue = state.queue
        if not queue:
            return None
        if state.ordered:
            return queue.popleft() if queue[0].done else None
        return queue.popleft()


@overload
def fan_out(
    items: AsyncIterable[T] | Iterable[T],
    fn: Callable[[T], Awaitable[R]],
    *,
    concurrency: int = ...,
    ordered: bool = ...,
    errors: Literal["raise"] = ...,
    progress: ProgressCallback | None = ...,
    total: int | None = ...,
    description: str = ...,
) -> FanOut[tuple[T, R]]: ...


@overload
def fan_out(
    items: AsyncIterable[T] | Iterable[T],
    fn: Callable[[T], Awaitable[R]],
    *,
    concurrency: int = ...,
    ordered: bool = ...,
    errors: Literal["collect"],
    progress: ProgressCallback | None = ...,
    total: int | None = ...,
    description: str = ...,
) -> FanOut[Result[T, R]]: ...


def fan_out(
    items: AsyncIterable[T] | Iterable[T],
    fn: Callable[[T], Awaitable[R]],
    *,
    concurrency: int = DEFAULT_CONCURRENCY,
    ordered: bool = False,
    errors: Literal["raise", "collect"] = "raise",
    progress: ProgressCallback | None = None,
    total: int | None = None,
    description: str = "fan-out",
) -> FanOut[tuple[T, R]] | FanOut[Result[T, R]]:
    """Run ``fn(item)`` for every item, ``concurrency`` at a time, and yield the outcomes.

    Args:
        items: an iterable or async iterable (e.g. ``zoom.paginate("/users")``); read lazily,
            only as places free up, so a million items never sit in memory.
        fn: called with each item; returns an awaitable (usually a coroutine making requests).
        concurrency: at most this many items in progress or waiting to be yielded.
        ordered: yield in input order (a slow item holds back later ones, still within
            ``concurrency``) instead of as they complete.
        errors: ``"raise"``: yield ``(item, value)`` and raise :class:`FanOutError` at the first
            failure, cancelling the rest. ``"collect"``: yield a :class:`Result` per item.
        progress: a :data:`~zoom_async.progress.ProgressCallback` (see :mod:`zoom_async.progress`).
        total: the number of items, for progress (default: ``len(items)`` or the paginator's
            ``total_records``).
        description: the label of progress updates.

    Errors raised by the input itself (e.g. a
    :class:`~zoom_async.pagination.PaginationError`) are raised as they are, after the items
    read before them have been yielded.

    Example::

        async for user, meetings in fan_out(
            zoom.paginate("/users"),
            lambda u: zoom.get("/users/{userId}/meetings", path_params={"userId": u["id"]}),
            concurrency=32,
            ordered=True,
        ):
            ...
    """
    return FanOut(
        items,
        cast(Callable[[Any], Awaitable[Any]], fn),
        concurrency=concurrency,
        ordered=ordered,
        errors=errors,
        progress=progress,
        total=total,
        description=description,
    )
