"""Uploads that must be refused, each with a specific problem and nothing
left behind; uploads cut off mid-way; memory while a big file streams."""

import hashlib
import http.client
import os
import socket
import tempfile
import time
import uuid

import pytest
import requests

from harness import (fixture, is_problem, measures_memory, proc_status_kib, upload, upload_file, wait_until,
                     write_template_csv)

GOOD = b"Email,First Name,Last Name\njane@example.org,Jane,Doe\n"


def account_imports(roster, account):
    with roster.db() as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM imports i JOIN accounts a ON a.id = i.account_id WHERE a.slug = %s",
                    (account.slug,))
        return cur.fetchone()[0]


def orphan_chunks(roster):
    with roster.db() as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM import_chunks c WHERE NOT EXISTS "
                    "(SELECT 1 FROM imports i WHERE i.id = c.import_id)")
        return cur.fetchone()[0]


def open_upload_transactions(roster):
    """roster-api's open transactions in roster's database (a sandbox's
    counts only its own)."""
    with roster.db() as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'roster-api' "
                    "AND datname = current_database() AND state LIKE 'idle in transaction%'")
        return cur.fetchone()[0]


@pytest.mark.parametrize("data, code, words", [
    (b"", "empty_file", "empty"),
    (b"\xef\xbb\xbf", "empty_file", "no header"),
    (b"Email,First Name,Last Name\r\n", "no_data_rows", "no data rows"),
    (b"PK\x03\x04\x14\x00\x06\x00" + b"\x00" * 100, "not_text", "Excel"),
    (b"Email,First Name,Last Name\njane@example.org,Ja\x00ne,Doe\n", "not_text", "line 2"),
    (b"Email,First Name,Last Name\njane@example.org,Ja\"ne,Doe\nx@example.org,X,Y\n", "bad_quote", "line 2"),
    (b"Email,First Name,Last Name\njane@example.org,\"Jane,Doe\nx@example.org,X,Y\n", "unterminated_quote",
     "line 2"),
])
def test_unimportable_files_are_422(roster, api, account, data, code, words):
    r = upload(api, account, data=data, role="la_user")
    body = is_problem(r, 422, code)
    assert words in body["detail"], body
    assert account_imports(roster, account) == 0


def test_missing_required_columns_are_422_listing_them(roster, api, account):
    r = upload(api, account, data=b"E-mail,Surname,Phone\nx@example.org,Doe,01234567\n", role="la_user")
    body = is_problem(r, 422, "missing_columns")
    assert body["missing"] == ["first_name"]
    assert body["found_headers"] == ["E-mail", "Surname", "Phone"]
    assert [e["field"] for e in body["errors"]] == ["first_name"]
    assert account_imports(roster, account) == 0


def test_no_role_column_and_no_role_option_is_422(roster, api, account):
    body = is_problem(upload(api, account, data=GOOD), 422, "missing_columns")
    assert body["missing"] == ["role"]
    assert account_imports(roster, account) == 0


@pytest.mark.parametrize("options, name", [
    ({"role": "la_user", "mode": "replace"}, "mode"),
    ({"role": "la_user", "invite": "all"}, "invite"),
    ({"role": "la_user", "dry_run": "maybe"}, "dry_run"),
    ({"role": "la_user", "delimiter": "|"}, "delimiter"),
    ({"role": "la_user", "column_map": "{not json"}, "column_map"),
    ({"role": "la_user", "column_map": '{"Lone Working": "custom.Bad Key"}'}, "column_map"),
    ({"role": "la_user", "dryrun": "true"}, "dryrun"),
    ({"role": "head_teacher"}, "role"),
])
def test_bad_options_are_400(roster, api, account, options, name):
    r = upload(api, account, data=GOOD, **options)
    body = is_problem(r, 400, "invalid_option")
    assert body["errors"][0]["name"] == name, body
    assert account_imports(roster, account) == 0


def test_role_by_display_name_is_accepted(api, account):
    r = upload(api, account, data=GOOD, role="LA User")
    assert r.status_code == 202, r.text
    assert r.json()["role"] == "la_user"


def test_other_content_types_are_415(roster, api, account):
    for ct, body in (("application/json", b'{"users": []}'), ("application/octet-stream", GOOD), (None, GOOD)):
        headers = dict(account.headers)
        if ct:
            headers["Content-Type"] = ct
        r = requests.post(api.base + "/v1/imports", data=body, headers=headers, timeout=10)
        is_problem(r, 415, "unsupported_media_type")
    assert account_imports(roster, account) == 0


def test_missing_file_part_is_400(roster, api, account):
    r = requests.post(api.base + "/v1/imports", files={"role": (None, "la_user")}, headers=account.headers,
                      timeout=10)
    is_problem(r, 400, "missing_file")
    r = requests.post(api.base + "/v1/imports", files={"file": (None, GOOD)}, headers=account.headers, timeout=10)
    body = is_problem(r, 400, "missing_file")
    assert "filename" in body["detail"]
    r = requests.post(api.base + "/v1/imports", files={"upload": ("a.csv", GOOD)}, headers=account.headers,
                      timeout=10)
    is_problem(r, 400, "invalid_option")
    assert account_imports(roster, account) == 0


def test_unknown_path_and_method(api, account):
    is_problem(requests.get(api.base + "/v2/imports", headers=account.headers, timeout=10), 404, "not_found")
    r = requests.delete(api.base + "/v1/imports", headers=account.headers, timeout=10)
    is_problem(r, 405, "method_not_allowed")
    assert "POST" in r.headers["Allow"] and "GET" in r.headers["Allow"]


def test_idempotency_key_returns_the_first_import(roster, api, account):
    key = str(uuid.uuid4())
    first = upload(api, account, data=GOOD, role="la_user", headers={"Idempotency-Key": key})
    second = upload(api, account, data=GOOD, role="la_user", headers={"Idempotency-Key": key})
    assert first.status_code == second.status_code == 202
    assert first.json()["id"] == second.json()["id"]
    assert second.headers.get("Idempotent-Replayed") == "true"
    assert account_imports(roster, account) == 1
    third = upload(api, account, data=GOOD, role="la_user", headers={"Idempotency-Key": key + "-other"})
    assert third.json()["id"] != first.json()["id"]
    is_problem(upload(api, account, data=GOOD, role="la_user", headers={"Idempotency-Key": "a b"}), 400)


def test_idempotency_key_reused_for_another_request_is_422(roster, api, account):
    key = str(uuid.uuid4())
    first = upload(api, account, data=GOOD, role="la_user", headers={"Idempotency-Key": key})
    assert first.status_code == 202, first.text
    other_file = GOOD + b"second@example.org,Second,Person\n"
    body = is_problem(upload(api, account, data=other_file, role="la_user", headers={"Idempotency-Key": key}),
                      422, "idempotency_key_reused")
    assert first.json()["id"] in body["detail"]
    # The same file with other options is another request too.
    is_problem(upload(api, account, data=GOOD, role="la_user", mode="create_only",
                      headers={"Idempotency-Key": key}), 422, "idempotency_key_reused")
    is_problem(upload(api, account, data=GOOD, role="social_worker", headers={"Idempotency-Key": key}),
               422, "idempotency_key_reused")
    assert account_imports(roster, account) == 1
    # The very same request still replays the first import.
    again = upload(api, account, data=GOOD, role="la_user", headers={"Idempotency-Key": key})
    assert again.status_code == 202 and again.json()["id"] == first.json()["id"]


@pytest.fixture(scope="module")
def small_api(roster):
    """An API with a 2 KiB upload limit."""
    p = roster.start_api(ROSTER_MAX_UPLOAD_BYTES="2K")
    yield p
    p.stop()


def test_over_the_limit_is_413_and_leaves_nothing(roster, small_api, account):
    big = GOOD + b"".join(b"user%05d@example.org,First,Last\n" % i for i in range(200))
    r = upload(small_api, account, data=big, role="la_user")
    body = is_problem(r, 413, "file_too_large")
    assert "2048" in body["detail"]
    assert account_imports(roster, account) == 0
    assert orphan_chunks(roster) == 0
    # Just under the limit is fine.
    r = upload(small_api, account, data=GOOD, role="la_user")
    assert r.status_code == 202, r.text


def send_partial(api, account, total, sent):
    """Starts a multipart upload announcing `total` bytes and sends `sent`;
    returns the open socket."""
    boundary = "rosterboundary"
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"role\"\r\n\r\nla_user\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"cut.csv\"\r\n"
            "Content-Type: text/csv\r\n\r\n").encode() + b"Email,First Name,Last Name\n"
    host, port = api.base.split("//")[1].split(":")
    s = socket.create_connection((host, int(port)))
    s.sendall((f"POST /v1/imports HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {account.token}\r\n"
               f"Content-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {total}\r\n\r\n").encode())
    s.sendall(head)
    row = b"someone@example.org,Some,One\n"
    left = sent - len(head)
    while left > 0:
        chunk = row * 1000
        s.sendall(chunk[:left])
        left -= len(chunk)
    return s


def test_cut_off_upload_leaves_nothing(roster, api, account):
    s = send_partial(api, account, total=20_000_000, sent=3_000_000)
    # Chunks are being stored inside the upload's transaction...
    wait_until(lambda: open_upload_transactions(roster) >= 1, timeout=15, what="the upload transaction")
    s.close()
    # ...and when the client hangs up, the server rolls them back.
    wait_until(lambda: open_upload_transactions(roster) == 0, timeout=15, what="the upload transaction to end")
    assert account_imports(roster, account) == 0
    assert orphan_chunks(roster) == 0
    # And the API still serves.
    assert requests.get(api.base + "/healthz", timeout=5).status_code == 200


CUT_BOUNDARY = "cutboundary"


def cut_form(close):
    """A form with a role and a file; with its close delimiter or without
    (then the last row stops short, as when a client gives up)."""
    body = (f"--{CUT_BOUNDARY}\r\nContent-Disposition: form-data; name=\"role\"\r\n\r\nla_user\r\n"
            f"--{CUT_BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"cut.csv\"\r\n"
            "Content-Type: text/csv\r\n\r\n").encode() + GOOD + b"john@example.org,John,Smithson"
    return body + f"\r\n--{CUT_BOUNDARY}--\r\n".encode() if close else body


def redis_ids(roster):
    r = roster.redis_client()
    return ({i for i, _ in r.xrange("roster:jobs", "-", "+")} | {i for i, _ in r.xrange("roster:invites", "-", "+")}
            | r.smembers("roster:jobs:queued"))


def test_form_without_its_closing_boundary_is_400_and_leaves_nothing(roster):
    # A database and API of its own: no other test's upload in flight can
    # be taken for this one's.
    roster = roster.sandbox()
    try:
        form_without_its_closing_boundary(roster, roster.start_api(), roster.new_account())
    finally:
        roster.close()


def form_without_its_closing_boundary(roster, api, account):
    headers = {**account.headers, "Content-Type": f"multipart/form-data; boundary={CUT_BOUNDARY}"}
    before = redis_ids(roster)
    r = requests.post(api.base + "/v1/imports", data=cut_form(close=False), headers=headers, timeout=30)
    body = is_problem(r, 400, "invalid_multipart")
    assert "cut off" in body["detail"]
    assert account_imports(roster, account) == 0
    assert account.users() == []
    assert orphan_chunks(roster) == 0
    assert open_upload_transactions(roster) == 0
    assert redis_ids(roster) - before == set()
    # The same form, whole, is taken; also when its close delimiter
    # arrives split over several reads.
    r = requests.post(api.base + "/v1/imports", data=cut_form(close=True), headers=headers, timeout=30)
    assert r.status_code == 202, r.text
    whole = cut_form(close=True)
    split = len(whole) - len(f"{CUT_BOUNDARY}--\r\n") + 3

    def pieces():
        for piece in (whole[:split - 6], whole[split - 6:split], whole[split:]):
            yield piece
            time.sleep(0.2)

    r = requests.post(api.base + "/v1/imports", data=pieces(), headers=headers, timeout=30)
    assert r.status_code == 202, r.text
    assert account_imports(roster, account) == 2


def test_hundred_megabytes_stream_in_bounded_memory(roster):
    # An API of its own, so that its peak is this upload's, in a sandbox
    # that no worker serves: only the upload is measured, the import stays
    # queued, and the database holding it is dropped at the end. The limit
    # is raised so that 100 MiB of file is well inside it. Under the
    # sanitizers, where RSS is not measured and roster-api takes minutes
    # over 100 MiB, a smaller file still streams through many chunks.
    size_wanted = 100 * 1024 * 1024 if measures_memory() else 10 * 1024 * 1024
    sandbox = roster.sandbox()
    try:
        api = sandbox.start_api(ROSTER_MAX_UPLOAD_BYTES="128M")
        account = sandbox.new_account()
        with tempfile.TemporaryDirectory(prefix="roster-upload-") as tmp:
            path = os.path.join(tmp, "users.csv")
            rows = write_template_csv(path, [100001, 100002, 100003], min_bytes=size_wanted)
            size = os.path.getsize(path)
            digest = hashlib.sha256()
            with open(path, "rb") as f:
                while chunk := f.read(1 << 20):
                    digest.update(chunk)
            start = time.monotonic()
            r = upload_file(api, account, path, role="designated_teacher")
            seconds = time.monotonic() - start
        assert r.status_code == 202, r.text
        hwm = proc_status_kib(api.pid, "VmHWM")
        imp = r.json()
        assert imp["state"] == "queued"
        assert imp["counts"]["rows_total"] == rows
        assert imp["file"]["bytes"] == size and imp["file"]["sha256"] == digest.hexdigest()
        print(f"roster-api: {size} bytes ({rows} rows) in {seconds:.1f} s, peak RSS {hwm} KiB")
        if measures_memory():
            assert hwm < 64 * 1024, f"roster-api peak RSS {hwm} KiB after a {size}-byte upload"
    finally:
        sandbox.drop()


def post_multipart(api, account, parts):
    """A multipart body built by hand, so that names and values can be any
    bytes. parts: (name, filename or None, bytes)."""
    boundary = b"rosterTestBoundary7"
    body = b""
    for name, filename, value in parts:
        disp = b'form-data; name="' + name + b'"' + (b'; filename="' + filename + b'"' if filename else b"")
        body += b"--" + boundary + b"\r\nContent-Disposition: " + disp + b"\r\n\r\n" + value + b"\r\n"
    body += b"--" + boundary + b"--\r\n"
    host, port = api.base.split("//")[1].split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    conn.request("POST", "/v1/imports", body=body, headers={
        "Authorization": f"Bearer {account.token}",
        "Content-Type": "multipart/form-data; boundary=" + boundary.decode()})
    resp = conn.getresponse()
    return resp.status, resp.getheader("Content-Type"), resp.read()


def test_option_that_is_not_utf8_is_400(roster, api, account):
    status, ctype, body = post_multipart(api, account, [(b"role", None, b"la_\xff"), (b"file", b"a.csv", GOOD)])
    assert status == 400 and ctype.startswith("application/problem+json"), body
    assert b"not valid UTF-8" in body
    assert account_imports(roster, account) == 0


@pytest.mark.parametrize("sent, kept", [
    (b"caf\xe9.csv", "café.csv"),                       # Windows-1252 from an old client
    (b"C:\\Users\\ann\\staff list.csv", "staff list.csv"),  # a whole Windows path
    (b"../../etc/passwd", "passwd"),
    (b"tab\there.csv", "tabhere.csv"),
    (b"\xc3\x98rjan.csv", "Ørjan.csv"),
    ("invoice\u202ecsv.exe".encode(), "invoicecsv.exe"),     # right-to-left override
    ("a\u2066b\u2069\u200fc\u200b.csv".encode(), "abc.csv"),   # isolates, marks, zero-width space
    (b"x\xc2\x85y\xc2\x9b.csv", "xy.csv"),                    # C1 controls (NEL, CSI)
    (b"na\xefve.csv", "naïve.csv"),                        # Windows-1252 is decoded, not dropped
])
def test_file_names_are_cleaned(api, account, sent, kept):
    status, _, body = post_multipart(api, account, [(b"role", None, b"la_user"), (b"file", sent, GOOD)])
    assert status == 202, body
    import json
    assert json.loads(body)["file"]["name"] == kept


def test_raw_csv_body_with_query_options(api, worker, account):
    headers = {**account.headers, "Content-Type": "text/csv; charset=utf-8", "Idempotency-Key": str(uuid.uuid4())}
    r = requests.post(api.base + "/v1/imports", params={"role": "la_user", "filename": "pasted.csv"}, data=GOOD,
                      headers=headers, timeout=10)
    assert r.status_code == 202, r.text
    assert r.json()["file"]["name"] == "pasted.csv"
    from harness import wait_final
    done = wait_final(api, account, r.json()["id"])
    assert done["counts"]["created"] == 1
    tsv = b"Email\tFirst Name\tLast Name\ntab@example.org\tTab\tSeparated\n"
    r = requests.post(api.base + "/v1/imports", params={"role": "la_user"}, data=tsv,
                      headers={**account.headers, "Content-Type": "text/tab-separated-values"}, timeout=10)
    assert r.status_code == 202, r.text
    assert r.json()["file"]["delimiter"] == "\t"
    r = requests.post(api.base + "/v1/imports", params={"role": "la_user", "colour": "red"}, data=GOOD,
                      headers={**account.headers, "Content-Type": "text/csv"}, timeout=10)
    assert is_problem(r, 400, "invalid_option")["errors"][0]["name"] == "colour"


def test_raw_body_over_its_limit_is_413(roster, account):
    api = roster.start_api(ROSTER_MAX_BODY_BYTES="64K")
    try:
        big = GOOD + b"".join(b"user%06d@example.org,First,Last\n" % i for i in range(3000))
        r = requests.post(api.base + "/v1/imports", params={"role": "la_user"}, data=big,
                          headers={**account.headers, "Content-Type": "text/csv"}, timeout=10)
        body = is_problem(r, 413, "file_too_large")
        assert "multipart" in body["detail"]
        assert account_imports(roster, account) == 0
    finally:
        api.stop()


@pytest.mark.parametrize("options", [
    {"role": "a" * 99 + "é"},                                    # cut inside a character when quoted
    {"role": "la_user", "column_map": '{"' + "x" + "é" * 60 + '": "nope"}'},
])
def test_problem_details_stay_valid_utf8(roster, api, account, options):
    r = upload(api, account, data=GOOD, **options)
    body = is_problem(r, 400, "invalid_option")
    assert body["detail"]
    assert account_imports(roster, account) == 0


def test_mapped_header_cut_in_a_message_is_422(roster, api, account):
    import json
    data = ("Email," + "a" * 79 + "é,First Name,Last Name\nx@example.org,y,X,Y\n").encode()
    r = upload(api, account, data=data, role="la_user", column_map=json.dumps({"a" * 79 + "é": "email"}))
    body = is_problem(r, 422, "invalid_header")
    assert "email" in body["detail"]


def test_path_and_content_type_bytes_are_not_echoed_raw(api, account):
    r = requests.get(api.base + "/v1/imports/%FF%FE", headers=account.headers, timeout=10)
    is_problem(r, 404, "not_found")
    r = requests.post(api.base + "/v1/imports", data=GOOD, headers={**account.headers,
                      "Content-Type": b"text/\xff\xfe"}, timeout=10)
    is_problem(r, 415, "unsupported_media_type")
    r = requests.post(api.base + "/v1/imports?%FF=1&role=la_user", data=GOOD,
                      headers={**account.headers, "Content-Type": "text/csv"}, timeout=10)
    is_problem(r, 400, "invalid_option")


def test_uploads_use_one_connection_each(roster, account):
    """With the pool just big enough for the upload slots, uploads that
    arrive together all succeed."""
    import threading
    api = roster.start_api(ROSTER_DB_POOL_SIZE="4", ROSTER_MAX_CONCURRENT_UPLOADS="2",
                           ROSTER_MAX_UPLOADS_PER_ACCOUNT="2")
    try:
        results = []

        def one(i):
            data = GOOD + b"".join(b"p%d-%05d@example.org,P,Q\n" % (i, j) for j in range(20000))
            results.append(upload(api, account, data=data, role="la_user").status_code)

        threads = [threading.Thread(target=one, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert results == [202, 202]
    finally:
        api.stop()


def test_stored_uploads_are_compressed_with_lz4(roster, api, account):
    """Every pass of every worker reads the stored upload: it is kept
    compressed with lz4, many times faster than PostgreSQL's default."""
    rows = "".join(f"user{i}@example.org,First{i},Last{i},Teacher\n" for i in range(2000))
    r = upload(api, account, data=("Email,First Name,Last Name,Job Title\n" + rows).encode(), role="la_user")
    assert r.status_code == 202, r.text
    with roster.db() as conn, conn.cursor() as cur:
        cur.execute("SELECT pg_column_compression(data) FROM import_chunks WHERE import_id = %s",
                    (r.json()["id"],))
        assert [c for (c,) in cur.fetchall()] == ["lz4"]
