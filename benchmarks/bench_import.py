"""Start-up cost of zoom-async: import, first use of a namespace, memory of the whole typed API.

Each figure is measured in a fresh interpreter (``python -c``, bytecode already compiled), the
median of ``--runs`` runs:

* ``import zoom_async`` (and, for reference, ``import httpx`` and ``import pydantic`` alone,
  which it cannot avoid);
* first use of one namespace: ``zoom.meetings`` (imports its method module) and the first call
  of a method that returns a model (imports the namespace's models and builds the one model);
* memory: resident set size after ``import zoom_async``, and after touching every namespace
  and importing every model module.

Budgets from the issue: import <= 150 ms, first namespace use <= 50 ms.
Run: ``python benchmarks/bench_import.py [--runs 9]``
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys

PROBES: dict[str, str] = {
    "import httpx": """
import time; t = time.perf_counter(); import httpx; out = time.perf_counter() - t
""",
    "import pydantic (BaseModel)": """
import time; t = time.perf_counter(); from pydantic import BaseModel; out = time.perf_counter() - t
""",
    "import zoom_async": """
import time; t = time.perf_counter(); import zoom_async; out = time.perf_counter() - t
""",
    "zoom.meetings (first use)": """
import zoom_async, time
zoom = zoom_async.ZoomClient(account_id="a", client_id="b", client_secret="c")
t = time.perf_counter(); zoom.meetings.get; out = time.perf_counter() - t
""",
    "zoom.phone.call_queues (first use)": """
import zoom_async, time
zoom = zoom_async.ZoomClient(account_id="a", client_id="b", client_secret="c")
t = time.perf_counter(); zoom.phone.call_queues.list; out = time.perf_counter() - t
""",
    "meetings.get model (first parse)": """
import zoom_async, time
zoom = zoom_async.ZoomClient(account_id="a", client_id="b", client_secret="c")
ns = zoom.meetings
t = time.perf_counter()
ns._parse("MeetingsGetResponse", {"id": 1, "topic": "x", "settings": {"host_video": True}})
out = time.perf_counter() - t
""",
}

MEMORY = """
import gc, resource, importlib
def rss():
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * resource.getpagesize()
import zoom_async
from zoom_async._generated.api import NAMESPACES
gc.collect(); before = rss()
zoom = zoom_async.ZoomClient(account_id="a", client_id="b", client_secret="c")
for path, module in NAMESPACES.items():
    target = zoom
    for part in path.split("."):
        target = getattr(target, part)
    importlib.import_module(target._models_module)
gc.collect(); after = rss()
out = [before, after, len(NAMESPACES)]
"""


def run(code: str) -> object:
    wrapped = code + "\nimport json, sys; sys.stdout.write(json.dumps(out))\n"
    done = subprocess.run(
        [sys.executable, "-c", wrapped], check=True, capture_output=True, text=True
    )
    return json.loads(done.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args()
    for code in (*PROBES.values(), MEMORY):  # warm: compile bytecode, fill the page cache
        run(code)
    print(f"median of {args.runs} fresh interpreters (Python {sys.version.split()[0]})")
    for name, code in PROBES.items():
        times = [float(run(code)) * 1000 for _ in range(args.runs)]  # type: ignore[arg-type]
        print(
            f"  {name:38} {statistics.median(times):7.1f} ms"
            f"   (min {min(times):.1f}, max {max(times):.1f})"
        )
    before, after, count = run(MEMORY)  # type: ignore[misc]
    print(f"  RSS after import zoom_async          {before / 2**20:7.1f} MiB")
    print(
        f"  RSS after all {count} namespaces + models {after / 2**20:5.1f} MiB "
        f"(+{(after - before) / 2**20:.1f} MiB)"
    )


if __name__ == "__main__":
    main()
