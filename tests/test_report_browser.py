"""The report in a real browser: headless Chromium loads it with every image decoded, no
console error, no network request, and working sortable tables.

Chromium is driven through the DevTools protocol over a pipe (``--remote-debugging-pipe``:
JSON messages separated by NUL bytes on file descriptors 3 and 4), with the standard
library only. Skipped when Debian's chromium is not installed (``.ci/run`` installs it).
"""

import json
import os
import select
import shutil
import subprocess
import time

import pytest

from motifscope.report import build_report
from report_helpers import REPO, make_config, make_run

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if os.path.exists(
    "/usr/bin/chromium") else None)
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run",
         "--disable-default-apps", "--remote-debugging-pipe"]


class DevTools:
    """A minimal Chrome DevTools Protocol client over --remote-debugging-pipe."""

    def __init__(self, user_data_dir):
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()

        def wire_fds():  # the browser reads commands on fd 3 and writes on fd 4
            os.dup2(to_browser_r, 3)
            os.dup2(from_browser_w, 4)

        self.proc = subprocess.Popen(
            [CHROMIUM, *FLAGS, f"--user-data-dir={user_data_dir}", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            pass_fds=(3, 4), preexec_fn=wire_fds)
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._buffer = b""
        self._next_id = 0
        self.events = []

    def _read_message(self, deadline):
        while b"\0" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("no message from chromium")
            ready, _, _ = select.select([self._from_browser], [], [], remaining)
            if ready:
                chunk = os.read(self._from_browser, 1 << 20)
                if not chunk:
                    raise RuntimeError("chromium closed the pipe: "
                                       + self.proc.stderr.read().decode(errors="replace"))
                self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def send(self, method, params=None, session=None, timeout=60):
        """Send a command and return its result (events seen meanwhile are kept)."""
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            reply = self._read_message(deadline)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_for(self, method, timeout=60):
        """Wait until an event named ``method`` arrives (or was already received)."""
        deadline = time.monotonic() + timeout
        while not any(e.get("method") == method for e in self.events):
            self.events.append(self._read_message(deadline))

    def drain(self, seconds):
        """Collect the events arriving during ``seconds``."""
        deadline = time.monotonic() + seconds
        try:
            while True:
                self.events.append(self._read_message(deadline))
        except TimeoutError:
            pass

    def close(self):
        try:
            self.send("Browser.close", timeout=10)
        except (RuntimeError, TimeoutError, OSError):
            pass
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._to_browser)
        os.close(self._from_browser)


def _open(devtools, url):
    """Attach to a new page, enable the domains that report problems, load ``url``."""
    target = devtools.send("Target.createTarget", {"url": "about:blank"})["targetId"]
    session = devtools.send("Target.attachToTarget",
                            {"targetId": target, "flatten": True})["sessionId"]
    for domain in ("Page", "Runtime", "Log", "Network"):
        devtools.send(f"{domain}.enable", session=session)
    devtools.events.clear()
    devtools.send("Page.navigate", {"url": url}, session=session)
    devtools.wait_for("Page.loadEventFired")
    devtools.drain(1.0)
    return session


def _evaluate(devtools, session, expression):
    result = devtools.send("Runtime.evaluate", {"expression": expression,
                                                "returnByValue": True,
                                                "awaitPromise": True}, session=session)
    assert "exceptionDetails" not in result, result["exceptionDetails"]
    return result["result"]["value"]


IMAGES = """Array.from(document.images).map(i => ({alt: i.alt, ok: i.complete && i.naturalWidth > 0,
 scheme: i.src.split(':')[0]}))"""

# Click a numeric header twice and read the column back after each click.
SORT = """(() => {
  const table = document.querySelector('#marginalize table.sortable');
  const headers = Array.from(table.tHead.rows[0].cells);
  const column = headers.findIndex(h => h.textContent.trim() === 'delta_mean');
  const values = () => Array.from(table.tBodies[0].rows).map(
      r => parseFloat(r.cells[column].getAttribute('data-value')));
  headers[column].click();
  const ascending = values();
  headers[column].click();
  return {ascending, descending: values(), sort: headers[column].getAttribute('aria-sort')};
})()"""


@pytest.fixture(scope="module")
def report_page(tmp_path_factory):
    root = tmp_path_factory.mktemp("browser")
    run = make_run(root)
    build_report(run, make_config(report={"n_examples": 2}), run / "report.html",
                 source_dir=REPO)
    return run / "report.html"


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed "
                                             "(apt-get install chromium; .ci/run does it)")
def test_report_loads_in_headless_chromium(report_page, tmp_path):
    devtools = DevTools(tmp_path / "profile")
    try:
        session = _open(devtools, report_page.as_uri())
        images = _evaluate(devtools, session, IMAGES)
        body = _evaluate(devtools, session, "[document.body.dataset.images, "
                                            "document.body.dataset.imagesBroken]")
        sorting = _evaluate(devtools, session, SORT)
        devtools.drain(0.5)
    finally:
        devtools.close()
    assert len(images) >= 10
    broken = [i["alt"] for i in images if not i["ok"]]
    assert not broken, f"images that did not load: {broken}"
    assert {i["scheme"] for i in images} == {"data"}
    assert body == [str(len(images)), "0"]  # the page's own check agrees
    errors = [e for e in devtools.events
              if e.get("method") == "Runtime.exceptionThrown"
              or (e.get("method") == "Runtime.consoleAPICalled"
                  and e["params"]["type"] in ("error", "assert", "warning"))
              or (e.get("method") == "Log.entryAdded"
                  and e["params"]["entry"]["level"] in ("error", "warning"))]
    assert not errors, f"console errors: {errors}"
    requests = [e["params"]["request"]["url"] for e in devtools.events
                if e.get("method") == "Network.requestWillBeSent"]
    assert requests and all(u.startswith(("file:", "data:")) for u in requests), requests
    assert sorting["ascending"] == sorted(sorting["ascending"])
    assert sorting["descending"] == sorted(sorting["ascending"], reverse=True)
    assert sorting["sort"] == "descending"
