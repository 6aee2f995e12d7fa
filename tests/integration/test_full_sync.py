"""Full sync: missing=archive sets inactive the users of the import's
roles that its file does not list, guarded by change_threshold (held until
a commit or a cancel)."""

import requests

from harness import is_problem, upload, wait_final


def csv_of(rows, header="Email,First Name,Last Name,Active"):
    return ("\n".join([header] + rows) + "\n").encode()


def staff(n, role="la_user", tag="s"):
    return [f"{tag}{i}@example.org,S{i},Staff,yes" for i in range(n)]


def seed(api, account):
    """Ten LA users and three social workers."""
    for rows, role in ((staff(10), "la_user"), (staff(3, tag="w"), "social_worker")):
        iid = upload(api, account, data=csv_of(rows), role=role).json()["id"]
        assert wait_final(api, account, iid)["counts"]["created"] == len(rows)


def active(account):
    return {u["email"]: u["active"] for u in account.users()}


def results(api, account, iid, limit=2):
    items, cursor = [], None
    while True:
        params = {"limit": limit, **({"cursor": cursor} if cursor else {})}
        page = requests.get(f"{api.base}/v1/imports/{iid}/results", params=params, headers=account.headers,
                            timeout=10).json()
        items += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            return items


def ids(account):
    with account.roster.db() as conn, conn.cursor() as cur:
        cur.execute("SELECT email, id FROM users WHERE account_id = (SELECT id FROM accounts WHERE slug = %s)",
                    (account.slug,))
        return dict(cur.fetchall())


def test_archive_sets_inactive_exactly_the_users_the_file_does_not_list(api, worker, account):
    seed(api, account)
    # s0..s7 listed, s8 on a line that fails (bad Active) but is listed all
    # the same, s9 missing; one new user. 1 of 10 is within the default 10 %.
    rows = staff(8) + ["s8@example.org,S8,Staff,maybe", "new@example.org,New,Staff,yes"]
    r = upload(api, account, data=csv_of(rows), role="la_user", missing="archive")
    assert r.status_code == 202, r.text
    assert r.json()["missing"] == "archive" and r.json()["change_threshold"] == 10
    iid = r.json()["id"]
    done = wait_final(api, account, iid)
    assert done["state"] == "completed_with_errors", done
    c = done["counts"]
    assert (c["unchanged"], c["created"], c["failed"], c["archived"]) == (8, 1, 1, 1)

    now = active(account)
    assert now["s9@example.org"] is False
    assert all(now[f"s{i}@example.org"] for i in range(9)) and now["new@example.org"]
    assert all(now[f"w{i}@example.org"] for i in range(3)), "another role's users are not touched"

    items = results(api, account, iid)
    assert [x["line"] for x in items] == list(range(2, 12)) + [None]
    assert items[-1] == {"line": None, "email": "s9@example.org", "outcome": "archived",
                         "user_id": ids(account)["s9@example.org"]}
    with account.roster.db() as conn, conn.cursor() as cur:
        cur.execute("SELECT updated_by_import::text FROM users WHERE email = 's9@example.org'")
        assert cur.fetchone()[0] == iid

    # The same file again archives no one more.
    iid = upload(api, account, data=csv_of(rows), role="la_user", missing="archive").json()["id"]
    assert wait_final(api, account, iid)["counts"]["archived"] == 0


def test_above_the_threshold_an_import_is_held_until_commit(api, worker, account):
    seed(api, account)
    iid = upload(api, account, data=csv_of(staff(5)), role="la_user", missing="archive",
                 change_threshold="40").json()["id"]
    held = wait_final(api, account, iid)
    assert held["state"] == "held" and held["counts"]["archived"] == 5, held
    assert all(active(account).values()), "a held import archives no one"
    would = [x for x in results(api, account, iid) if x["outcome"] == "archived"]
    assert sorted(x["email"] for x in would) == [f"s{i}@example.org" for i in range(5, 10)]

    r = requests.post(f"{api.base}/v1/imports/{iid}/commit", headers=account.headers, timeout=10)
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "completed" and r.json()["counts"]["archived"] == 5
    now = active(account)
    assert [e for e, a in sorted(now.items()) if not a] == [f"s{i}@example.org" for i in range(5, 10)]
    is_problem(requests.post(f"{api.base}/v1/imports/{iid}/commit", headers=account.headers, timeout=10), 409,
               "invalid_state")


def test_a_held_import_cancelled_archives_no_one(api, worker, account):
    seed(api, account)
    iid = upload(api, account, data=csv_of(staff(2)), role="la_user", missing="archive").json()["id"]
    assert wait_final(api, account, iid)["state"] == "held"
    r = requests.post(f"{api.base}/v1/imports/{iid}/cancel", headers=account.headers, timeout=10)
    assert r.status_code == 200 and r.json()["state"] == "cancelled" and r.json()["counts"]["archived"] == 0
    assert all(active(account).values())
    assert [x for x in results(api, account, iid) if x["outcome"] == "archived"] == []


def test_a_dry_run_counts_whom_it_would_archive(api, worker, account):
    seed(api, account)
    iid = upload(api, account, data=csv_of(staff(9)), role="la_user", missing="archive", dry_run="true").json()["id"]
    done = wait_final(api, account, iid)
    assert done["state"] == "validated" and done["counts"]["archived"] == 1
    assert all(active(account).values())
    r = requests.post(f"{api.base}/v1/imports/{iid}/commit", headers=account.headers, timeout=10)
    assert r.status_code == 202
    done = wait_final(api, account, iid)
    assert done["state"] == "completed" and done["counts"]["archived"] == 1
    assert active(account)["s9@example.org"] is False


def test_a_file_whose_every_row_failed_archives_no_one(api, worker, account):
    seed(api, account)
    iid = upload(api, account, data=csv_of(["bad-email,A,B,yes"]), role="la_user", missing="archive").json()["id"]
    done = wait_final(api, account, iid)
    assert done["state"] == "failed" and done["counts"]["archived"] == 0
    assert all(active(account).values())


def test_bad_sync_options_are_refused(api, account):
    data = csv_of(staff(1))
    for options, name in (({"missing": "delete"}, "missing"),
                          ({"change_threshold": "20"}, "change_threshold"),
                          ({"missing": "archive", "change_threshold": "101"}, "change_threshold"),
                          ({"missing": "archive", "change_threshold": "-1"}, "change_threshold"),
                          ({"missing": "archive", "change_threshold": "5%"}, "change_threshold")):
        body = is_problem(upload(api, account, data=data, role="la_user", **options), 400, "invalid_option")
        assert body["errors"][0]["name"] == name, options
