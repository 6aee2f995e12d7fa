"""The account's roles and teams, as a client reads them to fill its
forms: its own only, sorted by name, with a read-only token."""

import requests

from harness import is_problem


def get(api, path, headers):
    return requests.get(api.base + path, headers=headers, timeout=10)


def test_roles_and_teams_of_the_account(roster, api, account, other_account):
    roster.admin("team", "create", account.slug, "North Locality")
    roster.admin("team", "create", account.slug, "bulk users")
    roster.admin("team", "create", other_account.slug, "Someone Else's")
    roster.admin("role", "create", account.slug, "carer", "--name", "Foster Carer", "--pupils")
    read_only = {"Authorization": f"Bearer {account.token_with('imports:read')}"}

    r = get(api, "/v1/roles", read_only)
    assert r.status_code == 200, r.text
    roles = r.json()["items"]
    assert [x["name"] for x in roles] == sorted((x["name"] for x in roles), key=str.lower)
    by_key = {x["key"]: x for x in roles}
    assert by_key["carer"] == {"key": "carer", "name": "Foster Carer", "needs_establishment": False, "pupils": True}
    assert by_key["designated_teacher"]["needs_establishment"] is True
    assert {"designated_teacher", "social_worker", "la_user", "la_super_user"} <= set(by_key)
    assert "carer" not in {x["key"] for x in get(api, "/v1/roles", other_account.headers).json()["items"]}

    teams = get(api, "/v1/teams", read_only).json()["items"]
    assert [t["name"] for t in teams] == ["bulk users", "North Locality"]
    assert all(isinstance(t["id"], int) for t in teams)
    assert [t["name"] for t in get(api, "/v1/teams", other_account.headers).json()["items"]] == ["Someone Else's"]

    for path in ("/v1/roles", "/v1/teams"):
        is_problem(get(api, path, {}), 401, "unauthenticated")
        is_problem(requests.post(api.base + path, headers=account.headers, timeout=10), 405, "method_not_allowed")
