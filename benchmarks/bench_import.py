"""Start-up cost of zoom-async: import, first use of a namespace, memory of the whole typed API.

Each figure is measured in a fresh interpreter (``python -c``, bytecode already compiled), the
median of ``--runs`` runs, as wall time and as the process's CPU time (steadier on a busy
machine):

* ``import zoom_async`` (and, for reference, ``import httpx`` and ``import pydantic`` alone),
  also as a plain install sees it: without click and rich, which httpx imports for its command
  line when they are installed (the ``dev`` and ``cli`` extras install them);
* first use of one namespace: ``zoom.meetings`` (imports its method module) and the first call
  of a method that returns a model (imports pydantic and the namespace's models and builds the
  one model), also split: with pydantic already imported (an app that uses it), and with the
  namespace's models already imported (what is left: building the model's validator);
* memory: resident set size after ``import zoom_async``, and after touching every namespace
  and importing every model module.

Budgets from the issue: import <= 150 ms, first namespace use <= 50 ms.
Run: ``python benchmarks/bench_import.py [--runs 9]``
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

START = "t, c = time.perf_counter(), time.process_time()"
STOP = "out = [time.perf_counter() - t, time.process_time() - c]"

PROBES: dict[str, str] = {
    "import httpx": """
import time
{START}
import httpx
{STOP}
""",
    "import pydantic (BaseModel)": """
import time
{START}
from pydantic import BaseModel
{STOP}
""",
    "import zoom_async": """
import time
{START}
import zoom_async
{STOP}
""",
    "import zoom_async, no click/rich": """
import sys, time
# httpx imports its command line (click, rich, pygments) when they are installed; a plain
# ``pip install zoom-async`` has none of them.
sys.modules.update(click=None, rich=None, pygments=None)
{START}
import zoom_async
{STOP}
""",
    "zoom.meetings (first use)": """
import zoom_async, time
zoom = zoom_async.ZoomClient(account_id="a", client_id="b", client_secret="c")
{START}
zoom.meetings.get
{STOP}
""",
    "zoom.phone.call_queues (first use)": """
import zoom_async, time
zoom = zoom_async.ZoomClient(account_id="a", client_id="b", client_secret="c")
{START}
zoom.phone.call_queues.list
{STOP}
""",
    "meetings.get model (first parse)": """
import zoom_async, time
zoom = zoom_async.ZoomClient(account_id="a", client_id="b", client_secret="c")
ns = zoom.meetings
{START}
ns._parse("MeetingsGetResponse", {"id": 1, "topic": "x", "settings": {"host_video": True}})
{STOP}
""",
    "meetings.get model, pydantic loaded": """
import zoom_async, time
import pydantic.plugin._loader
from pydantic import BaseModel, Field
# An app that already uses pydantic (FastAPI...) has paid for its import and plugin scan.
pydantic.plugin._loader.get_plugins()
zoom = zoom_async.ZoomClient(account_id="a", client_id="b", client_secret="c")
ns = zoom.meetings
{START}
ns._parse("MeetingsGetResponse", {"id": 1, "topic": "x", "settings": {"host_video": True}})
{STOP}
""",
    "meetings.get model, its module loaded": """
import zoom_async, time
zoom = zoom_async.ZoomClient(account_id="a", client_id="b", client_secret="c")
ns = zoom.meetings
import zoom_async._generated.models.meetings
{START}
ns._parse("MeetingsGetResponse", {"id": 1, "topic": "x", "settings": {"host_video": True}})
{STOP}
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


# An installed package has its bytecode (pip compiles it): the warm-up run writes it even where
# the environment says not to, or every figure would include compiling the sources.
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def run(code: str) -> object:
    wrapped = code + "\nimport json, sys; sys.stdout.write(json.dumps(out))\n"
    done = subprocess.run(
        [sys.executable, "-c", wrapped], check=True, capture_output=True, text=True, env=ENV
    )
    return json.loads(done.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args()
    # Warm up: compile bytecode, fill the page cache.
    for template in (*PROBES.values(), MEMORY):
        run(template.replace("{START}", START).replace("{STOP}", STOP))
    print(f"median of {args.runs} fresh interpreters (Python {sys.version.split()[0]})")
    for name, template in PROBES.items():
        code = template.replace("{START}", START).replace("{STOP}", STOP)
        runs = [run(code) for _ in range(args.runs)]
        wall = [float(r[0]) * 1000 for r in runs]  # type: ignore[index]
        cpu = [float(r[1]) * 1000 for r in runs]  # type: ignore[index]
        print(
            f"  {name:38} {statistics.median(wall):7.1f} ms wall (min {min(wall):.1f})"
            f"  {statistics.median(cpu):7.1f} ms CPU (min {min(cpu):.1f})"
        )
    before, after, count = run(MEMORY)  # type: ignore[misc]
    print(f"  RSS after import zoom_async          {before / 2**20:7.1f} MiB")
    print(
        f"  RSS after all {count} namespaces + models {after / 2**20:5.1f} MiB "
        f"(+{(after - before) / 2**20:.1f} MiB)"
    )


if __name__ == "__main__":
    main()
