"""Shared fixtures: credentials, a respx-mocked Zoom, and quick retry policies."""

from __future__ import annotations

import asyncio
import shutil
import signal
import socket
import subprocess
import threading
import time
import tomllib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any, TypeVar

import anyio
import httpx
import pytest
import respx

from zoom_async import ExponentialBackoff, RetryPolicy, ZoomClient
from zoom_async.testing import FakeZoom, FakeZoomServer

try:
    import uvloop
except ImportError:  # no build for Windows
    uvloop = None

LOOPS: dict[str, Any] = {"asyncio": asyncio.new_event_loop}
"""The event loops a ``both_loops`` test runs on: asyncio's, and uvloop's (uvicorn's loop when
it is installed) where it builds."""
if uvloop is not None:
    LOOPS["uvloop"] = uvloop.new_event_loop


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "both_loops: run on asyncio's event loop and on uvloop's (tests/conftest.py)"
    )


def pytest_asyncio_loop_factories(config: pytest.Config, item: pytest.Item) -> dict[str, Any]:
    """pytest-asyncio's hook: a ``both_loops`` test once per loop of :data:`LOOPS`, any other
    on asyncio's (one factory: its name is left out of the test's id)."""
    if item.get_closest_marker("both_loops") is not None:
        return LOOPS
    return {"asyncio": asyncio.new_event_loop}


CLIENT_SECRET = "s3cr3t-client-secret-value"
ACCESS_TOKEN = "eyJ-access-token-value-0001"
API = "https://api.zoom.us/v2"
TOKEN_URL = "https://zoom.us/oauth/token"


def _specs_dir() -> Path:
    root = Path(__file__).resolve().parent.parent
    with (root / "pyproject.toml").open("rb") as fh:
        specs = str(tomllib.load(fh)["tool"]["codegen"]["specs"])
    return (root / specs).resolve()


SPECS = _specs_dir()
"""Zoom's OpenAPI specs, where ``[tool.codegen] specs`` says (../shared/zoom-openapi)."""
needs_specs = pytest.mark.skipif(
    not (SPECS / "endpoints").is_dir(), reason=f"Zoom's specs not found at {SPECS}"
)


def dripping(seconds_per_byte: float, size: int) -> httpx.Response:
    """A 200 whose JSON body arrives one byte every ``seconds_per_byte``."""

    async def drip() -> AsyncIterator[bytes]:
        yield b'{"a": "'
        for _ in range(size):
            await anyio.sleep(seconds_per_byte)
            yield b"x"
        yield b'"}'

    return httpx.Response(200, content=drip())


@pytest.fixture
def credentials() -> dict[str, str]:
    return {"account_id": "acct-1", "client_id": "client-1", "client_secret": CLIENT_SECRET}


@pytest.fixture
def fast_retry() -> RetryPolicy:
    """Retries without real waiting (backoff of at most 1 ms)."""
    return RetryPolicy(backoff=ExponentialBackoff(initial=0.001, maximum=0.001))


@pytest.fixture
def zoom_api() -> Iterator[respx.MockRouter]:
    """respx router for api.zoom.us with a working token endpoint."""
    with respx.mock(assert_all_called=False) as router:
        router.post(TOKEN_URL, name="token").mock(
            return_value=httpx.Response(
                200, json={"access_token": ACCESS_TOKEN, "token_type": "bearer", "expires_in": 3599}
            )
        )
        yield router


JITTER = ((0.005, 0.025), (0.005, 0.025))
"""10-50 ms round trips, jittered independently on the way there and back."""


def client_for(fake: FakeZoom, **kwargs: Any) -> ZoomClient:
    """A ZoomClient talking to ``fake`` in-process, on the fake's clock and plan."""
    kwargs.setdefault("plan", fake.plan)
    kwargs.setdefault("transport", fake.transport())
    return ZoomClient(
        account_id=fake.account_id,
        client_id=fake.client_id,
        client_secret=fake.client_secret,
        base_url=fake.base_url,
        token_url=fake.token_url,
        clock=fake.clock,
        **kwargs,
    )


def served_client(
    fake: FakeZoom, server: FakeZoomServer, transport: Any = None, **kwargs: Any
) -> ZoomClient:
    """A ZoomClient talking to ``fake`` served on a local port (``fake.serve()``), over the
    default transport unless ``transport`` is given (``"aiohttp"``); ``kwargs`` go to the client
    (``base_url`` too: another address for the API)."""
    kwargs.setdefault("base_url", server.base_url)
    if transport is not None:
        kwargs["transport"] = transport
    return ZoomClient(
        account_id=fake.account_id,
        client_id=fake.client_id,
        client_secret=fake.client_secret,
        token_url=server.token_url,
        **kwargs,
    )


# -- real servers: redis-server and valkey-server (Debian packages; .ci/run installs them) ----


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _binary(name: str) -> str:
    binary = shutil.which(name)
    if binary is None:
        # Fail, not skip: CI installs it, and a skipped store is an untested store.
        pytest.fail(f"{name} is not installed (.ci/run installs it: apt-get install -y {name})")
    return binary


def _ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


class RedisServer:
    """A ``redis-server`` (or ``valkey-server``) on a free 127.0.0.1 port, without
    persistence, in a temp directory."""

    cluster = False

    def __init__(
        self,
        directory: str,
        binary: str = "redis-server",
        extra: tuple[str, ...] = (),
        cluster_bus: bool = False,
    ) -> None:
        self.directory = directory
        self.binary = binary
        self.extra = extra
        # A cluster node's bus gets a free port of its own (the default, port + 10000, may be
        # taken by someone else's test), chosen with the node's port.
        self.cluster_bus = cluster_bus
        self.bus = 0
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = _binary(self.binary)
        # A free port may be taken between free_port() and the server's bind (by another
        # server of this session, whose port or cluster bus came out the same, or by someone
        # else on the machine): the server then exits at once. Pick other ports and start
        # again, unless the port is fixed (a restart on the same port).
        fixed = bool(self.port)
        for _ in range(5):
            if not fixed:
                self.port = free_port()
                if self.cluster_bus:
                    self.bus = free_port()
                    while self.bus == self.port:
                        self.bus = free_port()
            if self._start(binary, fixed):
                return
            if fixed:
                break
        self.stop()
        pytest.fail(f"{self.binary} did not start on port {self.port}")

    def _start(self, binary: str, fixed: bool) -> bool:
        """Start the server and wait until it answers: False if it exited first."""
        bus = ("--cluster-port", str(self.bus)) if self.cluster_bus else ()
        self.process = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                self.directory,
                "--protected-mode",
                "no",
                # DEBUG SLEEP stands in for a Redis that is slow to answer.
                "--enable-debug-command",
                "local",
                *bus,
                *self.extra,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        # Generous: a loaded 2-core box (the whole suite, other jobs) may be slow to start it.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if _ping(self.port):
                return True
            if self.process.poll() is not None:
                self.process = None
                if self.cluster_bus and not fixed:
                    # A fresh node on other ports, not one that remembers these.
                    (Path(self.directory) / "nodes.conf").unlink(missing_ok=True)
                return False  # it exited: most likely its port (or bus port) was taken
            time.sleep(0.02)
        self.stop()
        pytest.fail(f"{self.binary} did not answer on port {self.port} within 30 s")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None


class RedisClusterServer:
    """A Redis Cluster (or, with ``binary="valkey-server"``, a Valkey cluster) of three masters,
    each with ``replicas`` replicas (none by default), on free 127.0.0.1 ports. A master
    unreachable for ``node_timeout`` ms is failed over to its replica."""

    cluster = True

    def __init__(
        self,
        directory: str,
        masters: int = 3,
        binary: str = "redis-server",
        replicas: int = 0,
        node_timeout: int = 2000,
    ) -> None:
        self.cli = binary.replace("-server", "-cli")
        self.replicas = replicas
        self.nodes: list[RedisServer] = []
        for i in range(masters * (1 + replicas)):
            node_dir = Path(directory) / f"node{i}"
            node_dir.mkdir()
            self.nodes.append(
                RedisServer(
                    str(node_dir),
                    binary,
                    cluster_bus=True,
                    extra=(
                        "--cluster-enabled",
                        "yes",
                        "--cluster-config-file",
                        str(node_dir / "nodes.conf"),
                        "--cluster-node-timeout",
                        str(node_timeout),
                        # A replica's first sync at once, not 5 s later.
                        "--repl-diskless-sync-delay",
                        "0",
                    ),
                )
            )

    @property
    def url(self) -> str:
        """A URL of one node: the cluster client discovers the others from it."""
        return self.nodes[0].url

    def start(self) -> None:
        for node in self.nodes:
            node.start()
        addresses = [f"127.0.0.1:{node.port}" for node in self.nodes]
        created = subprocess.run(
            [
                _binary(self.cli),
                "--cluster",
                "create",
                *addresses,
                "--cluster-replicas",
                str(self.replicas),
                "--cluster-yes",
            ],
            capture_output=True,
            timeout=60,
            check=False,
        )
        if created.returncode != 0:
            self.stop()
            pytest.fail(f"{self.cli} --cluster create failed: {created.stdout[-500:]!r}")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            # A replica that never synced is not promoted: wait for every link too.
            if all(self._state(node) == "ok" for node in self.nodes) and all(
                "role:master" in info or "master_link_status:up" in info
                for info in (self._cli(node.port, "info", "replication") for node in self.nodes)
            ):
                return
            time.sleep(0.05)
        self.stop()
        pytest.fail(f"the {self.nodes[0].binary} cluster did not reach cluster_state:ok")

    def _cli(self, port: int, *command: str) -> str:
        return subprocess.run(
            [_binary(self.cli), "-p", str(port), *command],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        ).stdout

    def node(self, port: int) -> RedisServer:
        return next(node for node in self.nodes if node.port == port)

    def _nodes(self) -> list[list[str]]:
        """CLUSTER NODES, as a live node sees it: id, address, flags, master id, ... slots."""
        for node in self.nodes:
            if node.process is not None:
                return [
                    line.split() for line in self._cli(node.port, "cluster", "nodes").splitlines()
                ]
        return []

    def _port(self, row: list[str]) -> int:
        return int(row[1].split("@")[0].rsplit(":", 1)[1])

    def owner_of(self, slot: int) -> int:
        """The port of the master that serves hash slot ``slot``."""
        for row in self._nodes():
            for served in row[8:]:
                first, _, last = served.partition("-")
                if not served.startswith("[") and int(first) <= slot <= int(last or first):
                    return self._port(row)
        raise LookupError(slot)

    def move_slot(self, slot: int, port: int) -> None:
        """Move hash slot ``slot`` and its keys to the master on ``port``, as resharding does:
        IMPORTING / MIGRATING, MIGRATE of its keys in batches, then SETSLOT NODE everywhere."""
        source = self.owner_of(slot)
        ids = {self._port(row): row[0] for row in self._nodes()}
        self._cli(port, "cluster", "setslot", str(slot), "importing", ids[source])
        self._cli(source, "cluster", "setslot", str(slot), "migrating", ids[port])
        while keys := self._cli(source, "cluster", "getkeysinslot", str(slot), "100").split():
            moved = self._cli(
                source, "migrate", "127.0.0.1", str(port), "", "0", "5000", "keys", *keys
            )
            assert moved.strip() in ("OK", "NOKEY"), moved
        for master in (port, source, *(p for p in ids if p not in (port, source))):
            self._cli(master, "cluster", "setslot", str(slot), "node", ids[port])

    def replica_of(self, port: int) -> RedisServer:
        """The (first) replica of the master on ``port``."""
        rows = self._nodes()
        master = next(row[0] for row in rows if row[1].split("@")[0].endswith(f":{port}"))
        address = next(row[1] for row in rows if row[3] == master)
        return self.node(int(address.split("@")[0].rsplit(":", 1)[1]))

    def is_master(self, port: int) -> bool:
        """Whether the live nodes see the node on ``port`` as a master serving slots."""
        return any(
            row[1].split("@")[0].endswith(f":{port}") and "master" in row[2] and len(row) > 8
            for row in self._nodes()
        )

    def wait_for_promotion(self, port: int, seconds: float = 30.0) -> None:
        """Until the live nodes see the replica on ``port`` as a master serving slots."""
        deadline = time.monotonic() + seconds
        while not self.is_master(port):
            if time.monotonic() > deadline:
                pytest.fail(f"the cluster did not promote the replica on port {port}")
            time.sleep(0.05)

    def kill(self, port: int) -> None:
        """SIGKILL the node on ``port``: no goodbye to its clients, its replica or the bus."""
        process = self.node(port).process
        assert process is not None
        process.send_signal(signal.SIGKILL)
        process.wait()
        self.node(port).process = None

    def _state(self, node: RedisServer) -> str:
        info = subprocess.run(
            [_binary(self.cli), "-p", str(node.port), "cluster", "info"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        ).stdout
        for line in info.splitlines():
            if line.startswith("cluster_state:"):
                return line.split(":", 1)[1].strip()
        return ""

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()


class TcpRelay:
    """Passes connections to 127.0.0.1:``port`` on to ``target``, in a thread of its own.

    :meth:`hold` stops passing on what ``target`` sends while keeping the connections open:
    a replica that reaches its primary through the relay then falls behind without noticing,
    as over a congested link (replication is asynchronous: the primary does not wait).
    ``delay``: seconds each chunk ``target`` sends is held before it is passed on (in order),
    as from a far or busy server.
    """

    def __init__(self, target: int, delay: float = 0.0) -> None:
        self.target = target
        self.port = free_port()
        self.holding = False
        self.cutting = False
        self.delay = delay
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None

    def start(self) -> None:
        self._thread.start()
        self._server = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._relay, "127.0.0.1", self.port), self._loop
        ).result(5)

    def hold(self) -> None:
        self.holding = True

    def cut(self) -> None:
        """Pass nothing on, either way, from now on, and say nothing: a network partition
        (each end notices only by its own timeouts)."""
        self.cutting = True

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target)
        except OSError:
            writer.close()
            return
        await asyncio.gather(
            self._pipe(reader, up_writer, upstream=True),
            self._pipe(up_reader, writer, upstream=False),
        )

    async def _pipe(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, upstream: bool
    ) -> None:
        loop = asyncio.get_running_loop()
        delayed: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

        async def pass_on() -> None:
            # What came in is passed on ``delay`` after it came, without holding up the reads.
            while True:
                due, data = await delayed.get()
                if not data:
                    return
                await asyncio.sleep(due - loop.time())
                writer.write(data)
                await writer.drain()

        late = None if upstream or not self.delay else loop.create_task(pass_on())
        try:
            while data := await reader.read(65536):
                if self.cutting:
                    continue
                if late is not None:
                    delayed.put_nowait((loop.time() + self.delay, data))
                elif upstream or not self.holding:
                    writer.write(data)
                    await writer.drain()
            if late is not None:
                delayed.put_nowait((0.0, b""))  # the end, once the rest is passed on
                await late
        except OSError:
            pass
        finally:
            if late is not None:
                late.cancel()
            writer.close()

    def stop(self) -> None:
        if self._server is not None:
            self._loop.call_soon_threadsafe(self._server.close)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)


def _redis_cli(port: int, *command: str) -> str:
    return subprocess.run(
        [_binary("redis-cli"), "-p", str(port), *command],
        capture_output=True,
        text=True,
        timeout=10,
        check=False,
    ).stdout


class RedisSentinelSetup:
    """A primary, a replica (reaching it through a :class:`TcpRelay`) and a Sentinel that
    fails over ``down_after`` ms after the primary stops answering, on free 127.0.0.1 ports.
    (A loaded machine may delay an answer by hundreds of milliseconds: a Sentinel that is not
    meant to fail over waits longer.)"""

    cluster = False
    service = "zoom"

    def __init__(
        self, directory: str, down_after: int = 10_000, min_replicas_max_lag: int | None = None
    ) -> None:
        self.down_after = down_after
        self.directory = Path(directory)
        for name in ("primary", "replica", "sentinel"):
            (self.directory / name).mkdir()
        guard: tuple[str, ...] = ()
        if min_replicas_max_lag is not None:
            # As docs/scaling.md recommends: the primary refuses writes (NOREPLICAS) once its
            # replica's last acknowledgement is older than this many seconds.
            guard = (
                "--min-replicas-to-write",
                "1",
                "--min-replicas-max-lag",
                str(min_replicas_max_lag),
            )
        self.primary = RedisServer(str(self.directory / "primary"), extra=guard)
        self.primary.port = free_port()
        self.relay = TcpRelay(self.primary.port)
        self.replica = RedisServer(
            str(self.directory / "replica"),
            extra=("--replicaof", "127.0.0.1", str(self.relay.port)),
        )
        self.sentinel_port = free_port()
        self.sentinel: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis+sentinel://127.0.0.1:{self.sentinel_port}/{self.service}/0"

    def start(self) -> None:
        self.primary.start()
        self.relay.start()
        self.replica.start()
        self._wait("the replica did not sync", lambda: self._replica_in_sync())
        config = self.directory / "sentinel" / "sentinel.conf"
        # failover-timeout only bounds a failover that stalls; kept above a test's length so
        # that Sentinel does not "fix" the replica's primary (the relay) meanwhile.
        config.write_text(
            f"port {self.sentinel_port}\n"
            "bind 127.0.0.1\n"
            "protected-mode no\n"
            f"dir {config.parent}\n"
            f"logfile {config.parent / 'sentinel.log'}\n"
            f"sentinel monitor {self.service} 127.0.0.1 {self.primary.port} 1\n"
            f"sentinel down-after-milliseconds {self.service} {self.down_after}\n"
            f"sentinel failover-timeout {self.service} 60000\n"
        )
        self.sentinel = subprocess.Popen(
            [_binary("redis-server"), str(config), "--sentinel"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self._wait("Sentinel did not find the replica", self._sentinel_sees_the_replica)

    def _replica_in_sync(self) -> bool:
        return "master_link_status:up" in _redis_cli(self.replica.port, "info", "replication")

    def _sentinel_sees_the_replica(self) -> bool:
        replicas = _redis_cli(self.sentinel_port, "sentinel", "replicas", self.service)
        return f"\n{self.replica.port}\n" in f"\n{replicas}" and "s_down" not in replicas

    def _wait(self, what: str, ready: Any, seconds: float = 20.0) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if ready():
                return
            time.sleep(0.02)
        self.stop()
        pytest.fail(what)

    def primary_port(self) -> int:
        """The primary's port, as Sentinel says."""
        answer = _redis_cli(self.sentinel_port, "sentinel", "get-master-addr-by-name", self.service)
        lines = answer.split()
        return int(lines[1]) if len(lines) == 2 else 0

    def kill_primary(self) -> None:
        """SIGKILL the primary: no goodbye to its clients, its replica or Sentinel."""
        assert self.primary.process is not None
        self.primary.process.send_signal(signal.SIGKILL)
        self.primary.process.wait()
        self.primary.process = None

    def fail_over(self) -> None:
        """Ask Sentinel to promote the replica now (``SENTINEL FAILOVER``), as an operator
        would, or as Sentinel does on the majority's side of a partition."""
        answer = _redis_cli(self.sentinel_port, "sentinel", "failover", self.service)
        assert answer.strip() == "OK", answer

    def wait_for_promotion(self, seconds: float = 20.0) -> None:
        """Until Sentinel names the replica as the primary."""
        self._wait(
            "Sentinel did not promote the replica",
            lambda: self.primary_port() == self.replica.port,
            seconds,
        )

    def stop(self) -> None:
        if self.sentinel is not None:
            self.sentinel.terminate()
            self.sentinel.wait(5)
            self.sentinel = None
        self.replica.stop()
        self.primary.stop()
        self.relay.stop()


CLUSTER_BINARIES = ("redis-server", "valkey-server")

_Server = TypeVar("_Server", RedisServer, RedisClusterServer, RedisSentinelSetup)


def _session_server(server: _Server) -> Iterator[_Server]:
    """Start a server for the session, handed over once it is a second old: RedisStore holds
    the first window of a Redis that started less than a window ago (it may have lost one),
    which would make a session server's first test wait, or not, by the order tests run in."""
    started = time.monotonic()
    server.start()
    time.sleep(max(0.0, started + 1.1 - time.monotonic()))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """One redis-server for the session; tests keep apart by namespace."""
    yield from _session_server(RedisServer(str(tmp_path_factory.mktemp("redis"))))


@pytest.fixture(scope="session")
def valkey_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """One valkey-server for the session (Debian bookworm-backports; .ci/run installs it)."""
    directory = str(tmp_path_factory.mktemp("valkey"))
    yield from _session_server(RedisServer(directory, binary="valkey-server"))


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisClusterServer]:
    """A three-master Redis Cluster for the session."""
    yield from _session_server(RedisClusterServer(str(tmp_path_factory.mktemp("redis-cluster"))))


@pytest.fixture(scope="session")
def redis_sentinel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisSentinelSetup]:
    """A primary, its replica and a Sentinel for the session (tests that fail over the primary
    take ``own_redis_sentinel``)."""
    yield from _session_server(RedisSentinelSetup(str(tmp_path_factory.mktemp("sentinel"))))


@pytest.fixture
def own_redis_sentinel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisSentinelSetup]:
    """A primary, its replica and a Sentinel for one test, which may kill the primary (the
    Sentinel fails over 1 s after the primary stops answering)."""
    directory = str(tmp_path_factory.mktemp("sentinel"))
    yield from _session_server(RedisSentinelSetup(directory, down_after=1000))


@pytest.fixture
def own_redis_sentinel_min_replicas(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[RedisSentinelSetup]:
    """As ``own_redis_sentinel``, with ``min-replicas-to-write 1`` and ``min-replicas-max-lag
    2`` on the primary: cut off from its replica, it refuses writes 2-4 s later. (The replica
    acknowledges once a second; 2 s leaves a loaded machine a second to spare before a
    refusal nobody caused.)"""
    directory = str(tmp_path_factory.mktemp("sentinel"))
    setup = RedisSentinelSetup(directory, down_after=1000, min_replicas_max_lag=2)
    yield from _session_server(setup)


@pytest.fixture(params=CLUSTER_BINARIES)
def own_cluster_with_replicas(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RedisClusterServer]:
    """A Redis Cluster, then a Valkey cluster, of three masters with a replica each, for one
    test, which may kill a master: its replica is promoted 1.5 s (node timeout) and an election
    later."""
    directory = str(tmp_path_factory.mktemp("cluster-replicas"))
    cluster = RedisClusterServer(directory, binary=request.param, replicas=1, node_timeout=1500)
    yield from _session_server(cluster)


@pytest.fixture
def own_redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisClusterServer]:
    """A three-master Redis Cluster for one test, which may move slots between masters."""
    directory = str(tmp_path_factory.mktemp("redis-cluster"))
    yield from _session_server(RedisClusterServer(directory))


@pytest.fixture(scope="session")
def valkey_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisClusterServer]:
    """A three-master Valkey cluster for the session."""
    directory = str(tmp_path_factory.mktemp("valkey-cluster"))
    yield from _session_server(RedisClusterServer(directory, binary="valkey-server"))


CLUSTERS = ("redis_cluster", "valkey_cluster")
"""The clusters RedisStore is tested against, by fixture name."""

SERVERS = ("redis_server", "valkey_server", *CLUSTERS)
"""The servers RedisStore is tested against, by fixture name."""


@pytest.fixture(params=CLUSTERS)
def any_cluster(request: pytest.FixtureRequest) -> RedisClusterServer:
    """A Redis Cluster and a Valkey cluster, in turn."""
    server: RedisClusterServer = request.getfixturevalue(request.param)
    return server


@pytest.fixture(params=SERVERS)
def any_redis(request: pytest.FixtureRequest) -> RedisServer | RedisClusterServer:
    """Each of redis-server, valkey-server, a Redis Cluster and a Valkey cluster, in turn."""
    server: RedisServer | RedisClusterServer = request.getfixturevalue(request.param)
    return server


@pytest.fixture
def own_redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A redis-server for one test, which may stop and restart it."""
    server = RedisServer(str(tmp_path_factory.mktemp("redis")))
    server.start()
    yield server
    server.stop()
