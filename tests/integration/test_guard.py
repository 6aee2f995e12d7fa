"""What a client can make the API hold before any handler runs: bodies
are only read for authenticated callers, and only up to their limits."""

import select
import socket
import time

import pytest
import requests

from harness import measures_memory, proc_status_kib, upload, wait_until


def open_request(api, headers, path="/v1/imports"):
    host, port = api.base.split("//")[1].split(":")
    s = socket.create_connection((host, int(port)), timeout=30)
    head = f"POST {path} HTTP/1.1\r\nHost: {host}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    s.sendall((head + "\r\n").encode())
    return s


def read_status(s, timeout=30):
    s.settimeout(timeout)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    line = data.split(b"\r\n", 1)[0].decode()
    return int(line.split()[1]) if line.startswith("HTTP/") else None, data


def send_chunked_fields(s, boundary, total, stop_on_close=True):
    """Sends multipart fields, each with a new name, as chunked data."""
    sent, i = 0, 0
    try:
        while sent < total:
            part = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"f{i}\"\r\n\r\n".encode()
                    + b"x" * 60000 + b"\r\n")
            s.sendall(b"%x\r\n" % len(part) + part + b"\r\n")
            sent += len(part)
            i += 1
    except OSError:
        if not stop_on_close:
            raise
    return sent


@pytest.fixture(scope="module")
def guarded_api(roster):
    p = roster.start_api(ROSTER_MAX_UPLOAD_BYTES="8M", ROSTER_MAX_BODY_BYTES="1M")
    yield p
    p.stop()


def test_no_token_no_body_read(guarded_api):
    before = proc_status_kib(guarded_api.pid, "VmRSS")
    s = open_request(guarded_api, {"Content-Type": "multipart/form-data; boundary=zz", "Content-Length": "800000000"})
    status, data = read_status(s)
    assert status == 401, data
    assert b"application/problem+json" in data
    # The server answered without waiting for the 800 MB.
    send_chunked_fields(s, "zz", 20_000_000)
    s.close()
    if measures_memory():
        assert proc_status_kib(guarded_api.pid, "VmRSS") - before < 8 * 1024


def test_a_bad_token_is_refused_before_the_body(guarded_api, account):
    s = open_request(guarded_api, {"Authorization": "Bearer rst_" + "B" * 43, "Content-Type": "text/csv",
                                   "Content-Length": "5000000"})
    status, data = read_status(s)
    assert status == 401 and b"invalid_token" in data
    s.close()


def test_a_token_without_the_routes_scope_is_refused_before_the_body(guarded_api, account):
    # The route table says POST /v1/imports needs imports:write: a read-only
    # token learns so before it sends its 5 MB, by multipart or raw.
    for ct in ("multipart/form-data; boundary=zz", "text/csv"):
        s = open_request(guarded_api, {"Authorization": f"Bearer {account.token_with('imports:read')}",
                                       "Content-Type": ct, "Content-Length": "5000000"})
        status, data = read_status(s, timeout=10)
        assert status == 403 and b"insufficient_scope" in data and b"imports:write" in data, data
        s.close()


def test_a_small_route_takes_a_small_body(guarded_api, account):
    # Any route but the upload takes 64 KiB at most, whatever the token.
    s = open_request(guarded_api, {"Authorization": f"Bearer {account.token}", "Content-Type": "application/json",
                                   "Content-Length": str(65 * 1024)},
                     path="/v1/imports/00000000-0000-0000-0000-000000000000/cancel")
    status, data = read_status(s, timeout=10)
    assert status == 413 and b"body_too_large" in data and b"65536" in data, data
    s.close()


def test_announced_size_over_the_limit_is_refused_before_the_body(guarded_api, account):
    s = open_request(guarded_api, {"Authorization": f"Bearer {account.token}",
                                   "Content-Type": "multipart/form-data; boundary=zz",
                                   "Content-Length": str(200 * 1024 * 1024)})
    status, data = read_status(s)
    assert status == 413 and b"file_too_large" in data
    s.close()


def test_many_form_fields_are_cut_off(guarded_api, account):
    before = proc_status_kib(guarded_api.pid, "VmRSS")
    s = open_request(guarded_api, {"Authorization": f"Bearer {account.token}",
                                   "Content-Type": "multipart/form-data; boundary=zz",
                                   "Transfer-Encoding": "chunked"})
    send_chunked_fields(s, "zz", 60_000_000)
    s.sendall(b"0\r\n\r\n")
    status, data = read_status(s)
    assert status == 413 and b"fields_too_large" in data, data
    s.close()
    # ulfius kept at most the first MiB of fields.
    if measures_memory():
        assert proc_status_kib(guarded_api.pid, "VmRSS") - before < 16 * 1024


def test_chunked_raw_body_over_the_limit(guarded_api, account):
    s = open_request(guarded_api, {"Authorization": f"Bearer {account.token}", "Content-Type": "text/csv",
                                   "Transfer-Encoding": "chunked"})
    row = b"someone@example.org,Some,One\n" * 1000
    s.sendall(b"%x\r\nEmail,First Name,Last Name\n\r\n" % 27)
    for _ in range(100):  # about 3 MB, over the 1 MiB limit
        s.sendall(b"%x\r\n" % len(row) + row + b"\r\n")
    s.sendall(b"0\r\n\r\n")
    status, data = read_status(s)
    assert status == 413 and b"multipart" in data, data
    s.close()


def test_one_account_cannot_take_every_upload_slot(roster, account):
    api = roster.start_api(ROSTER_MAX_UPLOADS_PER_ACCOUNT="2")
    try:
        slow = []
        for _ in range(2):
            s = open_request(api, {"Authorization": f"Bearer {account.token}",
                                   "Content-Type": "multipart/form-data; boundary=zz",
                                   "Content-Length": "10000000"})
            s.sendall(b"--zz\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.csv\"\r\n\r\n"
                      + b"Email,First Name,Last Name\n" + b"a@example.org,A,B\n" * 1000)
            slow.append(s)
        time.sleep(0.5)
        r = upload(api, account, data=b"Email,First Name,Last Name\nx@example.org,X,Y\n", role="la_user")
        assert r.status_code == 429, r.text
        assert r.json()["code"] == "too_many_uploads"
        # A raw text/csv body is held to the same limit.
        r = requests.post(f"{api.base}/v1/imports", params={"role": "la_user"},
                          data=b"Email,First Name,Last Name\nx@example.org,X,Y\n",
                          headers={"Authorization": f"Bearer {account.token}", "Content-Type": "text/csv"},
                          timeout=10)
        assert r.status_code == 429 and r.json()["code"] == "too_many_uploads", r.text
        assert r.headers.get("Retry-After") == "5"
        # A raw body holds its slot while it streams in, as a multipart
        # one does: two slow raw bodies fill the account's slots too.
        for s in slow:
            s.close()
        wait_until(lambda: "roster_uploads_in_progress 0\n" in requests.get(f"{api.base}/metrics", timeout=10).text,
                   timeout=20, what="the closed uploads' slots back")
        slow = []
        for _ in range(2):
            s = open_request(api, {"Authorization": f"Bearer {account.token}", "Content-Type": "text/csv",
                                   "Content-Length": "100000"}, path="/v1/imports?role=la_user")
            s.sendall(b"Email,First Name,Last Name\n")
            slow.append(s)
        time.sleep(0.5)
        r = upload(api, account, data=b"Email,First Name,Last Name\nx@example.org,X,Y\n", role="la_user")
        assert r.status_code == 429 and r.json()["code"] == "too_many_uploads", r.text
        other = roster.new_account()
        r = upload(api, other, data=b"Email,First Name,Last Name\nx@example.org,X,Y\n", role="la_user")
        assert r.status_code == 202, r.text
        for s in slow:
            s.close()
    finally:
        api.stop()


def test_a_body_that_takes_too_long_is_cut_off(roster, account):
    api = roster.start_api(ROSTER_UPLOAD_TIMEOUT_SECONDS="10", ROSTER_REQUEST_TIMEOUT_SECONDS="60")
    try:
        s = open_request(api, {"Authorization": f"Bearer {account.token}",
                               "Content-Type": "multipart/form-data; boundary=zz", "Content-Length": "1000000"})
        s.sendall(b"--zz\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.csv\"\r\n\r\n"
                  b"Email,First Name,Last Name\n")
        started = time.monotonic()
        closed = False
        while time.monotonic() - started < 30:
            try:
                s.sendall(b"a@example.org,A,B\n")  # a trickle: never idle, never done
            except OSError:
                closed = True
                break
            time.sleep(0.5)
        assert closed, "the trickling connection was not closed"
        assert time.monotonic() - started < 20
    finally:
        api.stop()


def test_pool_must_cover_the_upload_slots(roster):
    import subprocess
    from harness import BIN
    env = dict(roster.env, ROSTER_DB_POOL_SIZE="5", ROSTER_MAX_CONCURRENT_UPLOADS="8")
    out = subprocess.run([BIN["api"]], env=env, capture_output=True, text=True, timeout=30)
    assert out.returncode == 1 and "ROSTER_DB_POOL_SIZE" in out.stderr


def test_multipart_without_a_usable_boundary_is_400(guarded_api, account):
    for ctype in ("multipart/form-data", "multipart/form-data; boundary=", "multipart/form-data; boundary=b",
                  "multipart/form-data; boundary=" + "x" * 71):
        s = open_request(guarded_api, {"Authorization": f"Bearer {account.token}", "Content-Type": ctype,
                                       "Content-Length": "10"})
        s.sendall(b"0123456789")
        status, data = read_status(s)
        assert status == 400 and b"invalid_multipart" in data, (ctype, data)
        s.close()


def idle_connection(api, source="127.0.0.1"):
    s = socket.socket()
    s.bind((source, 0))
    s.settimeout(5)
    s.connect(("127.0.0.1", int(api.base.rsplit(":", 1)[1])))
    return s


def closed_by_server(socks, within):
    """The sockets of socks the server closed (EOF or reset) within
    `within` seconds."""
    closed, deadline = set(), time.monotonic() + within
    while len(closed) < len(socks) and time.monotonic() < deadline:
        ready, _, _ = select.select([s for s in socks if s not in closed], [], [], 0.2)
        for s in ready:
            try:
                if s.recv(1) == b"":
                    closed.add(s)
            except OSError:
                closed.add(s)
    return closed


def healthz_from(api, source):
    s = idle_connection(api, source)
    try:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: roster.test\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := s.recv(65536):
            data += chunk
        return data
    finally:
        s.close()


def test_one_address_cannot_take_every_connection(roster):
    api = roster.start_api(ROSTER_MAX_CONNECTIONS="40", ROSTER_MAX_CONNECTIONS_PER_IP="16")
    socks = []
    try:
        time.sleep(0.5)  # the harness's own probes are gone
        socks = [idle_connection(api) for _ in range(16)]
        assert not closed_by_server(socks, within=1), "connections under the cap were closed"
        # Enough to fill the whole server, from one address: the ones over
        # its cap are closed as they arrive...
        over = [idle_connection(api) for _ in range(24)]
        socks += over
        assert closed_by_server(over, within=5) == set(over)
        # ...and another client is still served.
        assert healthz_from(api, "127.0.0.2").startswith(b"HTTP/1.1 200 ")
    finally:
        for s in socks:
            s.close()
    wait_until(lambda: healthz_from(api, "127.0.0.1").startswith(b"HTTP/1.1 200 "), timeout=10,
               what="the address to be served again")
    api.stop()


def test_the_connection_limit_is_a_setting(roster):
    api = roster.start_api(ROSTER_MAX_CONNECTIONS="8", ROSTER_MAX_CONNECTIONS_PER_IP="0")
    socks = []
    try:
        time.sleep(0.5)
        socks = [idle_connection(api) for _ in range(8)]
        assert not closed_by_server(socks, within=1)
        over = idle_connection(api, "127.0.0.2")
        socks.append(over)
        assert closed_by_server([over], within=5) == {over}
    finally:
        for s in socks:
            s.close()
        api.stop()


def test_request_headers_have_a_deadline(roster):
    """However slowly they trickle in, a request's line and headers must
    all arrive within ROSTER_HEADER_TIMEOUT_SECONDS."""
    api = roster.start_api(ROSTER_HEADER_TIMEOUT_SECONDS="3", ROSTER_REQUEST_TIMEOUT_SECONDS="60")
    try:
        s = idle_connection(api)
        slow = b"GET /healthz HTTP/1.1\r\nHost: roster.test\r\nX-Slow: " + b"a" * 60 + b"\r\n\r\n"
        started, closed = time.monotonic(), False
        for byte in slow:  # a byte a second: never idle for long, never done
            try:
                s.sendall(bytes([byte]))
            except OSError:
                closed = True
                break
            if closed_by_server([s], within=1):
                closed = True
                break
            if time.monotonic() - started > 15:
                break
        s.close()
        assert closed, "the trickling connection was not closed"
        assert time.monotonic() - started < 3 + 3
        # A connection that sends nothing goes the same way.
        s = idle_connection(api)
        assert closed_by_server([s], within=3 + 3) == {s}
        s.close()
        # On a kept-alive connection the deadline starts again when a
        # request ends: a pause shorter than it is fine, a longer one not.
        s = idle_connection(api)
        for _ in range(2):
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: roster.test\r\n\r\n")
            data = b""
            while b'{"status":"ok"}' not in data:
                chunk = s.recv(65536)
                assert chunk, data
                data += chunk
            assert data.startswith(b"HTTP/1.1 200 "), data
            time.sleep(1.5)
        started = time.monotonic()
        assert closed_by_server([s], within=3 + 3) == {s}
        assert time.monotonic() - started < 3
        s.close()
        assert requests.get(api.base + "/healthz", timeout=5).status_code == 200
    finally:
        api.stop()
