"""A :class:`~zoom_async.limits.LimiterStore` in Redis: one account's limits shared by many
processes on many hosts.

Zoom counts an account's requests wherever they come from, so four uvicorn workers with an
in-memory limiter each send four times what the plan allows. With one :class:`RedisStore` per
process pointing at the same Redis, every process draws from the same windows, daily quota and
meeting quotas, and (see :mod:`zoom_async.auth`) the same access token::

    store = RedisStore.from_url("redis://localhost:6379/0")
    async with ZoomClient(plan="business_plus", store=store) as zoom:
        ...

How it keeps the guarantee
--------------------------
Each category's window is two sorted sets: the leases in flight (scored by when the lease
expires) and the requests completed (scored by completion time). A Lua script grants a slot
when fewer than ``limit`` are in flight or completed within the window -- the rule of
:mod:`zoom_async.limits`, now atomic for every process -- and it reads the time with ``TIME``
on the Redis server, never a host's clock, so hosts whose clocks differ by seconds still agree.

A slot is a lease: a process killed mid-request cannot release it, so a lease still in flight
``lease_timeout`` seconds after its grant counts as completed at that instant and leaves the
window one window later. The others regain the full rate without a restart.

A process whose request waits does not poll Redis in a loop: the script answers *when* the next
slot frees (the oldest completion leaving the window is known exactly; when every slot is in
flight none can free sooner than one window away), so each process's head waiter sleeps until
then, and a release in its own process wakes it at once.

A grant is a round trip on the request's path. While a per-second window is at most three
quarters full, a grant call also reserves one slot (a lease like the others, counted from its
grant) for this process's next request there, which takes it with no round trip; the next is
reserved in the background. One unused for half a window goes back as never sent
(``reserve=False`` turns this off).

When Redis fails
----------------
Every call is bounded by ``timeout`` (default 0.5 s). If Redis does not answer, the store raises
:class:`~zoom_async.LimiterUnavailable` and the request is not sent (fail closed), or, with
``fallback=0.25``, it limits locally to that fraction of the plan, so that several processes
falling back together stay within it: from one window after Redis stopped answering (the last
window's grants of the other processes are unknown), counting this process's Redis leases in
flight. It tries Redis again every ``retry_interval`` seconds and returns to the shared state as
soon as Redis answers, without a restart; leaving the fallback holds every window full until a
window after the last local grant any process can make, and moves the local leases in flight to
Redis.

A Redis that comes back without its data (no persistence, a flush), or a replica promoted by
a failover (replication is asynchronous: it may lack the last grants), has forgotten requests
that Zoom still counts. The namespace's epoch key, which names the replication id of the server
it was written on, tells the processes (or the server's start time tells a process that just
started): every window is then held full for one window, and each process puts back its leases
in flight and the counters it saw (:attr:`RedisStore.state_losses`). Sentinel:
``RedisStore.from_url("redis+sentinel://sentinel-1:26379,sentinel-2:26379/<service>")``.

Keys are ``zoom-async:{<namespace>}:...``; the hash tag keeps all of one namespace's keys in one
Redis Cluster slot, which the scripts need (``RedisStore.from_url(url, cluster=True)``; tested on
Redis 7, Valkey 8, a Redis Cluster and a Valkey cluster). The namespace is the account id and
app (client id) by default, so several accounts, and several apps each with its
``budget_share``, can share one Redis.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import logging
import math
import os
import re
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, Self, cast
from urllib.parse import unquote, urlsplit

import anyio

from .auth import OAuthToken
from .clock import Clock, SystemClock
from .errors import ConfigurationError, LimiterUnavailable
from .limits import InMemoryStore, LearnedShare, Lesson

if TYPE_CHECKING:
    from redis.asyncio import Redis
    from redis.asyncio.cluster import RedisCluster
    from redis.asyncio.sentinel import Sentinel
    from redis.commands.core import AsyncScript

__all__ = ["RedisStore", "RedisTokenStore"]

logger = logging.getLogger("zoom_async.redis_store")

_COUNTER_GRACE_SECONDS = 2 * 86400
"""Day counters live this long past their reset (as in InMemoryStore: a clock stepping back
into a spent day must still find its count)."""

# Times are seconds (floats). Redis converts Lua numbers to strings with 14 significant digits,
# which loses sub-millisecond precision on epoch times, so scores are formatted explicitly.
_NOW = """
local now
if ARGV[1] == '' then
  local t = redis.call('TIME')
  now = tonumber(t[1]) + tonumber(t[2]) / 1000000
else
  now = tonumber(ARGV[1])
end
"""

# What was learned of other apps' use of a lane (limits.LearnedShare, kept for every process):
# a hash {ceiling, at (the lesson's time on the store's clock), interval, cap}. The limit it
# leaves at ``now``; forgotten once probing has found the plan's limit again (limits._Learning).
_LIMIT_AT = """
local function limit_at(key, now, full)
  local v = redis.call('HMGET', key, 'ceiling', 'at', 'interval', 'cap')
  if not v[1] then return full, nil end
  local ceiling, at, interval = tonumber(v[1]), tonumber(v[2]), tonumber(v[3])
  local limit = math.min(full, ceiling)
  local steps = math.floor((now - at) / interval)
  if steps > 0 then limit = math.min(full, ceiling + steps * (steps + 1) / 2) end
  if limit >= full and now - at > 2 * interval then
    redis.call('DEL', key)
    return limit, nil
  end
  return limit, {ceiling, at, interval, tonumber(v[4])}
end
"""

# Redis can lose its data (a restart without persistence, a failover to a replica that was
# behind, FLUSHALL, eviction) and with it the last window's requests, which Zoom still counts.
# The namespace's epoch (KEYS[5]: when its state began, on the store's clock, and the
# replication id of the server it began on; no expiry) tells a process that saw another epoch
# that the state is gone; a process that saw none (it just started) learns from the server's
# start time (ARGV[6], '' = unknown) whether Redis started less than a window ago. Replication is
# asynchronous, so a replica promoted by a failover (Sentinel, Cluster) may lack the last grants
# while it has the epoch. A server's replication id is new when it is promoted and when it
# restarts (also from a snapshot or an append-only file, which may lack the last second), and is
# read by the script itself (INFO, ~5 us; the answer of the server the script runs on, whatever
# connection it came by): a state written under another id begins a new epoch. Then every window
# is held full (KEYS[6]: since when) for one window, and the longest a reservation may wait.
_EPOCH = """
local known = ARGV[5]
local state = redis.call('MGET', KEYS[5], KEYS[6])
local epoch = state[1]
local held = tonumber(state[2] or '')
local hold_from = nil
local info = redis.pcall('INFO', 'replication')
local server = type(info) == 'string' and string.match(info, '_replid:(%w+)') or ''
local began, on = nil, nil
if epoch then began, on = string.match(epoch, '^(%S+) ?(%w*)$') end
if not epoch then
  epoch = string.format('%.6f', now) .. ' ' .. server
  redis.call('SET', KEYS[5], epoch)
  if known ~= '' then hold_from = now else hold_from = tonumber(ARGV[6]) end
elseif server ~= '' and on ~= server then
  -- Written on another server, which may have had grants this one never received.
  epoch = string.format('%.6f', now) .. ' ' .. server
  redis.call('SET', KEYS[5], epoch)
  hold_from = now
elseif known ~= '' and known ~= epoch then
  -- Lost, and begun again by a process that knew no epoch: held from that beginning.
  hold_from = tonumber(began)
end
if hold_from and (not held or held < hold_from) then
  held = hold_from
  redis.call('SET', KEYS[6], string.format('%.6f', held), 'EX', 86400)
end
-- Held a window, and as long again as a reservation granted before the loss may still be used
-- (ARGV[8]): its request reaches Zoom after the loss, unseen by this state.
local hold = tonumber(ARGV[3]) + tonumber(ARGV[8])
if held and now < held + hold then
  return {0, string.format('%.6f', held + hold - now), epoch}
end
"""

_ACQUIRE = (
    """
-- KEYS: in-flight leases (score: expiry), completions (score: completion time), grants of the
-- last two windows (score: grant time), what was learned of other apps (hash), the namespace's
-- epoch, the instant windows are held full from, what the window held at each grant call of the
-- last two windows (score: its time; member: the time and the count, see _LEARN)
-- ARGV: now ('' = server TIME), the plan's limit, window, lease timeout, the epoch this process
-- knows ('' = none), the server's start ('' = unknown), the number R of releases, the longest a
-- reservation may wait for its request (seconds), a member to reserve a slot for ('' = none),
-- the fraction of the limit the window may hold after that reservation, the number U of
-- reservations used since the last call; then R pairs (completion time or '' = now, lease
-- member) of this process's leases that completed since its last call, the U reservations used,
-- then the lease members asking. Records the releases and the uses, then grants slots to the
-- members in order while the window allows (at the limit other apps leave, when one was
-- learned), and the reservation when every member was granted and the window stays at most that
-- fraction full; returns how many it granted, the seconds until the next slot may free (0 when
-- all were granted), the epoch and whether it reserved.
"""
    + _NOW
    + _LIMIT_AT
    + """
local window = tonumber(ARGV[3])
local used_from = 12 + 2 * tonumber(ARGV[7])
local first = used_from + tonumber(ARGV[11])
-- A reservation is logged as a grant (what a 429 is counted against) once its request went
-- (never one given back unused), dated when it was reserved: its lease has been in the window
-- since (its expiry tells when), which is how _LEARN counts it (ahead of the releases below,
-- which may take it out of the lease set; and of the epoch's check, which may end the script).
for i = used_from, first - 1 do
  local at = now
  local expiry = redis.call('ZSCORE', KEYS[1], ARGV[i])
  if expiry then
    at = math.min(now, tonumber(expiry) - tonumber(ARGV[4]) - tonumber(ARGV[8]))
  end
  redis.call('ZADD', KEYS[3], string.format('%.6f', at), ARGV[i])
end
if used_from > 12 then
  -- As the release script (also a lease that had expired completed now, which is later), and
  -- before the epoch's check, which may end the script.
  for i = 12, used_from - 1, 2 do
    local t = now
    if ARGV[i] ~= '' then t = tonumber(ARGV[i]) end
    redis.call('ZREM', KEYS[1], ARGV[i + 1])
    redis.call('ZADD', KEYS[2], string.format('%.6f', t), ARGV[i + 1])
  end
  redis.call('PEXPIRE', KEYS[2], math.ceil((window + 1) * 1000))
end
"""
    + _EPOCH
    + """
local limit = limit_at(KEYS[4], now, tonumber(ARGV[2]))
local lease_timeout = tonumber(ARGV[4])
-- A lease still in flight at its expiry belonged to a process that died or hangs: it counts as
-- completed at its expiry.
local now_s = string.format('%.6f', now)
local expired = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now_s, 'WITHSCORES')
if #expired > 0 then
  for i = 1, #expired, 2 do
    redis.call('ZADD', KEYS[2], expired[i + 1], expired[i])
  end
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now_s)
  redis.call('PEXPIRE', KEYS[2], math.ceil((window + 1) * 1000))
end
-- A completion at or before now - window cannot share a window with an arrival after now.
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', string.format('%.6f', now - window))
local in_flight = redis.call('ZCARD', KEYS[1])
local completed = redis.call('ZCARD', KEYS[2])
local asking = #ARGV - first + 1
local granted = limit - in_flight - completed
if granted > asking then granted = asking end
if granted < 0 then granted = 0 end
-- One slot more for this process's next request, only while the window stays well below the
-- limit (so reservations never make a busy lane wait): a lease like the others, from now.
local reserve = ARGV[9] ~= '' and granted == asking
  and in_flight + completed + granted + 1 <= math.floor(limit * tonumber(ARGV[10]))
if granted > 0 or reserve or first > used_from then
  -- What a 429 is counted against (_LEARN): what the window held before these grants, every
  -- process's requests that can still be in Zoom's window when they arrive.
  redis.call('ZADD', KEYS[7], now_s, now_s .. ' ' .. (in_flight + completed))
  -- Each redis.call costs Redis 5-20 us, and every process waits on this script: the TTLs and
  -- the grant log's trim are kept up only when the lease set's TTL (which runs on Redis's own
  -- clock, whatever the callers' clocks) no longer covers this grant's lease and a window, so
  -- about once a window, with a window to spare in every TTL.
  local left = redis.call('PTTL', KEYS[1])
  local expiry = string.format('%.6f', now + lease_timeout)
  for i = first, first + granted - 1 do
    redis.call('ZADD', KEYS[1], expiry, ARGV[i])
    redis.call('ZADD', KEYS[3], now_s, ARGV[i])
  end
  if reserve then
    -- Its request may go up to ARGV[8] seconds later: its lease lasts that much longer.
    local until_s = string.format('%.6f', now + lease_timeout + tonumber(ARGV[8]))
    redis.call('ZADD', KEYS[1], until_s, ARGV[9])
    in_flight = in_flight + 1
  end
  if left < math.ceil((lease_timeout + window + 1) * 1000) then
    redis.call('PEXPIRE', KEYS[1], math.ceil((lease_timeout + 2 * window + 1) * 1000))
    -- The grants a 429 is counted against (every process's): two windows' worth (up to one
    -- more until the next upkeep; _LEARN counts them by time).
    local horizon = '(' .. string.format('%.6f', now - 2 * window)
    for _, key in ipairs({KEYS[3], KEYS[7]}) do
      redis.call('ZREMRANGEBYSCORE', key, '-inf', horizon)
      redis.call('PEXPIRE', key, math.ceil((3 * window + 1) * 1000))
    end
  end
  in_flight = in_flight + granted
end
if granted == asking then
  return {granted, '0', epoch, reserve and 1 or 0}
end
local used = in_flight + completed
if in_flight >= limit then
  -- Only a completion can free a slot, and one completed now frees it a window from now.
  return {granted, string.format('%.6f', window), epoch}
end
-- The (used - limit)-th oldest completion must leave the window first.
local oldest = redis.call('ZRANGE', KEYS[2], used - limit, used - limit, 'WITHSCORES')
local wait = tonumber(oldest[2]) + window - now
if wait < 0.000001 then wait = 0.000001 end
return {granted, string.format('%.6f', wait), epoch}
"""
)

_RELEASE = """
-- KEYS: in-flight leases, completions. ARGV: window, then pairs of (now or '', lease member)
local server_now = nil
for i = 2, #ARGV, 2 do
  local now
  if ARGV[i] == '' then
    if server_now == nil then
      local t = redis.call('TIME')
      server_now = tonumber(t[1]) + tonumber(t[2]) / 1000000
    end
    now = server_now
  else
    now = tonumber(ARGV[i])
  end
  redis.call('ZREM', KEYS[1], ARGV[i + 1])
  -- Also when the lease had expired (it was counted completed at its expiry): it really
  -- completed now, which is later, so the later time is the one that must count.
  redis.call('ZADD', KEYS[2], string.format('%.6f', now), ARGV[i + 1])
end
redis.call('PEXPIRE', KEYS[2], math.ceil((tonumber(ARGV[1]) + 1) * 1000))
return 1
"""

_LEARN = (
    """
-- KEYS: grants (score: grant time), refusals (score: the refused request's grant time), what was
-- learned (hash), the refusals of the last lesson's cluster (score: grant time; member: the
-- seconds from grant to send and to answer, and the lease's member, separated by spaces), what
-- the window held at each grant call (score: its time; member: the time and the count)
-- ARGV: now ('' = server TIME), the answered lease's member ('' unknown), its grant time on the
-- caller's clock ('' unless the caller's clock is the store's), the plan's limit, window, the
-- first probe interval, used ('' for a 429; else X-RateLimit-Limit - Remaining), X-RateLimit-Limit,
-- the seconds from its grant to its send (limits.Lesson.send_delay; '' = 0) and to its answer
-- (limits.Lesson.answer_delay; '' = 0)
-- The steps of limits._Learning.learn, for every process at once: "ours" that can have been in
-- the window that counted the answered request (what the window held when it was granted, and
-- the grants from then up to its send, or for a 429 its answer; limits._Learning._own_in_window
-- says why) are the requests of all of them. Returns the new limit, or -1.
"""
    + _NOW
    + _LIMIT_AT
    + """
local full = tonumber(ARGV[4])
local window = tonumber(ARGV[5])
local base = tonumber(ARGV[6])
local function fmt(t) return string.format('%.6f', t) end
local g = nil
if ARGV[2] ~= '' then
  local score = redis.call('ZSCORE', KEYS[1], ARGV[2])
  if score then g = tonumber(score) end
end
if g == nil and ARGV[3] ~= '' then g = tonumber(ARGV[3]) end
local member = ARGV[2]
if member == '' and g ~= nil then member = 'at:' .. fmt(g) end
-- Seconds from its grant to its send, as the caller saw them (limits._Learning._own_in_window
-- says why they count).
local late = tonumber(ARGV[9] or '') or 0
local answered = math.max(late, tonumber(ARGV[10] or '') or 0)

-- The grant call at or right after t (up to e) and what the window held just before it, or nil
-- when none logged it (a process of an older version granted it).
local function held_before(t, e)
  local at, held = nil, nil
  for _, v in ipairs(redis.call('ZRANGEBYSCORE', KEYS[5], fmt(t), e, 'LIMIT', 0, 8)) do
    local a, n = string.match(v, '^(%S+) (%d+)$')
    a, n = tonumber(a), tonumber(n)
    if at == nil then at = a end
    -- Of calls at the same instant, the first held the fewest.
    if a == at and (held == nil or n < held) then held = n end
  end
  return at, held
end
-- Our requests that Zoom did not refuse that can have been in the window that counted the
-- request granted at t, up to t + upto: what the window held at its grant and the grants since;
-- without that count, those granted from a window and late before t.
local function own(t, late, upto)
  local e = fmt(t + upto)
  local at, held = held_before(t, e)
  local s, n
  if held then
    s = '(' .. fmt(at - window)
    n = held + redis.call('ZCOUNT', KEYS[1], fmt(at), e)
  else
    s = '(' .. fmt(t - window - late)
    n = redis.call('ZCOUNT', KEYS[1], s, e)
  end
  n = n - redis.call('ZCOUNT', KEYS[2], s, e)
  if n < 0 then n = 0 end
  return n
end
local function estimate()
  local best = 0
  local ts = redis.call('ZRANGE', KEYS[4], 0, -1, 'WITHSCORES')
  for i = 1, #ts, 2 do
    local l, u = string.match(ts[i], '^(%S+) (%S+)')
    local n = own(tonumber(ts[i + 1]), tonumber(l) or 0, tonumber(u) or 0)
    if n > best then best = n end
  end
  return best
end
local function keep(ceiling, at, interval, cap)
  redis.call('HSET', KEYS[3], 'ceiling', ceiling, 'at', fmt(at), 'interval', tostring(interval),
    'cap', cap)
  -- Lives until probing is back at the plan's limit, two intervals to spare: then it is
  -- forgotten anyway.
  local steps = 0
  while ceiling + steps * (steps + 1) / 2 < full do steps = steps + 1 end
  local ttl = math.ceil(((steps + 2) * interval + window + 1) * 1000)
  redis.call('PEXPIRE', KEYS[3], ttl)
  redis.call('PEXPIRE', KEYS[4], ttl)
end

local current, learned = limit_at(KEYS[3], now, full)
if ARGV[7] ~= '' then
  -- X-RateLimit headers: the others' share is what the window used minus ours in it.
  if g == nil then return -1 end
  local others = math.max(0, tonumber(ARGV[7]) - own(g, late, late))
    + math.max(0, full - math.min(full, tonumber(ARGV[8])))
  local share = full - others
  if share >= current then return -1 end
  local ceiling = math.max(1, share)
  keep(ceiling, now, base, learned and learned[4] or full)
  return ceiling
end
if g == nil then
  -- Nothing to count with: one request per window less, once per window.
  if learned and now - learned[2] < window then return -1 end
  local interval = learned and learned[3] or base
  redis.call('DEL', KEYS[4])
  local cap = math.max(1, current - 1)
  keep(cap, now, interval, cap)
  return cap
end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. fmt(now - 2 * window))
redis.call('ZADD', KEYS[2], fmt(g), member)
redis.call('PEXPIRE', KEYS[2], math.ceil((2 * window + 1) * 1000))
if learned and g <= learned[2] and redis.call('EXISTS', KEYS[4]) == 1 then
  -- Granted before the last lesson: the same cluster of refusals refines it.
  redis.call('ZADD', KEYS[4], fmt(g), fmt(late) .. ' ' .. fmt(answered) .. ' ' .. member)
  local ceiling = math.max(1, math.min(learned[4], estimate()))
  if ceiling == learned[1] then return -1 end
  redis.call('HSET', KEYS[3], 'ceiling', ceiling)
  return ceiling
end
local interval = base
local cap = current - 1
if learned then
  interval = learned[3]
  if current > learned[1] then
    -- A probe was refused: back to the remembered ceiling, and probe more slowly.
    interval = math.min(2 * interval, 64 * base)
    cap = math.min(cap, learned[1])
  end
end
cap = math.max(1, cap)
redis.call('DEL', KEYS[4])
redis.call('ZADD', KEYS[4], fmt(g), fmt(late) .. ' ' .. fmt(answered) .. ' ' .. member)
local ceiling = math.max(1, math.min(cap, estimate()))
keep(ceiling, now, interval, cap)
return ceiling
"""
)

_LEARNED = (
    """
-- KEYS: what was learned (hash). ARGV: now ('' = server TIME), the plan's limit
-- Returns {ceiling, age of the lesson in seconds, probe interval}, or nil.
"""
    + _NOW
    + _LIMIT_AT
    + """
local _, learned = limit_at(KEYS[1], now, tonumber(ARGV[2]))
if not learned then return false end
return {learned[1], string.format('%.6f', now - learned[2]), tostring(learned[3])}
"""
)

# Counters of a UTC day (daily quota, meeting quota). The limiter names them with its host's date;
# with the server's clock the scripts name them with the Redis server's UTC date instead
# (ARGV[1] == 'day': KEYS[1] is the name without its date), so hosts whose clocks disagree
# around midnight still count the same day. Those that change it return its name and value, which
# the store remembers for the case Redis loses them (_RESEED).
_DAY = (
    """
local key = KEYS[1]
local ttl = tonumber(ARGV[2])
if ARGV[1] == 'day' then
  local s = tonumber(redis.call('TIME')[1])
  -- days since 1970-01-01 to a civil date (H. Hinnant's algorithm)
  local z = math.floor(s / 86400) + 719468
  local era = math.floor(z / 146097)
  local doe = z - era * 146097
  local yoe = math.floor((doe - math.floor(doe / 1460) + math.floor(doe / 36524)
    - math.floor(doe / 146096)) / 365)
  local doy = doe - (365 * yoe + math.floor(yoe / 4) - math.floor(yoe / 100))
  local mp = math.floor((5 * doy + 2) / 153)
  local d = doy - math.floor((153 * mp + 2) / 5) + 1
  local m = mp < 10 and mp + 3 or mp - 9
  local y = yoe + era * 400
  if m <= 2 then y = y + 1 end
  key = key .. ':' .. string.format('%04d-%02d-%02d', y, m, d)
  ttl = 86400 - (s % 86400) + """
    + str(_COUNTER_GRACE_SECONDS)
    + """
end
local value = tonumber(redis.call('GET', key) or '0')
"""
)

_INCREMENT = (
    """
-- KEYS: counter. ARGV: 'day' or '', seconds to live, limit
"""
    + _DAY
    + """
if value >= tonumber(ARGV[3]) then return {0, key, value} end
redis.call('INCR', key)
redis.call('EXPIRE', key, ttl)
return {1, key, value + 1}
"""
)

_DECREMENT = (
    _DAY
    + """
if value > 0 then
  redis.call('DECR', key)
  value = value - 1
end
return {key, value}
"""
)

_RAISE_TO = (
    """
-- KEYS: counter. ARGV: 'day' or '', seconds to live, value
"""
    + _DAY
    + """
if value < tonumber(ARGV[3]) then
  redis.call('SET', key, ARGV[3])
  redis.call('EXPIRE', key, ttl)
  value = tonumber(ARGV[3])
end
return {key, value}
"""
)

# After Redis lost its data: each process puts back the highest value it saw of each counter
# (never lowering one), and its leases still in flight (unless released meanwhile).
_RESEED = """
-- KEYS: counters. ARGV: seconds to live, then each counter's value, in KEYS' order
for i = 1, #KEYS do
  local value = tonumber(ARGV[i + 1])
  if tonumber(redis.call('GET', KEYS[i]) or '0') < value then
    redis.call('SET', KEYS[i], value, 'EX', tonumber(ARGV[1]))
  end
end
return 1
"""

_RECLAIM = (
    """
-- KEYS: in-flight leases, completions. ARGV: now ('' = server TIME), seconds the leases have
-- left, window, then the lease members
"""
    + _NOW
    + """
local expiry = string.format('%.6f', now + tonumber(ARGV[2]))
for i = 4, #ARGV do
  if not redis.call('ZSCORE', KEYS[2], ARGV[i]) then
    redis.call('ZADD', KEYS[1], 'NX', expiry, ARGV[i])
  end
end
-- Never shortens the TTL the acquire script set (it refreshes it only once per window).
local ttl = math.ceil((tonumber(ARGV[2]) + tonumber(ARGV[3]) + 1) * 1000)
local left = redis.call('PTTL', KEYS[1])
if left == -1 or (left >= 0 and left < ttl) then redis.call('PEXPIRE', KEYS[1], ttl) end
return 1
"""
)

# Back on Redis after the local fallback granted requests that Redis knows nothing of: every
# window is held full until a window after the last local grant any process can still make
# (its next try of Redis, ARGV[2] seconds from now). Never shortens a hold.
_HOLD = (
    """
-- KEYS: the instant windows are held full from. ARGV: now ('' = server TIME), seconds from now
"""
    + _NOW
    + """
local from = now + tonumber(ARGV[2])
local held = tonumber(redis.call('GET', KEYS[1]) or '')
if not held or held < from then
  redis.call('SET', KEYS[1], string.format('%.6f', from), 'EX', 86400)
end
return 1
"""
)

_COUNT = _DAY + "return value\n"

_DATED = re.compile(r"^(.*):\d{4}-\d{2}-\d{2}$")


_SYSTEM_CLOCK = SystemClock()

_NEEDS_REDIS_PY = "RedisStore needs redis-py: pip install 'zoom-async[redis]'"


def _redis_errors() -> tuple[type[BaseException], ...]:
    try:
        from redis.exceptions import RedisClusterException, RedisError
    except ImportError:  # pragma: no cover - depends on the environment
        raise ConfigurationError(_NEEDS_REDIS_PY) from None
    # A cluster client's own errors (no reachable node, a slot not covered) do not derive from
    # RedisError: without them a cold start that cannot reach the cluster leaks a raw exception.
    return (RedisError, RedisClusterException, OSError, TimeoutError)


def _sentinel_url(url: str) -> tuple[list[tuple[str, int]], str, dict[str, Any]]:
    """The Sentinels, service name and Redis connection arguments of a ``redis+sentinel://``
    URL. Errors never repeat the URL: it may hold a password."""
    parts = urlsplit(url)
    if parts.query or parts.fragment:
        raise ConfigurationError(
            "a redis+sentinel:// URL takes no query: pass options to from_url() as keywords"
        )
    userinfo, _, hosts = parts.netloc.rpartition("@")
    sentinels: list[tuple[str, int]] = []
    for host in hosts.split(","):
        address = urlsplit("//" + host)
        try:
            port = address.port or 26379
        except ValueError:
            port = 0
        if not address.hostname or not port:
            raise ConfigurationError(
                "a redis+sentinel:// URL lists its Sentinels as host[:port],host2[:port2]"
            )
        sentinels.append((address.hostname, port))
    path = [unquote(p) for p in parts.path.split("/") if p]
    if not 1 <= len(path) <= 2 or (len(path) == 2 and not path[1].isdigit()):
        raise ConfigurationError(
            "a redis+sentinel:// URL names the service Sentinel monitors: "
            "redis+sentinel://host:26379/<service>[/<db>]"
        )
    kwargs: dict[str, Any] = {"db": int(path[1]) if len(path) == 2 else 0}
    if userinfo:
        user, colon, password = userinfo.partition(":")
        if user:
            kwargs["username"] = unquote(user)
        if colon:
            kwargs["password"] = unquote(password)
    if parts.scheme == "rediss+sentinel":
        kwargs["ssl"] = True
    return sentinels, path[0], kwargs


def _reason(exc: BaseException) -> str:
    """What went wrong, for logs and errors: the exception's type and, for an error Redis
    answered with, its code (``NOREPLICAS``, ``READONLY``, ``CLUSTERDOWN``...), never the rest
    of the message."""
    from redis.exceptions import ResponseError

    name = type(exc).__name__
    if isinstance(exc, ResponseError):
        code = str(exc).split(" ", 1)[0]
        if code.isalpha() and code.isupper() and code.lower() not in name.lower():
            return f"{name} {code}"
    return name


def _is_cluster(redis: object) -> bool:
    from redis.asyncio.cluster import RedisCluster

    return isinstance(redis, RedisCluster)


_DISCOVERY_TIMEOUT = 5.0
"""Seconds a cluster client may take to learn the cluster's layout on its first call."""

_SEEN_COUNTERS = 10_000
"""Counters a store remembers (the most recently seen) to put back if Redis loses them."""


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


_LONG_AGO = "-1e9"
"""A completion time (either clock) that is out of every window at once."""

_TAKE_BACK_FOR = 3.0
"""Seconds a take-back of a lease that a failed call may have granted keeps riding along after
the first call that carried it succeeded."""

_TAKE_BACK_AT_MOST = 2_000
"""Take-backs a store keeps per lane (the leases of the latest failed calls)."""

_LEAD = -1.0
"""Set as an ask's result to tell its caller to lead the next call."""

_RESERVE_BELOW = 0.75
"""A grant call reserves a slot for the process's next request only while the window holds at
most this fraction of the limit after it (see RedisStore's ``reserve``)."""

_ALIASES_KEPT = 4096
"""Leases served from a reservation whose member a store remembers (a 429's lesson for one
comes after its release)."""


def _reservation_age(window: float) -> float:
    """The longest a reservation of a lane with this ``window`` waits for its request: then it
    is given back unused. Only per-second lanes reserve; a state loss or the fallback waits
    this much longer, whatever this process's ``reserve``, since another's may be in use."""
    return window / 2 if window <= 1.0 else 0.0


class _Reservation:
    """A slot granted ahead of this process's next request in a lane (see ``reserve``)."""

    __slots__ = ("asked_at", "member", "timer")

    def __init__(self, member: str, asked_at: float, timer: asyncio.TimerHandle) -> None:
        self.member = member
        self.asked_at = asked_at  # the caller's clock before the call that granted it
        self.timer = timer  # gives it back unused


class _Ask:
    """One caller's request for a slot, waiting for the batch it rides in."""

    __slots__ = (
        "abandoned",
        "lease_id",
        "lease_timeout",
        "limit",
        "member",
        "now",
        "refill",
        "result",
        "window",
    )

    def __init__(
        self,
        member: str,
        lease_id: int,
        limit: int,
        window: float,
        now: float,
        lease_timeout: float,
    ) -> None:
        self.member = member
        self.lease_id = lease_id
        self.limit = limit
        self.window = window
        self.now = now
        self.lease_timeout = lease_timeout
        self.result: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self.abandoned = False
        self.refill = False  # asks for no slot: only rides for a reservation


class RedisStore:
    """Rate-limit state (and access tokens) in Redis, shared by every process that uses it.

    Create one per process (it holds a connection pool) and pass it to each
    :class:`~zoom_async.ZoomClient` as ``store=``. Needs the ``redis`` extra
    (``pip install 'zoom-async[redis]'``).

    Args:
        redis: a ``redis.asyncio.Redis`` client, or a ``redis.asyncio.cluster.RedisCluster``
            (each namespace's keys share one hash slot). Valkey works the same. :meth:`from_url`
            makes either with timeouts matching ``timeout``.
        namespace: what the keys are scoped by. Default: the account id and client id of the
            first :class:`~zoom_async.ZoomClient` given this store (``"default"`` if it has
            none, e.g. user OAuth). Processes with the same namespace share one budget.
        timeout: seconds each Redis call may take before the store gives up on it. ``None``
            leaves it to the client's own socket timeouts.
        fallback: ``None`` (default): when Redis fails, raise
            :class:`~zoom_async.LimiterUnavailable` and send nothing. A fraction such as
            ``0.25``: limit locally to that part of the plan until Redis is back (from a
            window after it stopped answering). Choose it so that all processes falling back
            at once stay within the plan (``1 / processes``).
        retry_interval: after a failure, seconds before Redis is tried again (meanwhile calls
            fail at once, or use the fallback).
        time_source: ``"server"`` (default): windows use the Redis server's clock. ``"client"``:
            the limiter's clock, for tests on a virtual-time loop, where all processes must
            share one clock.
        prefix: the first part of every key.
        lease_timeout: seconds after which a slot still in flight counts as completed, for
            every request of this store. Default: what the client asks for (its timeout plus
            a margin; see :class:`~zoom_async.limits.RateLimiter`). Shorter frees a dead
            process's slots sooner, but must stay above the longest request.
        clock: the clock the counters' expiry instants (which the limiter computes on its
            clock) are turned into lifetimes with. Default: the clock of the first
            :class:`~zoom_async.limits.RateLimiter` given this store (a ``ZoomClient``'s
            ``clock=``). With ``time_source="server"`` the daily counters live by the Redis
            server's clock instead.
        reserve: ``True`` (default): while a per-second lane's window is at most three
            quarters full, each grant call also reserves one slot for this process's next
            request in that lane, which then takes it without a Redis round trip (the refill is
            asked in the background). A reservation is a lease like any other, counted from its
            grant; one unused for half a window goes back at once. The cost: at most one idle
            slot per process per lane in use, never while the window is busier than that.
            ``False``: every request waits for its grant call.

    Example::

        store = RedisStore.from_url("redis://localhost:6379/0", fallback=0.25)
        async with ZoomClient(plan="business_plus", store=store) as zoom:
            ...
        await store.aclose()
    """

    def __init__(
        self,
        redis: Redis | RedisCluster,
        *,
        namespace: str | None = None,
        timeout: float | None = 0.5,
        fallback: float | None = None,
        retry_interval: float = 1.0,
        time_source: Literal["server", "client"] = "server",
        prefix: str = "zoom-async",
        lease_timeout: float | None = None,
        clock: Clock | None = None,
        reserve: bool = True,
    ) -> None:
        if fallback is not None and not 0 < fallback <= 1:
            raise ConfigurationError("fallback must be a fraction of the plan in (0, 1], or None")
        if timeout is not None and timeout <= 0:
            raise ConfigurationError("timeout must be positive (or None)")
        if lease_timeout is not None and not lease_timeout > 0:
            raise ConfigurationError("lease_timeout must be positive (or None)")
        if time_source not in ("server", "client"):
            raise ConfigurationError("time_source must be 'server' or 'client'")
        if "{" in prefix or "}" in prefix:
            raise ConfigurationError("prefix must not contain braces (they form the hash tag)")
        self.redis = redis
        self.namespace = namespace
        self.timeout = timeout
        self.fallback = fallback
        self.retry_interval = retry_interval
        self.time_source = time_source
        self.prefix = prefix
        self.lease_timeout = lease_timeout
        self.reserve = reserve
        self._clock = clock
        # Lease members are unique across processes and hosts.
        self._instance = f"{uuid.uuid4().hex[:12]}-{os.getpid()}"
        self._acquire: AsyncScript = redis.register_script(_ACQUIRE)
        self._learn: AsyncScript = redis.register_script(_LEARN)
        self._learned: AsyncScript = redis.register_script(_LEARNED)
        self._release: AsyncScript = redis.register_script(_RELEASE)
        self._increment: AsyncScript = redis.register_script(_INCREMENT)
        self._decrement: AsyncScript = redis.register_script(_DECREMENT)
        self._raise_to: AsyncScript = redis.register_script(_RAISE_TO)
        self._drop_token: AsyncScript = redis.register_script(_DROP_TOKEN)
        self._count: AsyncScript = redis.register_script(_COUNT)
        self._reseed: AsyncScript = redis.register_script(_RESEED)
        self._reclaim: AsyncScript = redis.register_script(_RECLAIM)
        self._hold: AsyncScript = redis.register_script(_HOLD)
        self._errors = _redis_errors()
        self._sentinel: Sentinel | None = None  # made by from_url: closed with the store
        self._cluster = _is_cluster(redis)
        self._discover = self._cluster
        # A cluster client does not wait for a free connection: past max_connections per node
        # it raises. All of a namespace's calls go to one node, so bounding them here makes
        # it wait (within the timeout) like the single-node client's blocking pool. Two are
        # left for the token locks, and for connections still closing after a timeout.
        self._connections: asyncio.Semaphore | None = None
        if self._cluster:
            kwargs = redis.get_connection_kwargs()
            per_node = int(kwargs.get("max_connections") or 100)
            self._connections = asyncio.Semaphore(max(1, per_node - 2))
        self._down_until = -math.inf
        self._local = InMemoryStore()
        self._local_leases: set[tuple[str, int]] = set()
        # Whether the fallback granted requests since the store last left it, and the lease
        # timeout of each lane's local grants (for moving them to Redis: _leave_fallback).
        self._fell_back = False
        self._failed_at = -math.inf  # when Redis last stopped answering (time.monotonic())
        self._local_lease_timeouts: dict[str, float] = {}
        self._leaving = asyncio.Lock()
        self._windows: dict[str, float] = {}
        self._asks: dict[str, list[_Ask]] = {}
        self._asking: set[str] = set()
        self._orphans: list[tuple[str, int, float]] = []
        # Per lane: (limit, instant on the limiter's clock before which no slot can free).
        # Completions only leave the window, and one completing later frees its slot later,
        # so a computed wait stays valid and waiters need not ask Redis again before it.
        self._not_before: dict[str, tuple[int, float]] = {}
        self._pending: dict[str, list[str]] = {}
        self._grant_keys: dict[str, tuple[str | None, list[str]]] = {}
        # Per lane, leases asked for in a grant call that failed, and when a call carrying
        # their take-back last succeeded (None: not yet). See _take_backs.
        self._taken_back: dict[str, dict[str, float | None]] = {}
        self._flusher: asyncio.Task[None] | None = None
        # Reserved slots (see ``reserve``): the lanes that may hold one (per-second, no daily
        # quota: told by the limiter), the one each holds, the lanes whose grant call in flight
        # asks for one, the reservations used since the lane's last call (logged as grants
        # then), and each lease served from a reservation.
        self._reservable: set[str] = set()
        self._reserved: dict[str, _Reservation] = {}
        self._reserving: set[str] = set()
        self._used: dict[str, list[str]] = {}
        self._aliases: dict[int, tuple[str, float]] = {}
        """Of each lease served from a reservation: the reservation's member, and seconds from
        the call that reserved it to its use, on the caller's clock (its grant, for a lesson,
        is that call's)."""
        self._refills: set[asyncio.Task[None]] = set()
        self._reservation_ids = 0
        self._closing = False
        self.reservations_used = 0
        """Requests granted from a reservation, without a Redis round trip."""
        self.failures = 0
        """How many Redis calls failed or timed out."""
        self.outages = 0
        """How many times Redis became unavailable (each logged once as it begins, and once
        as it ends with its length)."""
        self._failures_before = 0  # failures before the current outage
        self.fallback_grants = 0
        """Slots granted by the local fallback while Redis was unavailable."""
        self.calls = 0
        """Calls made to Redis (each one round trip): about two per request, since waiting
        needs no polling."""
        # What this process would put back if Redis lost its data: the epoch it saw per
        # namespace, its leases in flight (lane -> member -> (lease timeout, granted at, on the
        # monotonic clock)) and the last value it saw of each counter (key -> (value, when)).
        self._epochs: dict[str, str] = {}
        self._server_start: str | None = None
        self._leases: dict[str, dict[str, tuple[float, float]]] = {}
        self._seen: dict[str, tuple[int, float]] = {}
        self.state_losses = 0
        """How many times this store found that Redis had lost the shared state, or may have
        (a restart, a failover to a replica, a flush): each time every window was held full
        for one window, and this process put back its leases in flight and the counters it
        knew."""

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        namespace: str | None = None,
        timeout: float | None = 0.5,
        fallback: float | None = None,
        retry_interval: float = 1.0,
        time_source: Literal["server", "client"] = "server",
        prefix: str = "zoom-async",
        lease_timeout: float | None = None,
        max_connections: int = 16,
        cluster: bool = False,
        clock: Clock | None = None,
        reserve: bool = True,
        **redis_kwargs: Any,
    ) -> RedisStore:
        """Connect to ``url`` (``redis://``, ``rediss://``, ``unix://``; Redis or Valkey) with a
        pool of at most ``max_connections``; other keyword arguments go to
        ``redis.asyncio.BlockingConnectionPool.from_url``.

        ``redis+sentinel://[[user]:password@]host[:port][,host2[:port2]...]/<service>[/<db>]``
        (``rediss+sentinel://`` for TLS to Redis) asks the listed Sentinels (port 26379 unless
        given) for the primary of ``service`` (redis-py's ``Sentinel(...).master_for(...)``);
        the user and password are Redis's. After a failover the store reconnects to the
        promoted replica and holds every window full for one window, since the replica may lack
        the last grants (see "When Redis loses its data" in the docs). Keyword arguments go to
        ``master_for``; ``sentinel_kwargs=`` to the connections to the Sentinels (default: the
        store's ``timeout`` as their socket timeouts, e.g. add ``password`` when the Sentinels
        require one).

        With ``cluster=True``, ``url`` names any node of a Redis Cluster (or Valkey cluster):
        the client discovers the others and sends each namespace's calls to the node that owns
        its hash slot (at most ``max_connections`` calls at once, waiting within ``timeout`` for
        one to finish; other keyword arguments go to
        ``redis.asyncio.cluster.RedisCluster.from_url``).
        """
        try:
            from redis.asyncio import BlockingConnectionPool, Redis
            from redis.asyncio.cluster import RedisCluster
            from redis.asyncio.sentinel import Sentinel
        except ImportError:  # pragma: no cover - depends on the environment
            raise ConfigurationError(_NEEDS_REDIS_PY) from None
        # No socket timeout: the store bounds each of its calls by ``timeout`` itself, and
        # redis-py wraps every write of a connection with a socket timeout in a task of its own
        # (asyncio.wait_for): a sixth of a grant's client CPU, and a turn of the event loop
        # before the command leaves.
        redis_kwargs.setdefault("socket_timeout", None)
        redis_kwargs.setdefault("socket_connect_timeout", timeout)
        client: Redis | RedisCluster
        sentinel: Sentinel | None = None
        if url.startswith(("redis+sentinel://", "rediss+sentinel://")):
            if cluster:
                raise ConfigurationError("a Sentinel URL names no cluster: drop cluster=True")
            sentinels, service, master_kwargs = _sentinel_url(url)
            sentinel_kwargs = redis_kwargs.pop("sentinel_kwargs", None)
            if sentinel_kwargs is None:
                sentinel_kwargs = {"socket_timeout": timeout, "socket_connect_timeout": timeout}
            sentinel = Sentinel(sentinels, sentinel_kwargs=sentinel_kwargs)  # type: ignore[no-untyped-call]
            # Its pool does not wait for a free connection: the store keeps its calls to
            # max_connections itself (below), a few left for the token locks beside them.
            redis_kwargs.setdefault("max_connections", max_connections + 4)
            client = sentinel.master_for(service, **{**master_kwargs, **redis_kwargs})
        elif cluster:
            # The store keeps its calls to max_connections itself (see __init__); the client's
            # own cap (per node) is left higher for the token locks beside them.
            client = RedisCluster.from_url(url, **redis_kwargs)
        else:
            redis_kwargs.setdefault("max_connections", max_connections)
            # A bounded pool that waits for a free connection (within the timeout) rather than
            # failing: hundreds of requests completing together share a few connections.
            redis_kwargs.setdefault("timeout", timeout)
            pool = BlockingConnectionPool.from_url(url, **redis_kwargs)
            client = Redis.from_pool(pool)  # closes the pool with the client
        store = cls(
            client,
            namespace=namespace,
            timeout=timeout,
            fallback=fallback,
            retry_interval=retry_interval,
            time_source=time_source,
            prefix=prefix,
            lease_timeout=lease_timeout,
            clock=clock,
            reserve=reserve,
        )
        if store._connections is not None or sentinel is not None:
            store._connections = asyncio.Semaphore(max_connections)
        store._sentinel = sentinel
        return store

    def __repr__(self) -> str:
        # The client's repr may hold a password in its URL; show only the namespace.
        return f"RedisStore(namespace={self.namespace!r}, fallback={self.fallback!r})"

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def flush(self) -> None:
        """Wait until the releases made so far are sent (they go in the background: a
        request's caller does not wait for them)."""
        if self._pending and self._flusher is None:
            self._flusher = asyncio.get_running_loop().create_task(self._flush())
        flusher = self._flusher
        if flusher is not None:
            await asyncio.shield(flusher)

    async def aclose(self) -> None:
        """Give back the reserved slots and send the releases not yet sent, then close the
        Redis connections."""
        self._closing = True
        with anyio.move_on_after(self.timeout or 1.0, shield=True):
            if self._refills:
                # A refill in flight may still reserve: wait for it, then give all back.
                await asyncio.wait(list(self._refills))
            self._give_back_reservations()
            await self.flush()
        await self.redis.aclose()
        if self._sentinel is not None:
            await self._sentinel.aclose()

    def bind_clock(self, clock: Clock) -> None:
        """Called by :class:`~zoom_async.limits.RateLimiter`: measure the counters' lifetimes
        on its clock, unless a clock was given."""
        if self._clock is None:
            self._clock = clock

    def allow_reservation(self, lane: str) -> None:
        """Called by :class:`~zoom_async.limits.RateLimiter` for each lane whose window is a
        second or less and that takes no daily quota: the lanes where ``reserve`` keeps a slot
        ahead of this process's next request."""
        self._reservable.add(lane)

    def bind_account(self, account_id: str, client_id: str) -> None:
        """Called by :class:`~zoom_async.ZoomClient`: scope the keys to its account and app
        unless a namespace was given."""
        if self.namespace is None:
            self.namespace = f"{account_id}:{client_id}" if account_id else "default"

    # -- keys ------------------------------------------------------------------------------

    def key(self, *parts: str) -> str:
        """A key of this store: ``<prefix>:{<namespace>}:<parts...>``."""
        namespace = (self.namespace or "default").replace("{", "(").replace("}", ")")
        return ":".join((self.prefix, "{" + namespace + "}", *parts))

    def _now_arg(self, now: float) -> str:
        return "" if self.time_source == "server" else repr(now)

    # -- calling Redis -------------------------------------------------------------------

    def _available(self) -> bool:
        return time.monotonic() >= self._down_until

    def _failed(self, exc: BaseException) -> LimiterUnavailable:
        self.failures += 1
        self._server_start = None  # it may come back as another server
        self._give_back_reservations(send=False)  # given back when Redis answers again
        now = time.monotonic()
        reason = _reason(exc)
        if self._down_until == -math.inf:
            # It answered until now: an outage begins. Logged once, not at every retry.
            self._failed_at = now
            self._failures_before = self.failures - 1
            self.outages += 1
            logger.warning(
                "Redis limiter store unavailable (%s); %s; trying it again every %g s",
                reason,
                f"limiting locally to {self.fallback:.0%} of the plan"
                if self.fallback
                else "requests fail with LimiterUnavailable",
                self.retry_interval,
            )
        else:
            logger.debug("Redis limiter store still unavailable (%s)", reason)
        self._down_until = now + self.retry_interval
        return LimiterUnavailable(
            f"the Redis limiter store is unavailable ({reason}); the request was "
            f"not sent. It is retried every {self.retry_interval:g} s; pass "
            "RedisStore(fallback=0.25) to limit locally meanwhile."
        )

    def _unavailable(self) -> LimiterUnavailable:
        return LimiterUnavailable(
            "the Redis limiter store is unavailable (it failed less than "
            f"{self.retry_interval:g} s ago); the request was not sent."
        )

    async def _call(self, script: AsyncScript, keys: list[str], args: list[Any]) -> Any:
        return await self._bounded(script(keys=keys, args=args))

    async def _bounded(self, call: Awaitable[Any]) -> Any:
        self.calls += 1
        try:
            if self._discover:
                await self._discover_cluster()
            # asyncio's own timeout: anyio's fail_after cost as much client CPU as the rest of
            # the store's part of a grant.
            async with asyncio.timeout(self.timeout):
                if self._connections is None:
                    result = await call
                else:
                    async with self._connections:
                        result = await call
        except self._errors as exc:
            logger.debug("Redis call failed", exc_info=True)
            error = self._failed(exc)
            # Idle connections to a Redis that went away are dead: drop them, so that the
            # first calls after it comes back do not fail on them one by one.
            pool = getattr(self.redis, "connection_pool", None)
            if pool is not None:
                with anyio.move_on_after(self.timeout or 1.0), contextlib.suppress(Exception):
                    await pool.disconnect(inuse_connections=False)
            raise error from None
        finally:
            if inspect.iscoroutine(call):
                call.close()  # never started (the call timed out first): no warning
        if self._down_until != -math.inf:
            self._down_until = -math.inf
            logger.warning(
                "Redis limiter store available again after %.1f s (%d failed calls)",
                time.monotonic() - self._failed_at,
                self.failures - self._failures_before,
            )
        return result

    async def _discover_cluster(self) -> None:
        # A cluster client's first call asks a node for the slot map and the command table
        # (COMMAND: tens of milliseconds of parsing): a one-off cost that must not count
        # against a request's short timeout, or a cold start of several workers fails.
        if self.timeout is None:
            await self.redis.initialize()
        else:
            with anyio.fail_after(max(self.timeout, _DISCOVERY_TIMEOUT)):
                await self.redis.initialize()
        self._discover = False

    # -- windows ---------------------------------------------------------------------------

    def _lane_keys(self, lane: str) -> list[str]:
        return [self.key("lane", lane, "in-flight"), self.key("lane", lane, "completed")]

    def _learned_key(self, lane: str) -> str:
        return self.key("lane", lane, "learned")

    def _occupancy_key(self, lane: str) -> str:
        """What the lane's window held at each grant call of the last two windows (_LEARN)."""
        return self.key("lane", lane, "occupancy")

    def _acquire_keys(self, lane: str) -> list[str]:
        """The grant script's keys for ``lane``: built once per lane (and namespace), since a
        grant is on every request's path."""
        cached = self._grant_keys.get(lane)
        if cached is None or cached[0] != self.namespace:
            keys = [
                *self._lane_keys(lane),
                self.key("lane", lane, "grants"),
                self._learned_key(lane),
                self.key("epoch"),
                self.key("held"),
                self._occupancy_key(lane),
            ]
            cached = self._grant_keys[lane] = (self.namespace, keys)
        return cached[1]

    # -- what other apps use -----------------------------------------------------------------

    async def learn(self, lane: str, lesson: Lesson) -> int | None:
        """See :meth:`~zoom_async.limits.InMemoryStore.learn`: in one script call, counting the
        grants of every process on this Redis (on its clock) and keeping the lesson there for
        all of them. Never raises: if Redis cannot answer, the lesson holds for the local
        fallback only."""
        self._windows[lane] = lesson.window
        if self._available():
            keys = [
                self.key("lane", lane, "grants"),
                self.key("lane", lane, "refused"),
                self._learned_key(lane),
                self.key("lane", lane, "cluster"),
                self._occupancy_key(lane),
            ]
            client_time = self.time_source == "client" and lesson.granted_at is not None
            # Served from a reservation: logged as granted when it was reserved (_ACQUIRE), so
            # its send and answer are that much later after its grant.
            served = None if lesson.lease_id is None else self._aliases.get(lesson.lease_id)
            ahead = 0.0 if served is None else served[1]
            args: list[Any] = [
                self._now_arg(lesson.now),
                "" if lesson.lease_id is None else self._member_of(lesson.lease_id),
                repr(lesson.granted_at) if client_time else "",
                lesson.limit,
                repr(lesson.window),
                repr(lesson.probe_interval),
                "" if lesson.used is None else lesson.used,
                "" if lesson.zoom_limit is None else lesson.zoom_limit,
                repr(lesson.send_delay() + ahead),
                repr(lesson.answer_delay() + ahead),
            ]
            try:
                limit = int(await self._call(self._learn, keys, args))
            except LimiterUnavailable:
                pass
            else:
                if limit < 0:
                    return None
                # Reserved under the limit before this lesson: given back.
                self._give_back_reservation(lane)
                return limit
        return await self._local.learn(lane, lesson)

    async def learned(self, lane: str, limit: int, now: float) -> LearnedShare | None:
        """See :meth:`~zoom_async.limits.InMemoryStore.learned`; ``learned_at`` is moved from
        the Redis server's clock to the caller's (the lesson's age is kept)."""
        if self._available():
            try:
                value = await self._call(
                    self._learned, [self._learned_key(lane)], [self._now_arg(now), limit]
                )
            except LimiterUnavailable:
                pass
            else:
                if value is None:
                    return None
                ceiling, age, interval = value
                return LearnedShare(int(ceiling), now - float(age), float(interval))
        return await self._local.learned(lane, limit, now)

    def _fallback_limit(self, limit: int) -> int:
        """What the local fallback allows of ``limit`` while Redis is away (at least one)."""
        assert self.fallback is not None
        return max(1, math.floor(limit * self.fallback))

    async def acquire(
        self, lane: str, limit: int, window: float, now: float, lease_id: int, lease_timeout: float
    ) -> float:
        """See :meth:`~zoom_async.limits.LimiterStore.acquire`."""
        granted, delay = await self.acquire_many(
            lane, limit, window, now, (lease_id,), lease_timeout
        )
        return 0.0 if granted else delay

    async def acquire_many(
        self,
        lane: str,
        limit: int,
        window: float,
        now: float,
        lease_ids: Sequence[int],
        lease_timeout: float,
    ) -> tuple[int, float]:
        """Slots for ``lease_ids``, in order, in one script call: how many were granted and,
        when not all, the seconds until the next may free (see
        :meth:`~zoom_async.limits.InMemoryStore.acquire_many`)."""
        self._windows[lane] = window
        if self.lease_timeout is not None:
            lease_timeout = self.lease_timeout
        # This process's slot reserved by its last grant call: no round trip. (Of several
        # asked, only the first: the caller asks again at once for the rest.)
        if (
            self._reserved
            and not self._asks.get(lane)
            and self._use_reservation(lane, lease_ids[0], now, window)
        ):
            self._refill(lane, limit, window, now, lease_timeout)
            return 1, 0.0
        known = self._not_before.get(lane)
        # (A margin: a timer may fire a hair before the instant it was computed for.)
        if known is not None and known[0] == limit and known[1] - now > 1e-4:
            return 0, known[1] - now
        if self._available():
            asks = [
                _Ask(self._member(lease_id), lease_id, limit, window, now, lease_timeout)
                for lease_id in lease_ids
            ]
            try:
                if self._fell_back:
                    await self._leave_fallback(now)
                results = await self._acquire_combined(lane, asks)
            except LimiterUnavailable:
                if self.fallback is None:
                    raise
            else:
                granted = sum(1 for r in results if r == 0.0)
                if granted == len(results):
                    return granted, 0.0
                delay = results[granted]
                self._not_before[lane] = (limit, now + delay)
                return granted, delay
        if self.fallback is None:
            raise self._unavailable()
        # The account's last window is unknown here (every process granted from Redis until
        # it stopped answering): the fallback grants once a window has passed since, and
        # counts this process's Redis leases still in flight.
        # (and as long as another process's reservation granted before then may still be used)
        wait = self._failed_at + window + _reservation_age(window) - time.monotonic()
        if wait > 0:
            return 0, min(wait, self.retry_interval)
        local_limit = self._fallback_limit(limit) - len(self._leases.get(lane, ()))
        if local_limit <= 0:
            return 0, min(window, self.retry_interval)
        for granted, lease_id in enumerate(lease_ids):
            delay = await self._local.acquire(
                lane, local_limit, window, now, lease_id, lease_timeout
            )
            if delay != 0.0:
                if math.isinf(delay):
                    # Redis may be back before a local completion: look again soon.
                    delay = min(window, self.retry_interval)
                return granted, delay
            self._local_leases.add((lane, lease_id))
            self._local_lease_timeouts[lane] = lease_timeout
            self._fell_back = True
            self.fallback_grants += 1
        return len(lease_ids), 0.0

    async def _leave_fallback(self, now: float) -> None:
        """Back on Redis after the local fallback granted requests, which Zoom counts and
        Redis knows nothing of: hold every window full until a window after the last local
        grant any process can make (each tries Redis every ``retry_interval``), and move this
        process's local leases still in flight to Redis, where they count until released."""
        async with self._leaving:
            if not self._fell_back:
                return  # another lane's call did it meanwhile
            await self._call(
                self._hold, [self.key("held")], [self._now_arg(now), self.retry_interval]
            )
            moving: dict[str, list[int]] = {}
            for lane, lease_id in self._local_leases:
                moving.setdefault(lane, []).append(lease_id)
            for lane, ids in moving.items():
                left = self._local_lease_timeouts.get(lane, 300.0)
                window = repr(self._windows.get(lane, 60.0))
                members = [self._member(lease_id) for lease_id in ids]
                reclaim = [self._now_arg(now), repr(left), window, *members]
                await self._call(self._reclaim, self._lane_keys(lane), reclaim)
            moved_at = time.monotonic()
            for lane, ids in moving.items():
                leases = self._leases.setdefault(lane, {})
                for lease_id in ids:
                    member = self._member(lease_id)
                    if (lane, lease_id) in self._local_leases:
                        # From now on released in Redis (release() finds it not local).
                        self._local_leases.discard((lane, lease_id))
                        await self._local.release(lane, lease_id, now)
                        leases[member] = (self._local_lease_timeouts.get(lane, 300.0), moved_at)
                    else:
                        # Released locally while it moved: in Redis too.
                        self._pending.setdefault(lane, []).extend((self._now_arg(now), member))
            self._fell_back = False
            if self._pending and self._flusher is None:
                self._flusher = asyncio.get_running_loop().create_task(self._flush())

    async def _acquire_combined(self, lane: str, asks: list[_Ask]) -> list[float]:
        # Requests of one lane arrive in clusters. One caller at a time (the leader) sends the
        # asks queued so far in one script call, which grants them in arrival order; then the
        # first caller that queued meanwhile leads the next call. A burst of 200 costs a round
        # trip or two, not 200 one after another, and nobody waits behind later callers. One
        # caller's asks are queued together, so they ride in the same call.
        queue = self._asks.get(lane)
        if queue is None:
            queue = self._asks[lane] = []
        queue.extend(asks)
        first = asks[0]
        if lane in self._asking:
            try:
                # Shielded: a cancelled caller must not cancel the future the leader resolves.
                value = await asyncio.shield(first.result)
            except asyncio.CancelledError:
                for ask in asks:
                    self._abandon(lane, ask)
                raise
            if value is not _LEAD:
                return [ask.result.result() for ask in asks]
            if (
                len(asks) == 1
                and not first.refill
                and self._use_reservation(lane, first.lease_id, first.now, first.window)
            ):
                # The call it waited for reserved a slot: taken, and the lead passed on.
                self._pass_lead(lane, first)
                self._refill(lane, first.limit, first.window, first.now, first.lease_timeout)
                return [0.0]
            first.result = asyncio.get_running_loop().create_future()
        else:
            self._asking.add(lane)
        try:
            # Shielded: the grants of the others in the batch ride on this call.
            with anyio.CancelScope(shield=True):
                await self._send_asks(lane, self._asks.pop(lane))
        finally:
            following = self._asks.get(lane)
            if following:
                following[0].result.set_result(_LEAD)
            else:
                self._asking.discard(lane)
        return [ask.result.result() for ask in asks]

    def _abandon(self, lane: str, ask: _Ask) -> None:
        """The caller of ``ask`` was cancelled while its ask was queued or being sent."""
        ask.abandoned = True
        result = ask.result
        if not result.done():
            queue = self._asks.get(lane)
            if queue is not None and ask in queue:
                queue.remove(ask)  # not sent yet: nothing to give back
            return
        if result.exception() is not None:
            return
        if result.result() is _LEAD:
            # It was about to lead: pass that on, with its ask out of the queue.
            self._pass_lead(lane, ask)
        elif result.result() == 0.0 and not ask.refill:
            # Granted as the caller went away: free the slot rather than hold it until the
            # lease expires.
            self._orphans.append((lane, ask.lease_id, ask.now))

    def _pass_lead(self, lane: str, ask: _Ask) -> None:
        """``ask``, told to lead the lane's next call, leaves the queue: the next leads."""
        queue = self._asks.get(lane) or []
        if ask in queue:
            queue.remove(ask)
        if queue:
            queue[0].result.set_result(_LEAD)
        else:
            self._asks.pop(lane, None)
            self._asking.discard(lane)

    async def _send_asks(self, lane: str, batch: list[_Ask]) -> None:
        asks = [a for a in batch if not a.refill] if batch[-1].refill or batch[0].refill else batch
        window = batch[0].window
        age = _reservation_age(window)
        reserving = (
            self.reserve
            and lane in self._reservable
            and lane not in self._reserved
            and not self._closing
            and not self._fell_back
        )
        used = self._used.pop(lane, [])
        if not asks and not used and not reserving:
            for ask in batch:  # refills with nothing left to do
                if not ask.result.done():
                    ask.result.set_result(0.0)
            return
        keys = self._acquire_keys(lane)
        epoch_key = keys[4]
        known = self._epochs.get(epoch_key, "")
        asked_at = max(a.now for a in batch)
        args: list[Any] = [
            self._now_arg(asked_at),
            min(a.limit for a in batch),
            repr(window),
            max(a.lease_timeout for a in batch),
            known,
            "" if known else await self._server_started(),
        ]
        member = ""
        if reserving:
            self._reservation_ids += 1
            member = f"{self._instance}:r{self._reservation_ids}"
        # This lane's releases not yet sent ride in the same call, ahead of the asks, and so
        # do the take-backs of leases a failed call may have granted, and the reservations
        # used since the last call (their requests went: counted as grants from now).
        releases = self._pending.pop(lane, [])
        take_backs = self._take_backs(lane)
        args += [(len(releases) + len(take_backs)) // 2, repr(age), member]
        args += [repr(_RESERVE_BELOW) if member else "", len(used)]
        args += [*releases, *take_backs, *used]
        args += [a.member for a in asks]
        if member:
            self._reserving.add(lane)
        try:
            result = await self._call(self._acquire, keys, args)
        except LimiterUnavailable as exc:
            # Redis may still run this call: one that timed out runs when Redis catches up (a
            # stall, a slow command), granting leases nobody holds, which would keep their slots
            # for lease_timeout. They are taken back, and the releases sent again, later.
            if releases:
                self._pending[lane] = releases + self._pending.get(lane, [])
            if used:
                self._used[lane] = used + self._used.get(lane, [])
            asked = self._taken_back.setdefault(lane, {})
            for name in [*(a.member for a in asks), *([member] if member else [])]:
                asked[name] = None
                if len(asked) > _TAKE_BACK_AT_MOST:  # a long outage: the oldest expire there
                    del asked[next(iter(asked))]
            for ask in batch:
                if not ask.result.done():
                    ask.result.set_exception(exc)
                    ask.result.exception()  # retrieved: an abandoned ask logs nothing
            return
        finally:
            self._reserving.discard(lane)
        self._took_back(lane)
        granted = int(result[0])
        delay = float(result[1])
        self._epochs[epoch_key] = epoch = _text(result[2])
        leases = self._leases.get(lane)
        if leases is None:
            leases = self._leases[lane] = {}
        granted_at = time.monotonic()
        for i, ask in enumerate(asks):
            value = 0.0 if i < granted else delay
            if value == 0.0:
                leases[ask.member] = (ask.lease_timeout, granted_at)
            if ask.abandoned:
                if value == 0.0:
                    self._orphans.append((lane, ask.lease_id, ask.now))
            elif not ask.result.done():
                ask.result.set_result(value)
        if len(asks) < len(batch):
            for ask in batch:
                if ask.refill and not ask.result.done():
                    ask.result.set_result(0.0)
        if member and len(result) > 3 and int(result[3]):
            leases[member] = (args[3] + age, granted_at)
            if self._closing or lane in self._reserved or not self._available():
                self._give_back(lane, member)
            else:
                timer = asyncio.get_running_loop().call_later(
                    age, self._expire_reservation, lane, member
                )
                self._reserved[lane] = _Reservation(member, asked_at, timer)
        if known and epoch != known:
            # Reserved under the lost state: given back, not put back.
            self._give_back_reservations()
            await self._recover(args[0])
        while self._orphans:
            await self.release(*self._orphans.pop())

    def _take_backs(self, lane: str) -> list[str]:
        """Release pairs that take back the leases a failed grant call of ``lane`` may have
        granted: dated long ago, so they leave no completion in the window (no request went
        out under them)."""
        asked = self._taken_back.get(lane)
        if not asked:
            return []
        pairs: list[str] = []
        for member in asked:
            pairs += (_LONG_AGO, member)
        return pairs

    def _took_back(self, lane: str) -> None:
        """A call with this lane's take-backs succeeded. A failed call may still be waiting in
        Redis, behind another connection's: each take-back rides along for a few seconds more,
        then it is forgotten."""
        asked = self._taken_back.get(lane)
        if not asked:
            return
        now = time.monotonic()
        for member, since in list(asked.items()):
            if since is None:
                asked[member] = now
            elif now - since > _TAKE_BACK_FOR:
                del asked[member]
        if not asked:
            del self._taken_back[lane]

    # -- reserved slots ----------------------------------------------------------------------

    def _use_reservation(self, lane: str, lease_id: int, now: float, window: float) -> bool:
        """Serve lease ``lease_id`` from ``lane``'s reservation, if it holds a usable one."""
        reservation = self._reserved.pop(lane, None)
        if reservation is None:
            return False
        reservation.timer.cancel()
        if now - reservation.asked_at > _reservation_age(window) or not self._available():
            self._give_back(lane, reservation.member)
            self._flush_soon()
            return False
        aliases = self._aliases
        aliases[lease_id] = (reservation.member, max(0.0, now - reservation.asked_at))
        if len(aliases) > _ALIASES_KEPT:
            del aliases[next(iter(aliases))]
        used = self._used.get(lane)
        if used is None:
            self._used[lane] = [reservation.member]
        else:
            used.append(reservation.member)
        self.reservations_used += 1
        return True

    def _refill(
        self, lane: str, limit: int, window: float, now: float, lease_timeout: float
    ) -> None:
        """Ask in the background for the next reservation (and log the one just used)."""
        if self._closing or self._fell_back or not self._available():
            return
        known = self._not_before.get(lane)
        if known is not None and known[1] > now:
            return  # the window is full: no reservation now (the next grant call logs the use)
        ask = _Ask("", 0, limit, window, now, lease_timeout)
        ask.refill = True
        task = asyncio.get_running_loop().create_task(self._send_refill(lane, ask))
        self._refills.add(task)
        task.add_done_callback(self._refills.discard)

    async def _send_refill(self, lane: str, ask: _Ask) -> None:
        try:
            await self._acquire_combined(lane, [ask])
        except Exception:  # Redis failed: the next request asks it again
            logger.debug("refilling a reserved slot failed", exc_info=True)

    def _expire_reservation(self, lane: str, member: str) -> None:
        """Unused for half a window: given back (the lane may stay idle)."""
        reservation = self._reserved.get(lane)
        if reservation is not None and reservation.member == member:
            self._give_back_reservation(lane)

    def _give_back(self, lane: str, member: str) -> None:
        """An unused reservation goes back as never sent: free at once, no completion."""
        leases = self._leases.get(lane)
        if leases is not None:
            leases.pop(member, None)
        self._pending.setdefault(lane, []).extend((_LONG_AGO, member))

    def _give_back_reservation(self, lane: str) -> None:
        reservation = self._reserved.pop(lane, None)
        if reservation is not None:
            reservation.timer.cancel()
            self._give_back(lane, reservation.member)
            self._flush_soon()

    def _give_back_reservations(self, send: bool = True) -> None:
        """Every reservation goes back (Redis failed, lost its state, or the store closes);
        ``send=False``: with the next call that reaches Redis."""
        reserved, self._reserved = self._reserved, {}
        for lane, reservation in reserved.items():
            reservation.timer.cancel()
            self._give_back(lane, reservation.member)
        if reserved and send:
            self._flush_soon()

    def _flush_soon(self) -> None:
        if self._pending and self._flusher is None and self._available():
            self._flusher = asyncio.get_running_loop().create_task(self._flush())

    def _member_of(self, lease_id: int) -> str:
        """The member of lease ``lease_id``: its reservation's when it was served from one."""
        served = self._aliases.get(lease_id)
        return self._member(lease_id) if served is None else served[0]

    async def _server_started(self) -> str:
        """When the Redis server (the node of this namespace) started, on its clock; ``''``
        when unknown. A process that just started cannot know whether Redis lost its data, but
        a Redis that started less than a window ago may have."""
        if self.time_source != "server":
            return ""
        if self._server_start is None:
            self._server_start = ""
            unusable: tuple[type[BaseException], ...] = (KeyError, ValueError, *self._errors)
            try:
                if self._discover:
                    await self._discover_cluster()
                with anyio.fail_after(self.timeout):
                    info: Any
                    if self._cluster:
                        cluster = cast("RedisCluster", self.redis)
                        node = cluster.get_node_from_key(self.key("epoch"))
                        async with self._connections or contextlib.nullcontext():
                            info = await cluster.info("server", target_nodes=node)
                    else:
                        info = await self.redis.info("server")
                now = int(info["server_time_usec"]) / 1e6
                self._server_start = repr(now - int(info["uptime_in_seconds"]))
            except unusable:
                # INFO may be disabled (some managed services): then only a process that saw
                # an epoch can tell that the state was lost.
                logger.debug("could not read the Redis server's start time", exc_info=True)
        return self._server_start

    async def _recover(self, now: str) -> None:
        """Redis lost the shared state: put back what this process knows (its leases in flight
        and the counters it saw). The windows themselves are already held full."""
        self.state_losses += 1
        moment = time.monotonic()
        leases = {
            lane: {m: t - (moment - at) for m, (t, at) in held.items() if t - (moment - at) > 0}
            for lane, held in self._leases.items()
        }
        counters = [
            (key, value)
            for key, (value, at) in self._seen.items()
            if moment - at < 86400 + _COUNTER_GRACE_SECONDS and value > 0
        ]
        logger.warning(
            "Redis lost the limiter's shared state, or may have (a restart, a failover to a "
            "replica, a flush): every window is held full for one window; putting back %d "
            "leases in flight and %d counters",
            sum(map(len, leases.values())),
            len(counters),
        )
        try:
            for lane, left in leases.items():
                if left:
                    window = repr(self._windows.get(lane, 60.0))
                    reclaim = [now, repr(max(left.values())), window, *left]
                    await self._call(self._reclaim, self._lane_keys(lane), reclaim)
            for start in range(0, len(counters), 500):
                chunk = counters[start : start + 500]
                values = [86400 + _COUNTER_GRACE_SECONDS, *(value for _, value in chunk)]
                await self._call(self._reseed, [key for key, _ in chunk], values)
        except LimiterUnavailable:
            logger.warning("could not put back the limiter's state; Redis failed again")

    def _remember(self, key: bytes | str, value: int) -> None:
        name = _text(key)
        self._seen.pop(name, None)
        self._seen[name] = (value, time.monotonic())
        if len(self._seen) > _SEEN_COUNTERS:
            del self._seen[next(iter(self._seen))]  # the least recently seen

    def _member(self, lease_id: int) -> str:
        return f"{self._instance}:{lease_id}"

    async def release(self, lane: str, lease_id: int, completed_at: float) -> None:
        """See :meth:`~zoom_async.limits.LimiterStore.release`.

        Never raises: if Redis cannot be told, the release is sent again with the lane's
        next grant (or the next release); until then the lease counts as in flight there, or
        as completed at its expiry, which errs on the safe side.
        """
        if (lane, lease_id) in self._local_leases:
            self._local_leases.discard((lane, lease_id))
            await self._local.release(lane, lease_id, completed_at)
            return
        member = self._member_of(lease_id)
        leases = self._leases.get(lane)
        if leases is not None:
            leases.pop(member, None)
        pending = self._pending.get(lane)
        if pending is None:
            pending = self._pending[lane] = []
        pending += (self._now_arg(completed_at), member)
        # Not on the request's path: the caller goes on at once, and the release is sent by a
        # task of the store's -- or with this lane's next grant script, whichever goes first
        # (so a slot freed here is free for the next ask from this process). Releases come in
        # clusters (a window's worth of responses): one call per batch. Sending later errs on
        # the safe side: with the server's clock the completion is recorded a little late.
        if self._flusher is None:
            self._flusher = asyncio.get_running_loop().create_task(self._flush())

    async def _flush(self) -> None:
        try:
            while self._pending:
                batch, self._pending = self._pending, {}
                sent = False
                if self._available():
                    try:
                        await self._send_releases(batch)
                        sent = True
                    except LimiterUnavailable:
                        logger.debug("could not release leases of %d lanes yet", len(batch))
                if not sent:
                    # Sent again with the lane's next grant, or by the next release's flush:
                    # a Redis that comes back with its data would otherwise keep these slots
                    # taken until their leases expire (lease_timeout, minutes).
                    for lane, pairs in batch.items():
                        self._pending[lane] = pairs + self._pending.get(lane, [])
                    break
        except Exception:  # never an unretrieved task error; the leases expire
            logger.debug("releasing leases failed", exc_info=True)
        finally:
            self._flusher = None

    async def _send_releases(self, batch: dict[str, list[str]]) -> None:
        if len(batch) == 1:
            ((lane, args),) = batch.items()
            window = repr(self._windows.get(lane, 60.0))
            await self._call(self._release, self._lane_keys(lane), [window, *args])
            return
        calls = [
            (self._lane_keys(lane), [repr(self._windows.get(lane, 60.0)), *args])
            for lane, args in batch.items()
        ]
        if self._cluster:
            # A cluster pipeline does not load scripts first (NOSCRIPT on a fresh node), and
            # the lanes share one node anyway: calls side by side.
            await self._bounded(asyncio.gather(*(self._release(keys=k, args=a) for k, a in calls)))
            return
        pipe = cast("Redis", self.redis).pipeline(transaction=False)
        for keys, args in calls:
            await self._release(keys=keys, args=args, client=pipe)
        await self._bounded(pipe.execute())

    # -- counters --------------------------------------------------------------------------

    def _counter(self, key: str, expires_at: datetime | None = None) -> tuple[list[str], list[Any]]:
        """Keys and the first arguments of a counter script for the limiter's ``key``."""
        dated = _DATED.match(key) if self.time_source == "server" else None
        if dated is not None:
            return [self.key("counter", dated.group(1))], ["day", 0]
        if expires_at is None:
            return [self.key("counter", key)], ["", 0]
        # A time to live, not an instant: the Redis server's clock need not agree with the
        # limiter's, which ``expires_at`` was computed on.
        now = (self._clock or _SYSTEM_CLOCK).utcnow()
        left = max(0.0, (expires_at - now).total_seconds())
        return [self.key("counter", key)], ["", math.ceil(left) + _COUNTER_GRACE_SECONDS]

    async def increment(self, key: str, limit: int, expires_at: datetime) -> bool:
        """See :meth:`~zoom_async.limits.LimiterStore.increment`."""
        if self._available():
            keys, args = self._counter(key, expires_at)
            try:
                ok, name, value = await self._call(self._increment, keys, [*args, limit])
            except LimiterUnavailable:
                if self.fallback is None:
                    raise
            else:
                self._remember(name, int(value))
                return bool(int(ok))
        if self.fallback is None:
            raise self._unavailable()
        return await self._local.increment(key, self._fallback_limit(limit), expires_at)

    async def decrement(self, key: str) -> None:
        """See :meth:`~zoom_async.limits.LimiterStore.decrement` (best effort: never raises)."""
        if not self._available():
            await self._local.decrement(key)
            return
        keys, args = self._counter(key)
        try:
            name, value = await self._call(self._decrement, keys, args)
        except LimiterUnavailable:
            await self._local.decrement(key)
        else:
            self._remember(name, int(value))

    async def raise_to(self, key: str, value: int, expires_at: datetime) -> None:
        """See :meth:`~zoom_async.limits.LimiterStore.raise_to`."""
        await self._local.raise_to(key, value, expires_at)
        keys, args = self._counter(key, expires_at)
        try:
            name, now_value = await self._call(self._raise_to, keys, [*args, value])
        except LimiterUnavailable:
            if self.fallback is None:
                raise
        else:
            self._remember(name, int(now_value))

    async def count(self, key: str) -> int:
        """See :meth:`~zoom_async.limits.LimiterStore.count`."""
        keys, args = self._counter(key)
        try:
            return int(await self._call(self._count, keys, args))
        except LimiterUnavailable:
            if self.fallback is None:
                raise
            return await self._local.count(key)

    # -- tokens ----------------------------------------------------------------------------

    async def load_token(self, key: str) -> tuple[OAuthToken, float] | None:
        """See :class:`~zoom_async.auth.SharedTokens`."""
        name = self.key("token", key)
        pipe = self.redis.pipeline(transaction=False)
        pipe.get(name)
        pipe.pttl(name)
        value, ttl = await self._bounded(pipe.execute())
        if value is None or ttl is None or ttl <= 0:
            return None
        return _token_from_json(value), ttl / 1000

    async def save_token(self, key: str, token: OAuthToken, fresh_for: float) -> None:
        """See :class:`~zoom_async.auth.SharedTokens`. The key lives ``fresh_for`` seconds on
        the Redis server's clock, so every process renews at the same moment."""
        if fresh_for <= 0:
            return
        name = self.key("token", key)
        await self._bounded(self.redis.set(name, _token_to_json(token), px=int(fresh_for * 1000)))

    async def drop_token(self, key: str, access_token: str) -> None:
        """See :class:`~zoom_async.auth.SharedTokens`."""
        await self._call(self._drop_token, [self.key("token", key)], [access_token])

    @asynccontextmanager
    async def token_lock(self, key: str) -> AsyncIterator[None]:
        """See :class:`~zoom_async.auth.SharedTokens`: a Redis lock (redis-py's), which
        expires after 30 s if its holder dies; waiting for it is bounded the same way."""
        from redis.exceptions import LockError

        timeout = 30.0
        lock = self.redis.lock(
            self.key("lock", key), timeout=timeout, blocking_timeout=timeout, sleep=0.05
        )
        try:
            # Each of the lock's own commands bounded too (the pool has no socket timeout).
            with anyio.fail_after(timeout + (self.timeout or timeout)):
                acquired = await lock.acquire()
        except self._errors as exc:
            raise self._failed(exc) from None
        if not acquired:
            raise LimiterUnavailable(
                f"waited {timeout:g} s for another process to renew a token; try again"
            )
        try:
            yield
        finally:
            with (
                contextlib.suppress(LockError, *self._errors),
                anyio.move_on_after(self.timeout or timeout, shield=True),
            ):
                await lock.release()

    def token_store(self) -> RedisTokenStore:
        """A :class:`~zoom_async.auth.TokenStore` for :class:`~zoom_async.UserOAuth` in this
        Redis: users' tokens shared by all processes, refreshed under a lock, saved with
        compare-and-set."""
        return RedisTokenStore(self)


_DROP_TOKEN = """
local value = redis.call('GET', KEYS[1])
if value and cjson.decode(value)['access_token'] == ARGV[1] then
  redis.call('DEL', KEYS[1])
end
return 1
"""

_REPLACE_TOKEN = """
-- KEYS: the user's tokens. ARGV: the refresh token spent, the new tokens (JSON)
local value = redis.call('GET', KEYS[1])
if value and cjson.decode(value)['refresh_token'] ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2])
return 1
"""


def _token_to_json(token: OAuthToken) -> str:
    return json.dumps(
        {
            "access_token": token.access_token,
            "expires_at": token.expires_at.isoformat(),
            "refresh_token": token.refresh_token,
            "scope": token.scope,
            "token_type": token.token_type,
        }
    )


def _token_from_json(value: bytes | str) -> OAuthToken:
    data = json.loads(value)
    return OAuthToken(
        access_token=data["access_token"],
        expires_at=datetime.fromisoformat(data["expires_at"]),
        refresh_token=data.get("refresh_token"),
        scope=data.get("scope"),
        token_type=data.get("token_type", "bearer"),
    )


class RedisTokenStore:
    """Users' OAuth tokens in Redis (see :meth:`RedisStore.token_store`).

    Redis then holds access and refresh tokens: protect it as you protect the client secret.
    """

    def __init__(self, store: RedisStore) -> None:
        self._store = store
        self._replace = store.redis.register_script(_REPLACE_TOKEN)

    def __repr__(self) -> str:
        return f"RedisTokenStore(namespace={self._store.namespace!r})"

    def _name(self, key: str) -> str:
        return self._store.key("user-token", key)

    async def get(self, key: str) -> OAuthToken | None:
        """The tokens saved for ``key``."""
        value = await self._store._bounded(self._store.redis.get(self._name(key)))
        return None if value is None else _token_from_json(value)

    async def set(self, key: str, token: OAuthToken) -> None:
        """Save the tokens for ``key``."""
        await self._store._bounded(self._store.redis.set(self._name(key), _token_to_json(token)))

    async def delete(self, key: str) -> None:
        """Forget ``key``'s tokens."""
        await self._store._bounded(self._store.redis.delete(self._name(key)))

    def lock(self, key: str) -> AbstractAsyncContextManager[None]:
        """See :class:`~zoom_async.auth.LockingTokenStore`."""
        return self._store.token_lock(f"user:{key}")

    async def replace(self, key: str, refresh_token: str, token: OAuthToken) -> bool:
        """See :class:`~zoom_async.auth.LockingTokenStore`."""
        return bool(
            await self._store._call(
                self._replace, [self._name(key)], [refresh_token, _token_to_json(token)]
            )
        )
