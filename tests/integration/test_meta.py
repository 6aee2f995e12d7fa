"""The event stream, metrics and the OpenAPI document the API serves."""

import json
import os

import requests
import yaml

from harness import REPO, is_problem, upload, wait_final
from openapi_check import validate_schema


def read_events(response):
    """Yields (event, data) from a text/event-stream response."""
    event, data = None, []
    for raw in response.iter_lines(chunk_size=1, decode_unicode=True):
        if raw is None:
            continue
        if raw == "":
            if event:
                yield event, json.loads("\n".join(data))
            event, data = None, []
        elif raw.startswith("event:"):
            event = raw[6:].strip()
        elif raw.startswith("data:"):
            data.append(raw[5:].strip())


def big_file(rows):
    return ("Email,First Name,Last Name\n" +
            "".join(f"sse{i:06d}@example.org,First{i},Last{i}\n" for i in range(rows))).encode()


def test_events_follow_an_import_to_its_end(roster):
    sandbox = roster.sandbox()
    try:
        api = sandbox.start_api()
        account = sandbox.new_account()
        sandbox.start_worker(ROSTER_BATCH_ROWS="200", ROSTER_WORKER_CONCURRENCY="1")
        iid = upload(api, account, data=big_file(20000), role="la_user").json()["id"]
        with requests.get(f"{api.base}/v1/imports/{iid}/events", headers=account.headers, stream=True,
                          timeout=120) as r:
            assert r.status_code == 200
            assert r.headers["Content-Type"].startswith("text/event-stream")
            events = list(read_events(r))
        kinds = [e for e, _ in events]
        assert kinds[-1] == "state" and kinds[:-1] == ["progress"] * (len(kinds) - 1)
        assert len(kinds) >= 3, kinds  # it was seen moving
        processed = [d["counts"]["rows_processed"] for _, d in events]
        assert processed == sorted(processed)
        for _, data in events:
            validate_schema("ImportEvent", data)
        final = events[-1][1]
        assert final["state"] == "completed" and final["counts"]["created"] == 20000 and final["id"] == iid

        # A finished import: its state at once, and the end.
        with requests.get(f"{api.base}/v1/imports/{iid}/events", headers=account.headers, stream=True,
                          timeout=30) as r:
            assert [e for e, _ in read_events(r)] == ["progress", "state"]
    finally:
        sandbox.close()


def test_events_of_another_account_are_404(api, worker, account, other_account):
    iid = upload(api, account, data=b"Email,First Name,Last Name\nx@example.org,X,Y\n", role="la_user").json()["id"]
    wait_final(api, account, iid)
    is_problem(requests.get(f"{api.base}/v1/imports/{iid}/events", headers=other_account.headers, timeout=10), 404)
    is_problem(requests.get(f"{api.base}/v1/imports/{iid}/events", timeout=10), 401)


def test_metrics(api, worker, account):
    requests.get(f"{api.base}/v1/imports", headers=account.headers, timeout=10)
    r = requests.get(f"{api.base}/metrics", timeout=10)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/plain")
    lines = dict(line.rsplit(" ", 1) for line in r.text.splitlines() if line and not line.startswith("#"))
    assert int(lines['roster_http_responses_total{class="2xx"}']) >= 1
    assert 'roster_imports{state="queued"}' in lines
    assert "roster_queue_messages" in lines and "roster_invites_unpublished" in lines


def test_openapi_document_is_served(api):
    with open(os.path.join(REPO, "openapi", "openapi.yaml"), encoding="utf-8") as f:
        expected = yaml.safe_load(f)
    assert requests.get(f"{api.base}/openapi.json", timeout=10).json() == expected
    r = requests.get(f"{api.base}/openapi.yaml", timeout=10)
    assert yaml.safe_load(r.content) == expected


def test_open_event_streams_do_not_hold_up_shutdown(roster):
    import threading
    import time
    sandbox = roster.sandbox()
    try:
        api = sandbox.start_api()
        account = sandbox.new_account()
        # No worker: the import stays queued and its stream stays open.
        iid = upload(api, account, data=b"Email,First Name,Last Name\nx@example.org,X,Y\n", role="la_user").json()["id"]
        seen = []

        def listen():
            try:
                with requests.get(f"{api.base}/v1/imports/{iid}/events", headers=account.headers, stream=True,
                                  timeout=60) as r:
                    for event in read_events(r):
                        seen.append(event[0])
            except requests.RequestException:
                pass

        t = threading.Thread(target=listen, daemon=True)
        t.start()
        deadline = time.monotonic() + 10
        while not seen and time.monotonic() < deadline:
            time.sleep(0.05)
        assert seen == ["progress"]
        started = time.monotonic()
        assert api.stop() == 0
        assert time.monotonic() - started < 5
        t.join(5)
        assert not t.is_alive()
    finally:
        sandbox.close()
