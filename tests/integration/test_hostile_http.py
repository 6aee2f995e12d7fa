"""Requests no well-behaved client sends, over raw sockets where requests
would not send them: each is answered with a problem document (or served
as it should be), and after each the API still answers /healthz. At the
end the process is the one that started, its memory where it was."""

import json
import socket
import time

import pytest
import requests

from harness import is_problem, measures_memory, proc_status_kib


@pytest.fixture(scope="module")
def hostile(roster):
    api = roster.start_api()
    api.account = roster.new_account()
    api.rss_at_start = proc_status_kib(api.pid, "VmRSS")
    yield api
    # It stops as asked, and a sanitizer build finds nothing leaked.
    assert api.stop() == 0, api.output()[-3000:]
    out = api.output()
    for mark in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:"):
        assert mark not in out, out[out.index(mark) - 200:][:6000]


def address(api):
    host, port = api.base.split("//")[1].split(":")
    return host, int(port)


def exchange(api, data, source=None, timeout=10, pause=0.0):
    """Sends data (bytes, or a list of pieces with `pause` seconds between
    them) on a new connection and reads until the server closes it or
    `timeout` passes. A server that closes while the data is still being
    sent is fine: what it answered is returned."""
    s = socket.socket()
    try:
        if source:
            s.bind((source, 0))
        s.settimeout(timeout)
        s.connect(address(api))
        deadline = time.monotonic() + timeout
        try:
            for piece in data if isinstance(data, list) else [data]:
                s.sendall(piece)
                if pause:
                    time.sleep(pause)
        except OSError:
            pass
        out = b""
        while time.monotonic() < deadline:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            except OSError:
                break
            if not chunk:
                break
            out += chunk
        return out
    finally:
        s.close()


class Response:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body

    def __repr__(self):
        return f"<{self.status} {self.headers.get('content-type')} {self.body[:300]!r}>"


def parse_responses(data):
    """The HTTP/1.1 responses in data, in order."""
    out = []
    while data:
        head, sep, rest = data.partition(b"\r\n\r\n")
        assert sep, f"an incomplete response: {data[:500]!r}"
        lines = head.split(b"\r\n")
        version, status = lines[0].split(b" ", 2)[:2]
        assert version == b"HTTP/1.1", lines[0]
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            headers[name.decode().strip().lower()] = value.decode().strip()
        if "content-length" in headers:
            n = int(headers["content-length"])
            assert len(rest) >= n, f"a body cut short: {data[:500]!r}"
            body, data = rest[:n], rest[n:]
        else:
            body, data = rest, b""
        out.append(Response(int(status), headers, body))
    return out


def one_response(data):
    responses = parse_responses(data)
    assert len(responses) == 1, responses
    return responses[0]


def problem(response, status, code):
    """Checks a raw response is the problem document expected."""
    assert response.status == status, response
    assert response.headers.get("content-type", "").startswith("application/problem+json"), response
    body = json.loads(response.body)
    for key in ("type", "title", "status", "detail", "code"):
        assert key in body, body
    assert body["status"] == status and body["code"] == code, body
    assert body["type"] == f"urn:roster:problem:{code}"
    return body


def still_serves(api):
    r = requests.get(api.base + "/healthz", timeout=5)
    assert r.status_code == 200 and r.json() == {"status": "ok"}, r.text


def request(method, path, headers=(), body=b"", version="HTTP/1.1"):
    head = f"{method} {path} {version}\r\nHost: roster.test\r\n".encode()
    for name, value in headers:
        head += (name.encode() if isinstance(name, str) else name) + b": " + \
            (value.encode() if isinstance(value, str) else value) + b"\r\n"
    return head + b"\r\n" + body


def bearer(token):
    return ("Authorization", f"Bearer {token}")


@pytest.mark.parametrize("encoding", ["gzip", "gzip, chunked", "chunked, gzip", "identity", "deflate"])
def test_transfer_codings_other_than_chunked_are_501_at_once(hostile, encoding):
    started = time.monotonic()
    data = exchange(hostile, request("POST", "/v1/imports", [bearer(hostile.account.token),
                                                             ("Content-Type", "text/csv"),
                                                             ("Transfer-Encoding", encoding)], b"5\r\nabcde\r\n"))
    problem(one_response(data), 501, "unsupported_transfer_encoding")
    assert time.monotonic() - started < 5
    still_serves(hostile)


def test_two_transfer_encoding_headers_are_501(hostile):
    data = exchange(hostile, request("POST", "/v1/imports", [("Transfer-Encoding", "chunked"),
                                                             ("Transfer-Encoding", "gzip")], b"0\r\n\r\n"))
    problem(one_response(data), 501, "unsupported_transfer_encoding")
    still_serves(hostile)


def test_content_length_with_transfer_encoding_is_400(hostile):
    data = exchange(hostile, request("POST", "/v1/imports", [bearer(hostile.account.token),
                                                             ("Content-Type", "text/csv"),
                                                             ("Content-Length", "5"),
                                                             ("Transfer-Encoding", "chunked")], b"0\r\n\r\n"))
    problem(one_response(data), 400, "conflicting_content_length")
    still_serves(hostile)


def test_chunked_in_http_1_0_is_400(hostile):
    data = exchange(hostile, request("POST", "/v1/imports", [("Transfer-Encoding", "chunked")], b"0\r\n\r\n",
                                     version="HTTP/1.0"))
    problem(one_response(data), 400, "bad_request")
    still_serves(hostile)


def test_two_different_content_lengths_are_400(hostile):
    # The first would make "hello" the body; the second, part of a
    # second request: what a proxy in front and this server must not
    # disagree on.
    data = exchange(hostile, request("GET", "/healthz", [("Content-Length", "0"), ("Content-Length", "5")],
                                     b"hello"))
    problem(one_response(data), 400, "conflicting_content_length")
    data = exchange(hostile, request("POST", "/v1/imports", [bearer(hostile.account.token),
                                                             ("Content-Type", "text/csv"),
                                                             ("Content-Length", "5"), ("Content-Length", "50")],
                                     b"hello"))
    problem(one_response(data), 400, "conflicting_content_length")
    still_serves(hostile)


def test_the_same_content_length_twice_is_taken(hostile):
    data = exchange(hostile, request("GET", "/healthz", [bearer(hostile.account.token), ("Content-Length", "5"),
                                                         ("Content-Length", "5"), ("Connection", "close")],
                                     b"hello"))
    r = one_response(data)
    assert r.status == 200 and json.loads(r.body) == {"status": "ok"}, r
    still_serves(hostile)


@pytest.mark.parametrize("name, value", [
    (b"X-Note", b"one\rtwo"),
    (b"X-Note", b"one\x01two"),
    (b"X-Note", b"one\x7ftwo"),
    (b"Content-Length ", b"5"),
    (b"X Note", b"one"),
])
def test_control_characters_and_spaces_in_headers_are_400(hostile, name, value):
    data = exchange(hostile, request("GET", "/healthz", [(name, value)]))
    problem(one_response(data), 400, "invalid_header")
    still_serves(hostile)


def test_a_form_part_without_a_name_is_refused(hostile):
    form = (b"--xyzboundary\r\nContent-Disposition: form-data; filename=\"f.csv\"\r\n\r\n"
            b"email,first_name,last_name\na@example.org,A,B\r\n--xyzboundary--\r\n")
    ctype = ("Content-Type", "multipart/form-data; boundary=xyzboundary")
    # This used to crash roster-api. A read-only token may not upload...
    token = hostile.account.token_with("imports:read")
    data = exchange(hostile, request("POST", "/v1/imports", [bearer(token), ctype,
                                                             ("Content-Length", str(len(form)))], form))
    problem(one_response(data), 403, "insufficient_scope")
    still_serves(hostile)
    # ...and one that may learns what is wrong with its form.
    data = exchange(hostile, request("POST", "/v1/imports", [bearer(hostile.account.token), ctype,
                                                             ("Content-Length", str(len(form))),
                                                             ("Connection", "close")], form))
    problem(one_response(data), 400, "invalid_multipart")
    still_serves(hostile)


def account_imports(roster, slug):
    with roster.db() as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM imports i JOIN accounts a ON a.id = i.account_id WHERE a.slug = %s",
                    (slug,))
        return cur.fetchone()[0]


def test_a_form_cut_off_before_its_closing_boundary_is_refused(roster, hostile):
    account = roster.new_account()
    form = (b"--xyzboundary\r\nContent-Disposition: form-data; name=\"role\"\r\n\r\nla_user\r\n"
            b"--xyzboundary\r\nContent-Disposition: form-data; name=\"file\"; filename=\"f.csv\"\r\n\r\n"
            b"email,first_name,last_name\na@example.org,Anne,Bloggs\nb@example.org,Bea,Bloggsworth")
    data = exchange(hostile, request("POST", "/v1/imports", [bearer(account.token),
                                                             ("Content-Type", "multipart/form-data; boundary=xyzboundary"),
                                                             ("Content-Length", str(len(form)))], form))
    body = problem(one_response(data), 400, "invalid_multipart")
    assert "cut off" in body["detail"]
    assert account_imports(roster, account.slug) == 0
    assert account.users() == []
    still_serves(hostile)


def test_a_newline_in_the_path_does_not_forge_log_lines(hostile):
    # libmicrohttpd decodes the path: %0a is a newline in what roster logs.
    # Answered by the guard (a body, no token), then by a handler.
    data = exchange(hostile, request("POST", "/v1/imports/x%0aFORGED", [("Content-Length", "5")], b"hello"))
    problem(one_response(data), 401, "unauthenticated")
    data = exchange(hostile, request("POST", "/v1/imports/x%0aFORGED", [("Content-Length", "0"),
                                                                         ("Connection", "close")]))
    problem(one_response(data), 405, "method_not_allowed")
    still_serves(hostile)
    log = hostile.output()
    assert not any(line.startswith("FORGED") for line in log.splitlines()), log[-3000:]
    assert "\\x0aFORGED" in log, log[-3000:]


def test_a_long_chunk_extension_is_400(hostile):
    data = exchange(hostile, request("POST", "/v1/imports", [bearer(hostile.account.token),
                                                             ("Content-Type", "text/csv"),
                                                             ("Transfer-Encoding", "chunked")],
                                     b"5;" + b"x" * 50_000 + b"\r\nhello\r\n0\r\n\r\n"))
    body = problem(one_response(data), 400, "bad_request")
    assert "chunk" in body["detail"]
    still_serves(hostile)


def test_a_100_kb_request_line_is_414(hostile):
    data = exchange(hostile, request("GET", "/v1/imports?q=" + "a" * 100_000, [bearer(hostile.account.token)]))
    problem(one_response(data), 414, "uri_too_long")
    still_serves(hostile)


@pytest.mark.parametrize("headers", [
    [("X-Big", "b" * 100_000)],
    [(f"X-Many-{i}", "v") for i in range(5000)],
], ids=["one 100 KB header", "5,000 headers"])
def test_too_much_header_is_431(hostile, headers):
    data = exchange(hostile, request("GET", "/healthz", headers))
    problem(one_response(data), 431, "headers_too_large")
    still_serves(hostile)


def test_http_0_9_is_400(hostile):
    problem(one_response(exchange(hostile, b"GET /\r\n")), 400, "bad_request")
    still_serves(hostile)


def test_http_2_0_is_505(hostile):
    body = problem(one_response(exchange(hostile, request("GET", "/", version="HTTP/2.0"))), 505,
                   "http_version_not_supported")
    still_serves(hostile)
    # Logged once, by roster, with the id the client saw.
    log = hostile.output()
    assert f"request {body['request_id']}: 505 (http_version_not_supported)" in log, log[-3000:]
    assert "<html>" not in log and "failed to queue" not in log, log[-3000:]


def test_a_boundary_over_70_characters_is_400(hostile):
    data = exchange(hostile, request("POST", "/v1/imports", [bearer(hostile.account.token),
                                                             ("Content-Type", "multipart/form-data; boundary=" + "b" * 71),
                                                             ("Content-Length", "4")], b"--b\n"))
    problem(one_response(data), 400, "invalid_multipart")
    still_serves(hostile)


def test_nul_in_a_header(hostile):
    # libmicrohttpd ends a header value at a NUL: the rest never reaches
    # roster, and the request is served without it.
    data = exchange(hostile, request("GET", "/healthz", [("X-Note", b"one\x00two"), ("Connection", "close")]))
    r = one_response(data)
    assert r.status == 200 and json.loads(r.body) == {"status": "ok"}, r
    # In a name there is then no colon: a malformed header.
    data = exchange(hostile, request("GET", "/healthz", [(b"X-No\x00te", b"one")]))
    problem(one_response(data), 400, "bad_request")
    still_serves(hostile)


@pytest.mark.parametrize("length, status, code", [
    ("-5", 400, "bad_request"),
    ("five", 400, "bad_request"),
    ("5, 5", 400, "bad_request"),
    ("99999999999999999999999", 413, "body_too_large"),
    ("9223372036854775807", 413, "file_too_large"),
])
def test_content_lengths_that_cannot_be_taken(hostile, length, status, code):
    data = exchange(hostile, request("POST", "/v1/imports", [bearer(hostile.account.token),
                                                             ("Content-Type", "text/csv"),
                                                             ("Content-Length", length)], b"hello"))
    problem(one_response(data), status, code)
    still_serves(hostile)


@pytest.mark.parametrize("extra, answered", [
    (b"mallory@example.org,Mal Lory,Smith Jones\n\r\n", True),
    (b"mallory@example.org,Mal,Lory\n\r\n", False),
])
def test_bytes_after_the_declared_body_are_not_part_of_it(roster, hostile, extra, answered):
    account = roster.new_account()
    csv = b"Email,First Name,Last Name\njane@example.org,Jane,Doe\n"
    data = exchange(hostile, request("POST", "/v1/imports?role=la_user", [bearer(account.token),
                                                                          ("Content-Type", "text/csv"),
                                                                          ("Content-Length", str(len(csv)))],
                                     csv + extra))
    responses = parse_responses(data)
    assert responses[0].status == 202, responses
    assert json.loads(responses[0].body)["counts"]["rows_total"] == 1
    # The rest is read as the next request, which it is not: a line with
    # spaces has the shape of a request line and is answered 400; one
    # without is closed without an answer by libmicrohttpd.
    if answered:
        assert len(responses) == 2, responses
        problem(responses[1], 400, "bad_request")
    else:
        assert len(responses) == 1, responses
    assert account_imports(roster, account.slug) == 1
    still_serves(hostile)


def test_the_process_survived_all_of_it(hostile):
    """Last: no crash hidden by a restart, and nothing kept of what came."""
    assert hostile.alive()
    with open(f"/proc/{hostile.pid}/status") as f:
        assert "roster-api" in f.read()
    still_serves(hostile)
    if measures_memory():
        rss = proc_status_kib(hostile.pid, "VmRSS")
        assert rss < 2 * hostile.rss_at_start, (rss, hostile.rss_at_start)
