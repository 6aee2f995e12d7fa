"""CORS for the configured SPA origins, preflight included."""

import pytest
import requests

from harness import upload

ORIGIN = "https://admin.example.org"


@pytest.fixture(scope="module")
def cors_api(roster):
    p = roster.start_api(ROSTER_CORS_ORIGINS=f"{ORIGIN}, https://other.example.org")
    yield p
    p.stop()


def test_preflight_from_an_allowed_origin(cors_api):
    r = requests.options(cors_api.base + "/v1/imports", headers={
        "Origin": ORIGIN, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type, idempotency-key"}, timeout=10)
    assert r.status_code == 204
    assert r.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert "POST" in r.headers["Access-Control-Allow-Methods"]
    allowed = r.headers["Access-Control-Allow-Headers"].lower()
    assert "authorization" in allowed and "idempotency-key" in allowed


def test_preflight_from_another_origin_is_refused(cors_api):
    r = requests.options(cors_api.base + "/v1/imports", headers={
        "Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}, timeout=10)
    assert r.status_code == 403
    assert "Access-Control-Allow-Origin" not in r.headers


def test_responses_carry_cors_headers_for_allowed_origins(cors_api, account):
    r = requests.get(cors_api.base + "/v1/imports", headers={**account.headers, "Origin": ORIGIN}, timeout=10)
    assert r.status_code == 200
    assert r.headers["Access-Control-Allow-Origin"] == ORIGIN
    exposed = {h.strip() for h in r.headers["Access-Control-Expose-Headers"].split(",")}
    # The upload's Location, and the error CSV's file name for a download link.
    assert {"Location", "Content-Disposition", "X-Request-Id", "Retry-After"} <= exposed, exposed
    r = upload(cors_api, account, data=b"Email,First Name,Last Name\nc@example.org,C,D\n", role="la_user",
               headers={"Origin": ORIGIN})
    assert r.status_code == 202 and r.headers["Access-Control-Allow-Origin"] == ORIGIN
    # Refused before the body, still readable by the SPA.
    r = requests.post(cors_api.base + "/v1/imports", data=b"x", headers={"Origin": ORIGIN,
                      "Content-Type": "text/csv"}, timeout=10)
    assert r.status_code == 401 and r.headers["Access-Control-Allow-Origin"] == ORIGIN
    r = requests.get(cors_api.base + "/v1/imports", headers={**account.headers, "Origin": "https://evil.example"},
                     timeout=10)
    assert "Access-Control-Allow-Origin" not in r.headers
