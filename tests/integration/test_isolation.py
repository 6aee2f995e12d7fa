"""Accounts are isolated: every route of roster-api's route table, called
with one account's token and another account's ids, answers 404 (or 400,
401, 403) and never the other account's data. The walk reads the route
table from api/routes.c, so a route added there without a case here fails
the test."""

import os
import re

import requests

from harness import upload, wait_final

ROUTES_C = os.path.join(os.path.dirname(__file__), "..", "..", "api", "routes.c")


def route_table():
    text = open(ROUTES_C).read()
    table = text[text.index("static const Route routes[]"):]
    table = table[:table.index("};")]
    return {(m, p) for m, p in re.findall(r'\{\s*"([A-Z]+)",\s*"([^"]+)"', table)}


def test_every_route_keeps_accounts_apart(roster, api, worker, account, other_account):
    # Account A: a role, a team, an import with a failed row, users, a
    # webhook delivery list, audit events.
    roster.admin("role", "create", account.slug, "secret_role", "--name", "Secret Role")
    roster.admin("team", "create", account.slug, "Secret Team")
    data = ("Email,First Name,Last Name,Teams,Phone\n"
            "alpha.one@example.org,Alpha,One,Secret Team,\n"
            "alpha.two@example.org,Alpha,Two,,12\n").encode()
    a_import = upload(api, account, data=data, role="secret_role").json()["id"]
    wait_final(api, account, a_import)
    a_users = requests.get(f"{api.base}/v1/users", headers=account.headers, timeout=10).json()["items"]
    a_user = a_users[0]["id"]
    # What B must never see. A refusal may repeat the id B sent; a list
    # must not hold it.
    a_data = ["alpha.one@example.org", "alpha.two@example.org", "Secret Team", "Secret Role"]

    # Account B holds every scope.
    b_token = other_account.token_with("imports:read,imports:write,users:read,audit:read")
    b = {"Authorization": f"Bearer {b_token}"}
    b_import = upload(api, other_account, data=b"Email,First Name,Last Name\nbeta@example.org,Beta,B\n",
                      role="la_user").json()["id"]
    wait_final(api, other_account, b_import)

    def holds(r, secrets):
        body = r.content.decode("utf-8", "replace")
        return any(s in body for s in secrets)

    def refused(r):
        return r.status_code in (400, 401, 403, 404) and not holds(r, a_data)

    def listed_own_only(r):
        return r.status_code == 200 and not holds(r, a_data + [a_import, "secret_role"])

    i = f"/v1/imports/{a_import}"
    cases = {
        ("GET", "/healthz"): (lambda: requests.get(api.base + "/healthz"), listed_own_only),
        ("GET", "/readyz"): (lambda: requests.get(api.base + "/readyz"), listed_own_only),
        ("GET", "/metrics"): (lambda: requests.get(api.base + "/metrics"), listed_own_only),
        ("GET", "/openapi.json"): (lambda: requests.get(api.base + "/openapi.json"), listed_own_only),
        ("GET", "/openapi.yaml"): (lambda: requests.get(api.base + "/openapi.yaml"), listed_own_only),
        ("GET", "/admin/"): (lambda: requests.get(api.base + "/admin/"), listed_own_only),
        ("GET", "/admin/:file"): (lambda: requests.get(api.base + "/admin/admin.js"), listed_own_only),
        ("POST", "/v1/imports"): (
            lambda: upload(api, other_account, data=b"Email,First Name,Last Name\nx@example.org,X,Y\n",
                           token=b_token, role="secret_role"), refused),
        ("GET", "/v1/imports"): (lambda: requests.get(api.base + "/v1/imports", headers=b), listed_own_only),
        ("GET", "/v1/imports/:id"): (lambda: requests.get(api.base + i, headers=b), refused),
        ("DELETE", "/v1/imports/:id"): (lambda: requests.delete(api.base + i, headers=b), refused),
        ("GET", "/v1/imports/:id/errors"): (lambda: requests.get(api.base + i + "/errors", headers=b), refused),
        ("GET", "/v1/imports/:id/errors.csv"): (
            lambda: requests.get(api.base + i + "/errors.csv", headers=b), refused),
        ("GET", "/v1/imports/:id/events"): (
            lambda: requests.get(api.base + i + "/events", headers=b, timeout=5), refused),
        ("POST", "/v1/imports/:id/events-token"): (
            lambda: requests.post(api.base + i + "/events-token", headers=b), refused),
        ("GET", "/v1/imports/:id/results"): (lambda: requests.get(api.base + i + "/results", headers=b), refused),
        ("GET", "/v1/imports/:id/results.csv"): (
            lambda: requests.get(api.base + i + "/results.csv", headers=b), refused),
        ("GET", "/v1/imports/:id/webhook-deliveries"): (
            lambda: requests.get(api.base + i + "/webhook-deliveries", headers=b), refused),
        ("POST", "/v1/imports/:id/commit"): (lambda: requests.post(api.base + i + "/commit", headers=b), refused),
        ("POST", "/v1/imports/:id/cancel"): (lambda: requests.post(api.base + i + "/cancel", headers=b), refused),
        ("GET", "/v1/templates/users.csv"): (
            lambda: requests.get(api.base + "/v1/templates/users.csv", params={"role": "secret_role"}, headers=b),
            refused),
        ("GET", "/v1/users"): (
            lambda: requests.get(api.base + "/v1/users", params={"email": "alpha.one@example.org"}, headers=b),
            listed_own_only),
        ("GET", "/v1/users.csv"): (
            lambda: requests.get(api.base + "/v1/users.csv", params={"created_by_import": a_import}, headers=b),
            listed_own_only),
        ("GET", "/v1/users/:id"): (lambda: requests.get(f"{api.base}/v1/users/{a_user}", headers=b), refused),
        ("GET", "/v1/roles"): (lambda: requests.get(api.base + "/v1/roles", headers=b), listed_own_only),
        ("GET", "/v1/teams"): (lambda: requests.get(api.base + "/v1/teams", headers=b), listed_own_only),
        ("GET", "/v1/audit"): (
            lambda: requests.get(api.base + "/v1/audit", params={"limit": 1000}, headers=b), listed_own_only),
    }
    table = route_table()
    assert table - set(cases) == set(), "routes without an isolation case: add them here"
    assert set(cases) - table == set(), "cases for routes that no longer exist"

    for key, (call, judge) in sorted(cases.items()):
        r = call()
        assert judge(r), f"{key}: {r.status_code} {r.text[:300]}"

    # B's own list holds B's import, so the lists were not simply empty.
    mine = requests.get(api.base + "/v1/imports", headers=b, timeout=10).json()["items"]
    assert [x["id"] for x in mine] == [b_import]
    # And A's import is untouched by B's commit, cancel and delete.
    state = requests.get(api.base + i, headers=account.headers, timeout=10).json()
    assert state["state"] == "completed_with_errors" and state["deleted_at"] is None
