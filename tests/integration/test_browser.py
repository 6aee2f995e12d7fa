"""A real browser on another origin: headless Chromium, driven by
playwright-core, uploads a file from a page, follows the import with
EventSource to its end and downloads the error CSV (scripts/test installs
both; ROSTER_PLAYWRIGHT_CORE and ROSTER_CHROMIUM name them)."""

import functools
import http.server
import json
import os
import subprocess
import threading

import pytest

from harness import free_port

SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "browser", "follow_import.cjs")
PLAYWRIGHT = os.environ.get("ROSTER_PLAYWRIGHT_CORE")

pytestmark = pytest.mark.skipif(not PLAYWRIGHT, reason="scripts/test provides Chromium and playwright-core")

CSV = ("Email,First Name,Last Name,Phone\n"
       "web1@example.org,Web,One,\n"
       "web2@example.org,Web,Two,123\n"
       "web3@example.org,Web,Three,\n")


@pytest.fixture
def page_origin(tmp_path):
    """An empty page served from an origin of its own."""
    (tmp_path / "index.html").write_text("<!doctype html><title>SPA</title>")
    port = free_port()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{port}"
    server.shutdown()
    server.server_close()


def test_a_page_on_another_origin_follows_an_import_with_eventsource(roster, worker, account, page_origin):
    api = roster.start_api(ROSTER_CORS_ORIGINS=page_origin)
    args = {"page": page_origin + "/index.html", "api": api.base,
            "token": account.token, "csv": CSV}
    out = subprocess.run(["node", SCRIPT, json.dumps(args)], capture_output=True, text=True, timeout=180,
                         env=dict(os.environ, ROSTER_PLAYWRIGHT_CORE=PLAYWRIGHT))
    assert out.returncode == 0, out.stderr[-4000:]
    seen = json.loads(out.stdout.strip().splitlines()[-1])

    assert seen["origin"] == page_origin
    assert seen["upload_status"] == 202 and seen["location"] == f"/v1/imports/{seen['id']}"
    events = seen["events"]
    assert events["final"]["state"] == "completed_with_errors", events
    assert (events["final"]["counts"]["created"], events["final"]["counts"]["failed"]) == (2, 1)
    assert events["progress"] and events["progress"][-1] == "completed_with_errors"
    # The download's name, which the SPA can read only when it is exposed.
    assert seen["csv_status"] == 200
    assert seen["content_disposition"] and "attachment" in seen["content_disposition"], seen
    assert ".csv" in seen["content_disposition"]
    assert seen["csv"].splitlines()[0] == "Email,First Name,Last Name,Phone,line,error"
    assert "web2@example.org" in seen["csv"]
    # The events token did not reach the log.
    assert "access_token" not in api.output()
