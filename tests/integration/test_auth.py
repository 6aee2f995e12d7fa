"""Tokens, scopes and accounts: 401, 403, and 404 for another account's
import, each as problem+json."""

import requests

from harness import fixture, import_rows, is_problem, upload, wait_final

PATHS = ["/v1/imports", "/v1/imports/{id}", "/v1/imports/{id}/errors", "/v1/imports/{id}/errors.csv"]


def test_no_token_is_401_everywhere(api, account):
    iid = upload(api, account, fixture("ihasco_staff.csv"), role="la_user").json()["id"]
    for path in PATHS:
        r = requests.get(api.base + path.format(id=iid), timeout=10)
        body = is_problem(r, 401, "unauthenticated")
        assert r.headers["WWW-Authenticate"].startswith("Bearer")
        assert body["request_id"] == r.headers["X-Request-Id"]


def test_bad_tokens_are_401(api, account):
    for value in ("Bearer nonsense", "Bearer rst_" + "A" * 43, "Basic dXNlcjpwYXNz", "Bearer", account.token):
        r = requests.get(api.base + "/v1/imports", headers={"Authorization": value}, timeout=10)
        is_problem(r, 401)


def test_upload_without_token_stores_nothing(roster, api, account):
    before = import_rows(roster)
    with open(fixture("ihasco_staff.csv"), "rb") as f:
        r = requests.post(api.base + "/v1/imports", files={"file": ("x.csv", f)}, data={"role": "la_user"},
                          timeout=10)
    is_problem(r, 401)
    assert import_rows(roster) == before
    with roster.db() as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM import_chunks c LEFT JOIN imports i ON i.id = c.import_id "
                    "WHERE i.id IS NULL")
        assert cur.fetchone()[0] == 0


def test_read_only_token_cannot_upload(roster, api, account):
    read_only = account.token_with("imports:read")
    before = import_rows(roster)
    r = upload(api, account, fixture("ihasco_staff.csv"), token=read_only, role="la_user")
    body = is_problem(r, 403, "insufficient_scope")
    assert "imports:write" in body["detail"]
    assert import_rows(roster) == before
    # ...but may read.
    r = requests.get(api.base + "/v1/imports", headers={"Authorization": f"Bearer {read_only}"}, timeout=10)
    assert r.status_code == 200


def test_write_only_token_cannot_read(api, account):
    write_only = account.token_with("imports:write")
    r = upload(api, account, fixture("ihasco_staff.csv"), token=write_only, role="la_user")
    assert r.status_code == 202, r.text
    r = requests.get(f"{api.base}/v1/imports/{r.json()['id']}", headers={"Authorization": f"Bearer {write_only}"},
                     timeout=10)
    is_problem(r, 403, "insufficient_scope")


def test_another_accounts_import_is_404(api, worker, account, other_account):
    iid = upload(api, account, fixture("ihasco_staff.csv"), role="la_user").json()["id"]
    wait_final(api, account, iid)
    for path in PATHS[1:]:
        r = requests.get(api.base + path.format(id=iid), headers=other_account.headers, timeout=10)
        is_problem(r, 404, "not_found")
    r = requests.get(api.base + "/v1/imports", headers=other_account.headers, timeout=10)
    assert iid not in [i["id"] for i in r.json()["items"]]
    # An id that exists nowhere, and one that is not an id at all, look the same.
    for bad in ("00000000-0000-4000-8000-000000000000", "not-an-id"):
        is_problem(requests.get(f"{api.base}/v1/imports/{bad}", headers=account.headers, timeout=10), 404)
