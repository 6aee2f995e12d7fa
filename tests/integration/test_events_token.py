"""Events tokens: how a browser's EventSource, which cannot send an
Authorization header, follows one import - and nothing else."""

import hashlib
import hmac
import time

import requests

from harness import is_problem, upload, wait_final
from test_meta import read_events

FILE = b"Email,First Name,Last Name\nev@example.org,Ev,Stream\n"


def events_token(api, headers, iid):
    return requests.post(f"{api.base}/v1/imports/{iid}/events-token", headers=headers, timeout=10)


def forge(api_token, token_id, iid, expires):
    """An events token as the API makes one: HMAC-SHA256 keyed with the
    stored hash of the API token."""
    key = hashlib.sha256(api_token.encode()).hexdigest().encode()
    mac = hmac.new(key, f"events|{iid}|{token_id}|{expires}".encode(), hashlib.sha256).hexdigest()
    return f"rse_{token_id}_{expires}_{mac}"


def events(api, iid, token):
    return requests.get(f"{api.base}/v1/imports/{iid}/events", params={"access_token": token}, stream=True,
                        timeout=30)


def test_an_events_token_opens_the_stream_of_its_import(roster, api, worker, account):
    read_only = account.token_with("imports:read")
    iid = upload(api, account, data=FILE, role="la_user").json()["id"]
    wait_final(api, account, iid)

    r = events_token(api, {"Authorization": f"Bearer {read_only}"}, iid)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["events_url"] == f"/v1/imports/{iid}/events?access_token={body['token']}"
    assert body["expires_in"] == 300
    with requests.get(api.base + body["events_url"], stream=True, timeout=30) as s:
        assert s.status_code == 200 and s.headers["Content-Type"].startswith("text/event-stream")
        assert [e for e, _ in read_events(s)] == ["progress", "state"]
    # The token is not written to the access log.
    assert body["token"] not in api.output()


def test_an_events_token_is_good_for_nothing_else(roster, api, worker, account, other_account):
    iid = upload(api, account, data=FILE, role="la_user").json()["id"]
    other = upload(api, account, data=FILE, role="la_user").json()["id"]
    wait_final(api, account, iid)
    token = events_token(api, account.headers, iid).json()["token"]

    # Another import of the same account.
    is_problem(events(api, other, token), 401, "invalid_token")
    # Any other URL, even of the same import.
    for path in (f"/v1/imports/{iid}", f"/v1/imports/{iid}/errors", "/v1/imports"):
        body = is_problem(requests.get(api.base + path, params={"access_token": token}, timeout=10), 401,
                          "invalid_token")
        assert "events URL only" in body["detail"]
    r = requests.post(f"{api.base}/v1/imports/{iid}/cancel", params={"access_token": token}, timeout=10)
    is_problem(r, 401, "invalid_token")
    # Nor does it make another events token.
    r = requests.post(f"{api.base}/v1/imports/{iid}/events-token", params={"access_token": token}, timeout=10)
    is_problem(r, 401, "invalid_token")
    # Altered, or not one at all.
    altered = token[:-1] + ("0" if token[-1] != "0" else "1")
    is_problem(events(api, iid, altered), 401, "invalid_token")
    is_problem(events(api, iid, "rst_" + "a" * 43), 401, "invalid_token")
    is_problem(events(api, iid, ""), 401)
    # A path that names no import: nothing to grant, nothing to open.
    is_problem(events_token(api, account.headers, "not-a-uuid"), 404, "not_found")
    is_problem(events(api, "not-a-uuid", token), 401, "invalid_token")
    # Another account can neither get one for this import nor use its own.
    is_problem(events_token(api, other_account.headers, iid), 404, "not_found")
    is_problem(events_token(api, {"Authorization": "Bearer rst_nope"}, iid), 401)


def test_an_events_token_expires_and_dies_with_its_api_token(roster, api, worker, account):
    api_token = account.token_with("imports:read")
    iid = upload(api, account, data=FILE, role="la_user").json()["id"]
    wait_final(api, account, iid)
    token = events_token(api, {"Authorization": f"Bearer {api_token}"}, iid).json()["token"]
    token_id = int(token.split("_")[1])

    # Made the same way with the right key, it is accepted...
    now = int(time.time())
    with events(api, iid, forge(api_token, token_id, iid, now + 60)) as s:
        assert s.status_code == 200
    # ...but not once expired, nor claiming to last longer than 5 minutes.
    is_problem(events(api, iid, forge(api_token, token_id, iid, now - 1)), 401, "invalid_token")
    is_problem(events(api, iid, forge(api_token, token_id, iid, now + 3600)), 401, "invalid_token")

    with roster.db() as conn, conn.cursor() as cur:
        cur.execute("UPDATE api_tokens SET revoked_at = now() WHERE id = %s", (token_id,))
    is_problem(events(api, iid, token), 401, "invalid_token")
