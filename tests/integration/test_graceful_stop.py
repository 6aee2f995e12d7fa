"""SIGTERM stops roster-api gracefully: no new connections, uploads in
flight finish (202), event streams end with a last `reconnect` event,
then the process exits 0. A second signal stops it at once."""

import http.client
import json
import signal
import socket
import threading
import time
import uuid

import pytest
import requests

from harness import upload, wait_until


def multipart(fields, filename, data):
    boundary = "roster-" + uuid.uuid4().hex
    body = b"".join(f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
                    for k, v in fields.items())
    body += (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
             "Content-Type: text/csv\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
    return f"multipart/form-data; boundary={boundary}", body


@pytest.fixture
def stack(roster):
    s = roster.sandbox()
    yield s
    s.close()


def refused(base):
    host, port = base.rsplit("/", 1)[1].split(":")
    try:
        socket.create_connection((host, int(port)), timeout=2).close()
        return False
    except OSError:
        return True


def test_sigterm_lets_an_upload_finish_and_ends_event_streams(stack):
    api = stack.start_api(ROSTER_DRAIN_SECONDS="20")
    account = stack.new_account()
    # A queued import (no worker): its event stream stays open.
    queued = upload(api, account, data=b"Email,First Name,Last Name\nq@example.org,Q,Q\n", role="la_user")
    queued_id = queued.json()["id"]
    events = requests.get(f"{api.base}/v1/imports/{queued_id}/events", headers=account.headers, stream=True,
                          timeout=30)
    assert events.status_code == 200
    lines = []

    def read_events():
        for line in events.iter_lines(decode_unicode=True):
            lines.append(line)

    reader = threading.Thread(target=read_events)
    reader.start()
    wait_until(lambda: any(line.startswith("event: progress") for line in lines), what="the first event")

    # An upload whose body is half sent when the signal comes.
    rows = "".join(f"u{i}@example.org,First{i},Last{i}\n" for i in range(2000))
    ctype, body = multipart({"role": "la_user"}, "staff.csv", ("Email,First Name,Last Name\n" + rows).encode())
    host, port = api.base.rsplit("/", 1)[1].split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    conn.putrequest("POST", "/v1/imports")
    conn.putheader("Authorization", f"Bearer {account.token}")
    conn.putheader("Content-Type", ctype)
    conn.putheader("Content-Length", str(len(body)))
    conn.endheaders()
    half = len(body) // 2
    conn.send(body[:half])
    time.sleep(0.3)

    # A load balancer's connection, open before the signal.
    probe = requests.Session()
    assert probe.get(f"{api.base}/readyz", timeout=10).status_code == 200

    api.proc.send_signal(signal.SIGTERM)
    # The load balancer is told at once, on the connection it has.
    wait_until(lambda: probe.get(f"{api.base}/readyz", timeout=10).status_code == 503, timeout=5,
               what="/readyz saying stopping")
    probe.close()
    # The stream gets its last event and ends.
    reader.join(10)
    assert not reader.is_alive(), "the event stream ended"
    assert "event: reconnect" in lines and "retry: 1000" in lines, lines
    data = json.loads(next(line for line in lines[lines.index("event: reconnect"):] if line.startswith("data:"))[5:])
    assert data["id"] == queued_id
    # No new connections, while the upload goes on.
    wait_until(lambda: refused(api.base), timeout=5, what="new connections refused")
    assert api.alive(), "the API waits for the upload in flight"

    conn.send(body[half:])
    resp = conn.getresponse()
    answer = resp.read()
    assert resp.status == 202, answer
    assert resp.getheader("Connection", "").lower() == "close"
    new_id = json.loads(answer)["id"]
    conn.close()

    api.proc.wait(15)
    assert api.proc.returncode == 0, api.output()[-2000:]
    assert "1 request in flight" in api.output() or "requests in flight" in api.output()
    # The upload was stored whole.
    with stack.db() as db, db.cursor() as cur:
        cur.execute("SELECT state, rows_total FROM imports WHERE id = %s", (new_id,))
        assert cur.fetchone() == ("queued", 2000)


def test_a_second_signal_stops_at_once(stack):
    api = stack.start_api(ROSTER_DRAIN_SECONDS="60")
    account = stack.new_account()
    ctype, body = multipart({"role": "la_user"}, "staff.csv", b"Email,First Name,Last Name\na@example.org,A,B\n")
    host, port = api.base.rsplit("/", 1)[1].split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    conn.putrequest("POST", "/v1/imports")
    conn.putheader("Authorization", f"Bearer {account.token}")
    conn.putheader("Content-Type", ctype)
    conn.putheader("Content-Length", str(len(body)))
    conn.endheaders()
    conn.send(body[:20])  # and never the rest
    time.sleep(0.3)
    api.proc.send_signal(signal.SIGTERM)
    time.sleep(1)
    assert api.alive(), "draining"
    started = time.monotonic()
    api.proc.send_signal(signal.SIGINT)
    api.proc.wait(10)
    assert time.monotonic() - started < 5
    assert api.proc.returncode == 0
    assert "second signal" in api.output()
    conn.close()
