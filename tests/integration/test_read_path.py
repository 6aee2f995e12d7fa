"""The status read (GET /v1/imports/{id}) and the token check in front of
it: neither writes to the database; the import comes from memory that
PostgreSQL notifications keep up to date, and a token checked lately is
trusted for ROSTER_TOKEN_CACHE_SECONDS. Each within the bounds the
settings give, whatever changes the database in between."""

import hashlib
import time

import pytest
import requests

from harness import is_problem, upload, wait_until

CSV = b"Email,First Name,Last Name\nada@example.org,Ada,Lovelace\n"


def get(api, token, iid):
    return requests.get(f"{api.base}/v1/imports/{iid}", headers={"Authorization": f"Bearer {token}"}, timeout=10)


def sql(roster, statement, params=()):
    with roster.db() as conn, conn.cursor() as cur:
        cur.execute(statement, params)
        return cur.fetchall() if cur.description else None


def token_hash(token):
    return hashlib.sha256(token.encode()).hexdigest()


def status_reads(api):
    """roster_status_reads_total of the process, by where from."""
    text = requests.get(api.base + "/metrics", timeout=10).text
    reads = {}
    for line in text.splitlines():
        if line.startswith("roster_status_reads_total{"):
            where = line.split('"')[1]
            reads[where] = int(line.rsplit(" ", 1)[1])
    return reads


@pytest.fixture
def quiet(roster):
    """A database of its own, with no worker: an import stays as it is
    unless the test changes it."""
    sandbox = roster.sandbox()
    yield sandbox
    sandbox.close()


def test_status_reads_and_token_checks_write_nothing(quiet):
    """Against a database that refuses every write, status reads are
    answered, with a token checked for the first time as well as one
    checked before: neither the check nor the read is a statement that can
    write (the token's last_used_at is written apart, and fails here)."""
    api = quiet.start_api()
    account = quiet.new_account()
    iid = upload(api, account, data=CSV, role="la_user").json()["id"]
    assert get(api, account.token, iid).status_code == 200
    fresh = account.token_with("imports:read")
    database = quiet.env["ROSTER_DATABASE_URL"].rsplit("/", 1)[1]
    sql(quiet, f'ALTER DATABASE "{database}" SET default_transaction_read_only = on')
    try:
        api.stop()
        # A new process: every connection it opens is read-only.
        api = quiet.start_api()
        for token in (account.token, fresh):
            for _ in range(20):
                r = get(api, token, iid)
                assert r.status_code == 200, r.text
                assert r.json()["id"] == iid and r.json()["state"] == "queued"
        r = requests.get(api.base + "/v1/imports", headers=account.headers, timeout=10)
        assert r.status_code == 200 and [i["id"] for i in r.json()["items"]] == [iid]
        # Writes are refused indeed: an upload cannot be stored.
        assert upload(api, account, data=CSV, role="la_user").status_code == 503
    finally:
        conn = quiet.db()  # autocommit: no transaction begun read-only
        with conn.cursor() as cur:
            cur.execute("SET default_transaction_read_only = off")
            cur.execute(f'ALTER DATABASE "{database}" RESET default_transaction_read_only')
        conn.close()


def test_last_used_at_is_written_after_the_request(roster, api, account):
    token = account.token_with("imports:read")
    hashed = token_hash(token)
    assert sql(roster, "SELECT last_used_at FROM api_tokens WHERE token_hash = %s", (hashed,)) == [(None,)]
    r = requests.get(api.base + "/v1/imports", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert r.status_code == 200
    wait_until(lambda: sql(roster, "SELECT last_used_at IS NOT NULL FROM api_tokens WHERE token_hash = %s",
                           (hashed,)) == [(True,)], timeout=20, what="last_used_at")


@pytest.mark.parametrize("how", ["revoked", "deleted"])
def test_a_revoked_token_is_refused_within_the_cache_time(roster, api, account, how):
    """ROSTER_TOKEN_CACHE_SECONDS is 5 by default: a token revoked (or its
    row deleted) while it is in use is refused at most 5 s later, and from
    then on."""
    token = account.token_with("imports:read,imports:write")
    headers = {"Authorization": f"Bearer {token}"}
    for _ in range(3):
        assert requests.get(api.base + "/v1/imports", headers=headers, timeout=10).status_code == 200
    statement = ("UPDATE api_tokens SET revoked_at = now() WHERE token_hash = %s" if how == "revoked"
                 else "DELETE FROM api_tokens WHERE token_hash = %s")
    sql(roster, statement, (token_hash(token),))
    revoked = time.monotonic()

    def refused():
        # A tuple: a Response with a 4xx status is falsy.
        r = requests.get(api.base + "/v1/imports", headers=headers, timeout=10)
        return (r,) if r.status_code == 401 else None
    r, = wait_until(refused, timeout=30, interval=0.05, what="the token to be refused")
    took = time.monotonic() - revoked
    assert took < 5 + 1, f"refused only after {took:.2f} s"
    is_problem(r, 401, "invalid_token")
    for _ in range(5):
        is_problem(requests.get(api.base + "/v1/imports", headers=headers, timeout=10), 401, "invalid_token")
    # An upload too: the guard checks the token before the body.
    is_problem(upload(api, account, data=CSV, token=token, role="la_user"), 401, "invalid_token")


def test_without_the_token_cache_revocation_is_immediate(roster, account):
    api = roster.start_api(ROSTER_TOKEN_CACHE_SECONDS="0")
    try:
        token = account.token_with("imports:read")
        headers = {"Authorization": f"Bearer {token}"}
        for _ in range(3):
            assert requests.get(api.base + "/v1/imports", headers=headers, timeout=10).status_code == 200
        sql(roster, "UPDATE api_tokens SET revoked_at = now() WHERE token_hash = %s", (token_hash(token),))
        is_problem(requests.get(api.base + "/v1/imports", headers=headers, timeout=10), 401, "invalid_token")
    finally:
        api.stop()


def test_a_narrowed_token_loses_its_scope_within_the_cache_time(roster, api, account):
    token = account.token_with("imports:read,imports:write")
    iid = upload(api, account, data=CSV, token=token, role="la_user").json()["id"]
    assert get(api, token, iid).status_code == 200
    sql(roster, "UPDATE api_tokens SET scopes = '{imports:write}' WHERE token_hash = %s", (token_hash(token),))
    def refused():
        r = get(api, token, iid)
        return (r,) if r.status_code == 403 else None
    r, = wait_until(refused, timeout=10, interval=0.05, what="the read scope to be gone")
    is_problem(r, 403, "insufficient_scope")


def test_strict_status_reads_see_every_change_committed_before_them(quiet):
    """ROSTER_STATUS_MAX_LAG_MS=0: whatever is committed before a request,
    by any process, is in its answer, every time; and the answers still
    come from memory."""
    api = quiet.start_api(ROSTER_STATUS_MAX_LAG_MS="0")
    account = quiet.new_account()
    iid = upload(api, account, data=CSV, role="la_user").json()["id"]
    before = status_reads(api)
    for n in range(1, 41):
        sql(quiet, "UPDATE imports SET rows_processed = %s WHERE id = %s", (n, iid))
        for _ in range(3):
            body = get(api, account.token, iid).json()
            assert body["counts"]["rows_processed"] == n, (n, body["counts"])
    sql(quiet, "UPDATE imports SET state = 'cancelled', finished_at = now() WHERE id = %s", (iid,))
    assert get(api, account.token, iid).json()["state"] == "cancelled"
    after = status_reads(api)
    # The first read after each change goes to the database; the next two
    # need not.
    assert after["memory"] - before["memory"] >= 60, (before, after)


def test_status_reads_follow_changes_within_the_lag(quiet):
    """The default: an answer reflects every change committed more than
    ROSTER_STATUS_MAX_LAG_MS (100 ms) before it."""
    api = quiet.start_api()
    account = quiet.new_account()
    iid = upload(api, account, data=CSV, role="la_user").json()["id"]
    for n in range(1, 11):
        assert get(api, account.token, iid).json()["counts"]["rows_processed"] == n - 1
        sql(quiet, "UPDATE imports SET rows_processed = %s WHERE id = %s", (n, iid))
        time.sleep(0.15)
        assert get(api, account.token, iid).json()["counts"]["rows_processed"] == n
    sql(quiet, "DELETE FROM imports WHERE id = %s", (iid,))
    time.sleep(0.15)
    is_problem(get(api, account.token, iid), 404, "not_found")
    assert status_reads(api)["memory"] > 0


def test_a_cancel_is_seen_at_once_by_the_process_that_made_it(quiet):
    api = quiet.start_api(ROSTER_STATUS_MAX_LAG_MS="5000")
    account = quiet.new_account()
    iid = upload(api, account, data=CSV, role="la_user").json()["id"]
    for _ in range(3):
        assert get(api, account.token, iid).json()["state"] == "queued"
    r = requests.post(f"{api.base}/v1/imports/{iid}/cancel", headers=account.headers, timeout=10)
    assert r.status_code == 200 and r.json()["state"] == "cancelled", r.text
    assert get(api, account.token, iid).json()["state"] == "cancelled"


def test_status_reads_stay_right_when_the_listener_connection_is_lost(quiet):
    """The connection that hears of changes is killed: until it is back,
    and after, no answer misses a change committed before its request
    (ROSTER_STATUS_MAX_LAG_MS=0 makes that exact)."""
    api = quiet.start_api(ROSTER_STATUS_MAX_LAG_MS="0")
    account = quiet.new_account()
    iid = upload(api, account, data=CSV, role="la_user").json()["id"]

    def listeners():
        return sql(quiet, "SELECT pid FROM pg_stat_activity WHERE application_name = 'roster-api-listen' "
                          "AND datname = current_database()")
    wait_until(listeners, timeout=10, what="the listening connection")
    assert get(api, account.token, iid).json()["counts"]["rows_processed"] == 0
    for attempt in range(2):
        old = listeners()
        sql(quiet, "SELECT pg_terminate_backend(%s)", (old[0][0],))
        for n in range(1, 6):
            value = attempt * 10 + n
            sql(quiet, "UPDATE imports SET rows_processed = %s WHERE id = %s", (value, iid))
            assert get(api, account.token, iid).json()["counts"]["rows_processed"] == value
        wait_until(lambda: listeners() and listeners() != old, timeout=20, what="a new listening connection")
        before = status_reads(api)["memory"]
        wait_until(lambda: get(api, account.token, iid).json()["counts"]["rows_processed"] == value
                   and status_reads(api)["memory"] > before, timeout=10, what="reads from memory again")
    assert "listening for import changes again" in api.output()
