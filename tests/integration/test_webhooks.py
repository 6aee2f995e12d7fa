"""Completion webhooks: a signed event per state a client waits for,
delivered from a durable outbox with retries, never to a private address
unless allowed."""

import hashlib
import hmac
import http.server
import json
import threading
import time

import pytest
import requests

import openapi_check
from harness import is_problem, upload, wait_final, wait_until

FILE = b"Email,First Name,Last Name\nhook@example.org,Hook,Event\nbad-email,No,Good\n"


class Receiver:
    """An HTTP server on loopback that records every request and answers
    each with the next status of `answers` (200 once they run out)."""

    def __init__(self, answers=()):
        self.requests = []
        self.answers = list(answers)
        self.lock = threading.Lock()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver.lock:
                    receiver.requests.append({"headers": dict(self.headers), "body": body, "path": self.path})
                    status = receiver.answers.pop(0) if receiver.answers else 200
                self.send_response(status)
                if 300 <= status < 400:
                    self.send_header("Location", receiver.url + "/moved")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def events(self):
        with self.lock:
            return list(self.requests)

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def hooks(roster):
    """A database of its own, with an API and a worker that may call
    loopback (the receiver) and retry after a second."""
    s = roster.sandbox()
    env = dict(ROSTER_WEBHOOK_ALLOW_PRIVATE="true", ROSTER_WEBHOOK_RETRY_SECONDS="1",
               ROSTER_WEBHOOK_TIMEOUT_SECONDS="3")
    s.hook_env = env
    s.api = s.start_api(**env)
    s.worker = s.start_worker(**env)
    yield s
    s.close()


def secret_of(roster, account, *flags):
    out = roster.admin("webhook", "secret", account.slug, *flags)
    return out.stdout.strip()


def verify(secret, headers, body, tolerance=300):
    """What a receiver does: recompute v1 over "<t>.<body>", compare in
    constant time, refuse an old t."""
    parts = dict(p.split("=", 1) for p in headers["Roster-Signature"].split(","))
    t = int(parts["t"])
    mac = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(mac, parts["v1"]) and abs(time.time() - t) < tolerance


def deliveries(api, account, iid):
    r = requests.get(f"{api.base}/v1/imports/{iid}/webhook-deliveries", headers=account.headers, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()


def test_one_signed_event_per_state_a_client_waits_for(hooks, receiver):
    account = hooks.new_account()
    other = hooks.new_account()
    secret = secret_of(hooks, account)
    assert secret.startswith("whsec_") and len(secret) == 70
    assert secret_of(hooks, account) == secret, "shown again, not made anew"
    other_secret = secret_of(hooks, other)

    url = receiver.url + "/roster?source=hr"
    r = upload(hooks.api, account, data=FILE, role="la_user", dry_run="true", callback_url=url)
    assert r.status_code == 202, r.text
    iid = r.json()["id"]
    assert r.json()["callback_url"] == url
    assert r.json()["links"]["webhook_deliveries"] == f"/v1/imports/{iid}/webhook-deliveries"
    wait_final(hooks.api, account, iid)
    wait_until(lambda: len(receiver.events()) == 1, timeout=20, what="the validated event")

    c = requests.post(f"{hooks.api.base}/v1/imports/{iid}/commit", headers=account.headers, timeout=10)
    assert c.status_code == 202, c.text
    done = wait_final(hooks.api, account, iid)
    assert done["state"] == "completed_with_errors"
    wait_until(lambda: len(receiver.events()) == 2, timeout=20, what="the completed event")
    time.sleep(2.5)  # a second event for the same state would have come by now
    got = receiver.events()
    assert len(got) == 2

    types = []
    for e in got:
        h, body = e["headers"], e["body"]
        assert e["path"] == "/roster?source=hr"
        assert h["Content-Type"] == "application/json"
        assert h["User-Agent"].startswith("roster-webhook/")
        assert verify(secret, h, body), "the account's secret verifies the signature"
        assert not verify(other_secret, h, body), "another account's secret does not"
        assert not verify(secret, h, body + b" "), "nor does a changed body"
        event = json.loads(body)
        openapi_check.validate_schema("WebhookEvent", event)
        assert h["Roster-Event-Id"] == event["id"] and h["Roster-Event-Type"] == event["type"]
        assert h["Roster-Delivery-Attempt"] == "1"
        assert event["import"]["id"] == iid
        assert event["import"]["links"]["self"] == f"/v1/imports/{iid}"
        types.append(event["type"])
    assert types == ["import.validated", "import.completed_with_errors"]
    final = json.loads(got[1]["body"])["import"]
    assert final["counts"]["created"] == 1 and final["counts"]["failed"] == 1 and not final["dry_run"]
    assert len({e["headers"]["Roster-Event-Id"] for e in got}) == 2

    d = deliveries(hooks.api, account, iid)
    assert d["callback_url"] == url
    assert [x["type"] for x in d["data"]] == types
    for x in d["data"]:
        assert x["state"] == "delivered" and x["next_attempt_at"] is None
        assert [(a["attempt"], a["status"], a["error"]) for a in x["attempts"]] == [(1, 200, None)]
    # Another account sees neither the import nor its deliveries.
    r = requests.get(f"{hooks.api.base}/v1/imports/{iid}/webhook-deliveries", headers=other.headers, timeout=10)
    is_problem(r, 404, "not_found")


def test_a_failing_receiver_gets_the_event_again_across_restarts(hooks, receiver):
    account = hooks.new_account()
    secret = secret_of(hooks, account)
    receiver.answers = [500, 302, 503]
    iid = upload(hooks.api, account, data=FILE, role="la_user", callback_url=receiver.url).json()["id"]
    wait_final(hooks.api, account, iid)
    wait_until(lambda: len(receiver.events()) >= 1, timeout=20, what="the first attempt")
    # The first attempt is on record before the worker goes: one killed while
    # a request is in flight keeps its claim until the lease ends (a minute),
    # and only then sends that attempt again.
    wait_until(lambda: len(deliveries(hooks.api, account, iid)["data"][0]["attempts"]) == 1,
               timeout=20, what="the first attempt on record")

    # Every roster process goes, one of them without a chance to tidy up.
    hooks.worker.kill()
    assert hooks.api.stop() == 0
    api = hooks.start_api(**hooks.hook_env)
    hooks.start_worker(**hooks.hook_env)

    wait_until(lambda: len(receiver.events()) >= 4, timeout=40, what="the fourth attempt")
    time.sleep(2.5)
    got = receiver.events()
    assert len(got) == 4, "delivered on the fourth try, then never again"
    assert len({e["body"] for e in got}) == 1, "every attempt sends the same event"
    assert [e["headers"]["Roster-Delivery-Attempt"] for e in got] == ["1", "2", "3", "4"]
    assert all(verify(secret, e["headers"], e["body"]) for e in got)
    assert not any(e["path"] == "/moved" for e in got), "a redirect is not followed"

    (x,) = deliveries(api, account, iid)["data"]
    assert x["state"] == "delivered"
    assert [a["status"] for a in x["attempts"]] == [500, 302, 503, 200]
    assert "redirects are not followed" in x["attempts"][1]["error"]
    assert x["attempts"][3]["error"] is None
    # Backoff: each wait at least the one before.
    at = [time.mktime(time.strptime(a["at"][:19], "%Y-%m-%dT%H:%M:%S")) for a in x["attempts"]]
    assert at[2] - at[1] >= 1 and at[3] - at[2] >= 2


def test_a_private_target_is_refused_unless_allowed(roster, api, account, receiver):
    secret_of(roster, account)
    for url in (receiver.url, "http://localhost:8080/", "http://[::1]/x", "http://169.254.169.254/latest",
                "http://10.1.2.3/", "http://192.168.0.10/", "http://2130706433/", "https://foo.localhost/",
                "http://[::ffff:127.0.0.1]/", "http://[fd00::1]/", "http://0.0.0.0/"):
        r = upload(api, account, data=FILE, role="la_user", callback_url=url)
        body = is_problem(r, 400, "callback_url_refused")
        assert body["errors"][0]["name"] == "callback_url", url
    for url, words in (("ftp://example.org/x", "http or https"), ("not a url", "absolute"),
                       ("https://user:pw@example.org/", "user name or password"),
                       ("https://example.org/" + "a" * 2100, "2048")):
        body = is_problem(upload(api, account, data=FILE, role="la_user", callback_url=url), 400,
                          "invalid_option")
        assert words in body["detail"] and body["errors"][0]["name"] == "callback_url", url


def test_an_account_without_a_secret_cannot_ask_for_callbacks(roster, api, other_account):
    body = is_problem(upload(api, other_account, data=FILE, role="la_user", callback_url="https://example.org/h"),
                      400, "invalid_option")
    assert "roster-admin webhook secret" in body["detail"]


def test_a_name_that_resolves_to_loopback_is_refused_when_connecting(hooks, receiver):
    """The API allows private targets, this worker does not: the address is
    checked again on every connection, whatever the URL said."""
    account = hooks.new_account()
    secret_of(hooks, account)
    hooks.worker.stop()
    strict = hooks.start_worker(ROSTER_WEBHOOK_RETRY_SECONDS="1")
    iid = upload(hooks.api, account, data=FILE, role="la_user",
                 callback_url=receiver.url.replace("127.0.0.1", "localhost")).json()["id"]
    wait_final(hooks.api, account, iid)

    def attempts():
        data = deliveries(hooks.api, account, iid)["data"]
        return data[0]["attempts"] if data else []

    wait_until(lambda: len(attempts()) >= 1, timeout=20, what="a refused attempt")
    first = attempts()[0]
    assert first["status"] is None and "is not a public address" in first["error"], first
    assert receiver.events() == []

    # Past ROSTER_WEBHOOK_RETRY_HOURS an event is given up, and shown so.
    with hooks.db() as conn, conn.cursor() as cur:
        cur.execute("UPDATE webhook_deliveries SET created_at = now() - interval '73 hours' WHERE import_id = %s",
                    (iid,))
    wait_until(lambda: deliveries(hooks.api, account, iid)["data"][0]["state"] == "given_up", timeout=20,
               what="the event given up")
    (x,) = deliveries(hooks.api, account, iid)["data"]
    assert x["given_up_at"] and x["next_attempt_at"] is None and x["delivered_at"] is None
    assert receiver.events() == []
    strict.stop()


def test_a_rotated_secret_signs_from_then_on(hooks, receiver):
    account = hooks.new_account()
    old = secret_of(hooks, account)
    new = secret_of(hooks, account, "--rotate")
    assert new != old and new.startswith("whsec_")
    iid = upload(hooks.api, account, data=FILE, role="la_user", callback_url=receiver.url).json()["id"]
    wait_final(hooks.api, account, iid)
    wait_until(lambda: len(receiver.events()) == 1, timeout=20, what="the event")
    (e,) = receiver.events()
    assert verify(new, e["headers"], e["body"]) and not verify(old, e["headers"], e["body"])


def test_a_held_full_sync_calls_back_when_held_and_when_committed(hooks, receiver):
    account = hooks.new_account()
    secret = secret_of(hooks, account)
    staff = b"Email,First Name,Last Name\n" + b"".join(b"h%d@example.org,H%d,Held\n" % (i, i) for i in range(4))
    iid = upload(hooks.api, account, data=staff, role="la_user").json()["id"]
    wait_final(hooks.api, account, iid)
    # A file with one of the four: three would go, over the threshold.
    iid = upload(hooks.api, account, data=b"Email,First Name,Last Name\nh0@example.org,H0,Held\n", role="la_user",
                 missing="archive", callback_url=receiver.url).json()["id"]
    assert wait_final(hooks.api, account, iid)["state"] == "held"
    wait_until(lambda: len(receiver.events()) == 1, timeout=20, what="the held event")
    r = requests.post(f"{hooks.api.base}/v1/imports/{iid}/commit", headers=account.headers, timeout=10)
    assert r.status_code == 200, r.text
    wait_until(lambda: len(receiver.events()) == 2, timeout=20, what="the completed event")
    events = [json.loads(e["body"]) for e in receiver.events()]
    assert all(verify(secret, e["headers"], e["body"]) for e in receiver.events())
    assert [(e["type"], e["import"]["counts"]["archived"]) for e in events] == [("import.held", 3),
                                                                                 ("import.completed", 3)]
    for e in events:
        openapi_check.validate_schema("WebhookEvent", e)
