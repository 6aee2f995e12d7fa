"""The account's users: lists with filters, one user with its links, and
an export that uploads again as all unchanged."""

import csv
import io
import threading

import requests

from harness import is_problem, upload, wait_final, wait_until

FILE = ("Email,First Name,Last Name,Job Title,Phone,Role,URN,UPN,UPN,Teams,Active\n"
        "ann@example.org,Ann,Able,Teacher,01234 567890,Designated Teacher,983561,,,Blue; Red,yes\n"
        "bob@example.org,Bob,Baker,,,Social Worker,,B801200005001,Q801200005002,Red,yes\n"
        "cat@example.org,Cat,Cole,Officer,020 7946 0000,la_user,,,,,no\n"
        "dan@example.org,\"Dan, Jr\",\"=Dodd\",,,Social Worker,,E801200005003,,Blue,1\n").encode()


def users(api, token, **params):
    return requests.get(f"{api.base}/v1/users", params=params, headers={"Authorization": f"Bearer {token}"},
                        timeout=10)


def setup_account(roster, account):
    for team in ("Blue", "Red"):
        roster.admin("team", "create", account.slug, team)
    iid = upload(api_of(roster), account, data=FILE).json()["id"]
    done = wait_final(api_of(roster), account, iid)
    assert done["counts"]["created"] == 4, done
    return iid


def api_of(roster):
    return roster.users_api


def test_users_are_listed_with_their_links_and_filtered(roster, api, worker, account, other_account):
    roster.users_api = api
    token = account.token_with("users:read")
    iid = setup_account(roster, account)

    r = users(api, token)
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    assert [u["email"] for u in items] == ["ann@example.org", "bob@example.org", "cat@example.org",
                                           "dan@example.org"]
    ann, bob, cat, dan = items
    assert ann["establishment"]["urn"] == 983561 and ann["establishment"]["name"].startswith("St Mary")
    assert ann["role"] == {"key": "designated_teacher", "name": "Designated Teacher"}
    assert [t["name"] for t in ann["teams"]] == ["Blue", "Red"]
    assert bob["pupils"] == ["B801200005001", "Q801200005002"] and bob["establishment"] is None
    assert cat["active"] is False and cat["job_title"] == "Officer"
    assert ann["created_by_import"] == iid and ann["links"]["self"] == f"/v1/users/{ann['id']}"

    one = requests.get(f"{api.base}/v1/users/{bob['id']}", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert one.status_code == 200 and one.json() == bob

    def emails(**params):
        r = users(api, token, **params)
        assert r.status_code == 200, r.text
        return [u["email"] for u in r.json()["items"]]

    assert emails(email="BOB@example.org") == ["bob@example.org"]
    assert emails(role="social_worker") == ["bob@example.org", "dan@example.org"]
    assert emails(role="Social Worker") == ["bob@example.org", "dan@example.org"]
    assert emails(urn="983561") == ["ann@example.org"]
    assert emails(team="blue") == ["ann@example.org", "dan@example.org"]
    assert emails(active="false") == ["cat@example.org"]
    assert emails(created_by_import=iid) == ["ann@example.org", "bob@example.org", "cat@example.org",
                                             "dan@example.org"]
    assert emails(updated_by_import="00000000-0000-4000-8000-000000000000") == []

    # Pages in email order, each page's cursor going on from its last.
    seen, cursor = [], None
    while True:
        page = users(api, token, limit=3, **({"cursor": cursor} if cursor else {})).json()
        seen += [u["email"] for u in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == ["ann@example.org", "bob@example.org", "cat@example.org", "dan@example.org"]

    # Another account sees none of them.
    other = other_account.token_with("users:read")
    assert users(api, other).json()["items"] == []
    is_problem(requests.get(f"{api.base}/v1/users/{ann['id']}", headers={"Authorization": f"Bearer {other}"},
                            timeout=10), 404, "not_found")


def test_bad_filters_are_refused_not_ignored(roster, api, account):
    token = account.token_with("users:read")
    for params, name in (({"rol": "x"}, "rol"), ({"urn": "12ab"}, "urn"), ({"urn": "0"}, "urn"),
                         ({"active": "maybe"}, "active"), ({"role": "Headteacher"}, "role"),
                         ({"team": "Nonexistent"}, "team"), ({"created_by_import": "42"}, "created_by_import")):
        body = is_problem(users(api, token, **params), 400, "invalid_option")
        assert body["errors"][0]["name"] == name, params
    is_problem(users(api, token, cursor="!!"), 400, "invalid_cursor")
    is_problem(users(api, token, limit="0"), 400)
    for bad in ("0", "-1", "abc", "99999999999999999999"):
        r = requests.get(f"{api.base}/v1/users/{bad}", headers={"Authorization": f"Bearer {token}"}, timeout=10)
        is_problem(r, 404, "not_found")
    # Reading users takes its own scope.
    body = is_problem(users(api, account.token_with("imports:read")), 403, "insufficient_scope")
    assert "users:read" in body["detail"]


def test_the_export_uploads_again_as_all_unchanged(roster, api, worker, account):
    roster.users_api = api
    token = account.token_with("users:read")
    setup_account(roster, account)

    r = requests.get(f"{api.base}/v1/users.csv", headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/csv")
    assert 'filename="users.csv"' in r.headers["Content-Disposition"]
    text = r.content.decode("utf-8-sig")
    ids = {u["email"]: u["id"] for u in users(api, token).json()["items"]}
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["First Name", "Last Name", "Email", "Job Title", "Phone", "Role",
                       "School Reference Number (URN)", "Pupil Reference Number (UPN)",
                       "Pupil Reference Number (UPN)", "Active", "Teams", "Roster User ID"]
    assert rows[2] == ["Bob", "Baker", "bob@example.org", "", "", "Social Worker", "", "B801200005001",
                       "Q801200005002", "yes", "Red", str(ids["bob@example.org"])]
    assert rows[4][:2] == ["Dan, Jr", "'=Dodd"], "a formula-like cell is made inert"

    iid = upload(api, account, data=r.content, filename="users.csv").json()["id"]
    done = wait_final(api, account, iid)
    assert done["counts"]["unchanged"] == 4 and done["counts"]["rows_total"] == 4, done
    assert done["counts"]["failed"] == 0

    # Filtered: one role only.
    r = requests.get(f"{api.base}/v1/users.csv", params={"role": "social_worker"},
                     headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert [row[2] for row in list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))[1:]] == [
        "bob@example.org", "dan@example.org"]


def test_the_new_routes_want_a_valid_token(api, worker, account):
    iid = upload(api, account, data=b"Email,First Name,Last Name\nt1@example.org,T,One\n", role="la_user").json()["id"]
    wait_final(api, account, iid)
    paths = ["/v1/users", "/v1/users.csv", "/v1/users/1", f"/v1/imports/{iid}/results",
             f"/v1/imports/{iid}/results.csv", f"/v1/imports/{iid}/webhook-deliveries"]
    for path in paths:
        is_problem(requests.get(api.base + path, timeout=10), 401, "unauthenticated")
        r = requests.get(api.base + path, headers={"Authorization": "Bearer rst_" + "x" * 43}, timeout=10)
        is_problem(r, 401, "invalid_token")


def test_a_page_of_users_is_read_at_one_moment(roster, api, account):
    """A page is several statements (the account's roles and teams, then
    the users); a user written between them is not shown half-known."""
    token = account.token_with("users:read")
    writer = roster.db()
    writer.autocommit = False
    with writer.cursor() as cur:
        cur.execute("SELECT id FROM accounts WHERE slug = %s", (account.slug,))
        (account_id,) = cur.fetchone()
        # Held until the page has read the account's teams and waits for the users.
        cur.execute("LOCK TABLE users IN ACCESS EXCLUSIVE MODE")
        cur.execute("INSERT INTO teams (account_id, name) VALUES (%s, 'Late') RETURNING id", (account_id,))
        (team_id,) = cur.fetchone()
        cur.execute("INSERT INTO users (account_id, email, first_name, last_name, role_id) "
                    "SELECT %s, 'late@example.org', 'Late', 'Comer', id FROM roles WHERE account_id = %s "
                    "ORDER BY id LIMIT 1 RETURNING id", (account_id, account_id))
        (user_id,) = cur.fetchone()
        cur.execute("INSERT INTO user_teams (user_id, team_id) VALUES (%s, %s)", (user_id, team_id))

    got = {}
    reader = threading.Thread(target=lambda: got.setdefault("r", users(api, token)))
    reader.start()
    watcher = roster.db()
    with watcher.cursor() as cur:
        def page_waits():
            cur.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                        "AND query LIKE '%FROM users u%'")
            return cur.fetchone()[0] == 1
        wait_until(page_waits, timeout=10, what="the page to wait for the users table")
    watcher.close()
    writer.commit()
    writer.close()
    reader.join(timeout=20)

    r = got["r"]
    assert r.status_code == 200, r.text
    assert [u["email"] for u in r.json()["items"]] == [], "the page sees the account as it was when it began"
    (late,) = users(api, token).json()["items"]
    assert late["email"] == "late@example.org" and [t["name"] for t in late["teams"]] == ["Late"]
