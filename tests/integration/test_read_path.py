"""The status read (GET /v1/imports/{id}) and the token check in front of
it: neither writes to the database, and a token checked lately is
trusted for ROSTER_TOKEN_CACHE_SECONDS, no longer, whatever changes the
database in between."""

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
