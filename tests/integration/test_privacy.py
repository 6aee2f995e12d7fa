"""Personal data kept no longer than needed: retention purges an import's
file and row data and keeps its record; DELETE does so at once; tokens can
be listed, revoked and made to expire; the audit trail says who did what
and holds no value from a file."""

import hashlib
import time

import requests

from harness import is_problem, upload, wait_final, wait_until

# A name no other test uses, to look for in tables that must not hold it.
MARKER = "Zebedee-Quillfeather"

FILE = ("Email,First Name,Last Name,Phone\n"
        f"ok1@example.org,{MARKER},One,\n"
        f"bad@example.org,{MARKER},Two,12\n"  # invalid_phone: its cells go to the error log
        "ok2@example.org,Plain,Three,\n").encode()

def sha256_hex(data):
    return hashlib.sha256(data).hexdigest()


DATA_TABLES = ("import_chunks", "import_rows", "import_issues", "import_results", "import_archived",
               "import_emails", "import_links")


def data_rows(roster, iid):
    with roster.db() as conn, conn.cursor() as cur:
        counts = {}
        for table in DATA_TABLES:
            cur.execute(f"SELECT count(*) FROM {table} WHERE import_id = %s", (iid,))
            counts[table] = cur.fetchone()[0]
        return counts


def data_endpoints(api, account, iid):
    return [requests.get(f"{api.base}/v1/imports/{iid}/{path}", headers=account.headers, timeout=10)
            for path in ("errors", "errors.csv", "results", "results.csv")]


def test_retention_purges_file_cells_and_issues_and_keeps_the_record(roster, api, worker, account):
    iid = upload(api, account, data=FILE, role="la_user").json()["id"]
    done = wait_final(api, account, iid)
    assert done["counts"]["failed"] == 1
    dry = upload(api, account, data=FILE, role="la_user", dry_run="true").json()["id"]
    assert wait_final(api, account, dry)["state"] == "validated"
    before = data_rows(roster, iid)
    assert before["import_chunks"] and before["import_rows"] and before["import_issues"] and before["import_results"]
    for r in data_endpoints(api, account, iid):
        assert r.status_code == 200

    # The clock moved forward: both ended 31 days ago (the default keeps 30).
    with roster.db() as conn, conn.cursor() as cur:
        cur.execute("UPDATE imports SET finished_at = now() - interval '31 days' WHERE id IN (%s, %s)", (iid, dry))
    wait_until(lambda: not any(data_rows(roster, iid).values()) and not any(data_rows(roster, dry).values()),
               timeout=30, what="the workers' retention purge")

    rec = requests.get(f"{api.base}/v1/imports/{iid}", headers=account.headers, timeout=10).json()
    assert rec["purged_at"] and rec["deleted_at"] is None
    assert rec["counts"] == done["counts"] and rec["file"]["sha256"] == sha256_hex(FILE)
    for r in data_endpoints(api, account, iid):
        body = is_problem(r, 410, "purged")
        assert "ROSTER_RETENTION_DAYS" in body["detail"]
    # A dry run never committed is purged the same way; it cannot be
    # committed any more.
    r = requests.post(f"{api.base}/v1/imports/{dry}/commit", headers=account.headers, timeout=10)
    is_problem(r, 410, "purged")
    with roster.db() as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM imports WHERE purge_pending")
        assert cur.fetchone()[0] == 0


def test_a_recent_import_is_kept(roster, api, worker, account):
    iid = upload(api, account, data=FILE, role="la_user").json()["id"]
    wait_final(api, account, iid)
    with roster.db() as conn, conn.cursor() as cur:
        cur.execute("UPDATE imports SET finished_at = now() - interval '29 days' WHERE id = %s", (iid,))
    time.sleep(6)  # a maintenance round (every 5 s) has passed
    assert data_rows(roster, iid)["import_chunks"] > 0
    assert requests.get(f"{api.base}/v1/imports/{iid}/errors", headers=account.headers, timeout=10).status_code == 200


def test_delete_removes_the_data_at_once(roster, api, worker, account, other_account):
    iid = upload(api, account, data=FILE, role="la_user").json()["id"]
    wait_final(api, account, iid)
    assert any(data_rows(roster, iid).values())

    # Another account's token: as if the import did not exist.
    r = requests.delete(f"{api.base}/v1/imports/{iid}", headers=other_account.headers, timeout=10)
    is_problem(r, 404, "not_found")
    r = requests.delete(f"{api.base}/v1/imports/{iid}", headers={**account.headers, "X-Request-Id": "del-1"},
                        timeout=10)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["deleted_at"] and body["purged_at"] and body["deleted_by"] == "LA Super User"
    assert data_rows(roster, iid) == {t: 0 for t in DATA_TABLES}, "the tables hold nothing for it"
    for resp in data_endpoints(api, account, iid):
        is_problem(resp, 410, "purged")
    assert {u["email"] for u in account.users()} >= {"ok1@example.org", "ok2@example.org"}, "its users stay"
    # Again: the same record, nothing more recorded.
    again = requests.delete(f"{api.base}/v1/imports/{iid}", headers=account.headers, timeout=10)
    assert again.status_code == 200 and again.json()["deleted_at"] == body["deleted_at"]
    with roster.db() as conn, conn.cursor() as cur:
        cur.execute("SELECT actor, request_id FROM audit_events WHERE action = 'import.delete' AND object = %s",
                    (iid,))
        assert cur.fetchall() == [("LA Super User", "del-1")]


def test_delete_waits_for_a_running_import(roster):
    s = roster.sandbox()
    try:
        api = s.start_api()  # no worker: the import stays queued
        account = s.new_account()
        iid = upload(api, account, data=FILE, role="la_user").json()["id"]
        r = requests.delete(f"{api.base}/v1/imports/{iid}", headers=account.headers, timeout=10)
        body = is_problem(r, 409, "invalid_state")
        assert "cancel" in body["detail"]
        assert data_rows(s, iid)["import_chunks"] > 0, "nothing was deleted"
        requests.post(f"{api.base}/v1/imports/{iid}/cancel", headers=account.headers, timeout=10)
        r = requests.delete(f"{api.base}/v1/imports/{iid}", headers=account.headers, timeout=10)
        assert r.status_code == 200 and data_rows(s, iid)["import_chunks"] == 0
        # Reading scope is not enough.
        read_only = account.token_with("imports:read")
        r = requests.delete(f"{api.base}/v1/imports/{iid}", headers={"Authorization": f"Bearer {read_only}"},
                            timeout=10)
        is_problem(r, 403, "insufficient_scope")
    finally:
        s.close()


def token_id_of(roster, token):
    with roster.db() as conn, conn.cursor() as cur:
        cur.execute("SELECT id FROM api_tokens WHERE token_hash = %s", (sha256_hex(token.encode()),))
        return cur.fetchone()[0]


def test_revoked_and_expired_tokens_are_refused(roster, api, account):
    token = account.token_with("imports:read")
    headers = {"Authorization": f"Bearer {token}"}
    assert requests.get(f"{api.base}/v1/imports", headers=headers, timeout=10).status_code == 200
    tid = token_id_of(roster, token)

    listed = roster.admin("token", "list", account.slug).stdout
    assert str(tid) in listed and "live" in listed and "imports:read" in listed
    with roster.db() as conn, conn.cursor() as cur:
        cur.execute("SELECT token_hash FROM api_tokens WHERE id = %s", (tid,))
        token_hash = cur.fetchone()[0]
    assert token not in listed and token_hash not in listed and "rst_" not in listed

    out = roster.admin("token", "revoke", str(tid))
    assert "5 s" in out.stdout
    revoked_at = time.monotonic()
    wait_until(lambda: requests.get(f"{api.base}/v1/imports", headers=headers, timeout=10).status_code == 401,
               timeout=10, what="the revoked token refused")
    assert time.monotonic() - revoked_at < 5 + 1, "refused within ROSTER_TOKEN_CACHE_SECONDS"
    is_problem(requests.get(f"{api.base}/v1/imports", headers=headers, timeout=10), 401, "invalid_token")
    assert "revoked" in roster.admin("token", "list", account.slug).stdout
    again = roster.admin("token", "revoke", str(tid))
    assert "already" in again.stderr

    # A token read from stdin, as scripts/run revokes its own.
    other = account.token_with("imports:read")
    roster.admin("token", "revoke", "-", input=other + "\n")
    wait_until(lambda: requests.get(f"{api.base}/v1/imports", headers={"Authorization": f"Bearer {other}"},
                                    timeout=10).status_code == 401, timeout=10, what="revoked from stdin")

    # Expiry is exact, cached or not: a token checked a moment ago is
    # refused the second it expires.
    short = roster.admin("token", "create", account.slug, "--scopes", "imports:read",
                         "--expires-in", "1m").stdout.strip()
    with roster.db() as conn, conn.cursor() as cur:
        cur.execute("UPDATE api_tokens SET expires_at = now() + interval '2 seconds' WHERE token_hash = %s",
                    (sha256_hex(short.encode()),))
    short_headers = {"Authorization": f"Bearer {short}"}
    assert requests.get(f"{api.base}/v1/imports", headers=short_headers, timeout=10).status_code == 200
    time.sleep(2.5)
    body = is_problem(requests.get(f"{api.base}/v1/imports", headers=short_headers, timeout=10), 401,
                      "invalid_token")
    assert "expired" in body["detail"]
    assert "expired" in roster.admin("token", "list", account.slug).stdout

    for bad in ("0", "abc", "99999999"):
        assert roster.admin("token", "revoke", bad, check=False).returncode != 0
    for bad in ("90", "0d", "1y", "4000d"):
        out = roster.admin("token", "create", account.slug, "--expires-in", bad, check=False)
        assert out.returncode == 2 and "--expires-in" in out.stderr, bad


def test_each_audited_action_leaves_one_event_and_no_cell_value(roster, api, worker, account):
    auditor = account.token_with("audit:read")
    audit_headers = {"Authorization": f"Bearer {auditor}"}

    def req(method, path, rid, **kw):
        r = requests.request(method, api.base + path, headers={**account.headers, "X-Request-Id": rid},
                             timeout=30, **kw)
        assert r.status_code < 300, (path, r.status_code, r.text)
        return r

    up = upload(api, account, data=FILE, role="la_user", headers={"X-Request-Id": "up-1"}).json()["id"]
    wait_final(api, account, up)
    req("GET", f"/v1/imports/{up}/errors.csv", "err-1")
    req("GET", f"/v1/imports/{up}/results.csv", "res-1")
    req("GET", "/v1/users.csv", "exp-1")
    dry = upload(api, account, data=FILE, role="la_user", dry_run="true", headers={"X-Request-Id": "up-2"}).json()["id"]
    wait_final(api, account, dry)
    req("POST", f"/v1/imports/{dry}/commit", "com-1")
    wait_final(api, account, dry)
    dropped = upload(api, account, data=FILE, role="la_user", dry_run="true", headers={"X-Request-Id": "up-3"})
    dropped = dropped.json()["id"]
    wait_final(api, account, dropped)
    req("POST", f"/v1/imports/{dropped}/cancel", "can-1")
    req("DELETE", f"/v1/imports/{dropped}", "del-1")
    made = roster.admin("token", "create", account.slug, "--scopes", "imports:read")
    roster.admin("token", "revoke", "-", input=made.stdout)
    # Reading the JSON pages is not a download of the file's rows.
    req("GET", f"/v1/imports/{up}/errors", "json-1")

    items, cursor = [], None
    while True:
        r = requests.get(f"{api.base}/v1/audit", headers=audit_headers, params={"limit": 3, **(
            {"cursor": cursor} if cursor else {})}, timeout=10)
        assert r.status_code == 200, r.text
        items += r.json()["items"]
        cursor = r.json()["next_cursor"]
        if not cursor:
            break
    seen = [(e["action"], e["object"], e["request_id"], e["actor"]) for e in items]
    tid = str(token_id_of(roster, made.stdout.strip()))
    admin_actor = [e["actor"] for e in items if e["action"] == "token.create"]
    assert all(a.startswith("roster-admin (") for a in admin_actor)
    expected = [("import.create", up, "up-1", "LA Super User"),
                ("errors.download", up, "err-1", "LA Super User"),
                ("results.download", up, "res-1", "LA Super User"),
                ("users.export", "users", "exp-1", "LA Super User"),
                ("import.create", dry, "up-2", "LA Super User"),
                ("import.commit", dry, "com-1", "LA Super User"),
                ("import.create", dropped, "up-3", "LA Super User"),
                ("import.cancel", dropped, "can-1", "LA Super User"),
                ("import.delete", dropped, "del-1", "LA Super User")]
    # The tokens this test made for itself come first (token.create by the
    # harness); then exactly one event per action, in order.
    of_interest = [s for s in seen if not (s[0] == "token.create" and s[1] != tid)]
    assert of_interest == expected + [("token.create", tid, None, admin_actor[-1]),
                                      ("token.revoke", tid, None, admin_actor[-1])], seen
    assert all(e["token_id"] == token_id_of(roster, account.token) for e in items if e["actor"] == "LA Super User")

    # Filtered; and the command line shows the same trail.
    r = requests.get(f"{api.base}/v1/audit", headers=audit_headers, params={"action": "import.delete"}, timeout=10)
    assert [e["object"] for e in r.json()["items"]] == [dropped]
    is_problem(requests.get(f"{api.base}/v1/audit", headers=audit_headers, params={"action": "x"}, timeout=10),
               400, "invalid_option")
    cli = roster.admin("audit", account.slug, "--action", "errors.download").stdout
    assert up in cli and "err-1" in cli
    # The audit trail needs its own scope; and it is append-only.
    is_problem(requests.get(f"{api.base}/v1/audit", headers=account.headers, timeout=10), 403, "insufficient_scope")
    with roster.db() as conn, conn.cursor() as cur:
        try:
            cur.execute("UPDATE audit_events SET actor = 'someone else'")
            raise AssertionError("audit_events took an UPDATE")
        except Exception as e:  # psycopg2's RaiseException
            assert "append-only" in str(e)
    # No value from the file anywhere in the trail.
    with roster.db() as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM audit_events a WHERE a::text LIKE %s", (f"%{MARKER}%",))
        assert cur.fetchone()[0] == 0
