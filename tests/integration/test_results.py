"""Per-row results: every line of the file, in order, with its outcome and
its user's id, as JSON pages and as one CSV."""

import csv
import io

import pytest
import requests

from harness import upload, wait_final


def all_results(api, account, iid, limit=None):
    items, cursor = [], None
    while True:
        params = {k: v for k, v in (("limit", limit), ("cursor", cursor)) if v}
        r = requests.get(f"{api.base}/v1/imports/{iid}/results", params=params, headers=account.headers, timeout=30)
        assert r.status_code == 200, r.text
        page = r.json()
        assert len(page["items"]) <= (limit or 100)
        items += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            return items, page


def results_csv(api, account, iid):
    r = requests.get(f"{api.base}/v1/imports/{iid}/results.csv", headers=account.headers, timeout=60)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/csv")
    assert f"import-{iid}-results.csv" in r.headers["Content-Disposition"]
    return list(csv.DictReader(io.StringIO(r.text)))


def user_ids(roster, account):
    with roster.db() as conn, conn.cursor() as cur:
        cur.execute("SELECT lower(u.email), u.id FROM users u JOIN accounts a ON a.id = u.account_id "
                    "WHERE a.slug = %s", (account.slug,))
        return dict(cur.fetchall())


def test_every_line_has_its_outcome_and_user_over_batches_and_ranges(sandbox):
    api = sandbox.start_api(ROSTER_RANGE_ROWS="1000")
    # Small batches, two workers: the lines are written out of order.
    for _ in range(2):
        sandbox.start_worker(ROSTER_BATCH_ROWS="97", ROSTER_WORKER_CONCURRENCY="2")
    account = sandbox.new_account()

    first = ["Email,First Name,Last Name"] + [f"p{i}@example.org,P{i},Before" for i in range(1200)]
    iid = upload(api, account, data=("\n".join(first) + "\n").encode(), role="la_user").json()["id"]
    assert wait_final(api, account, iid, timeout=120)["counts"]["created"] == 1200

    # Line 2 + i: updated (i < 400), unchanged (i < 1200), new (i < 2400),
    # and every 50th new line has a bad email; one repeats line 2's.
    rows, want = ["Email,First Name,Last Name"], {}
    for i in range(2400):
        line = i + 2
        if i < 400:
            rows.append(f"p{i}@example.org,P{i},After")
            want[line] = ("updated", f"p{i}@example.org")
        elif i < 1200:
            rows.append(f"P{i}@Example.org,P{i},Before")
            want[line] = ("unchanged", f"p{i}@example.org")  # the user's email
        elif i == 2399:
            rows.append("p0@example.org,Again,Repeated")
            want[line] = ("failed", "p0@example.org")
        elif i % 50 == 0:
            rows.append(f"n{i}-at-example.org,N{i},Bad")
            want[line] = ("failed", f"n{i}-at-example.org")  # the cell
        else:
            rows.append(f"n{i}@example.org,N{i},New")
            want[line] = ("created", f"n{i}@example.org")
    iid = upload(api, account, data=("\n".join(rows) + "\n").encode(), role="la_user").json()["id"]
    done = wait_final(api, account, iid, timeout=180)
    counts = done["counts"]
    assert done["links"]["results"] == f"/v1/imports/{iid}/results"

    items, last = all_results(api, account, iid, limit=333)
    assert [x["line"] for x in items] == list(range(2, 2402)), "every line once, in order"
    assert last["counts"] == {k: counts[k] for k in ("rows_total", "rows_processed", "created", "updated",
                                                      "unchanged", "failed", "archived")}
    ids = user_ids(sandbox, account)
    tally = {}
    for x in items:
        outcome, email = want[x["line"]]
        assert (x["outcome"], x["email"]) == (outcome, email), x
        tally[outcome] = tally.get(outcome, 0) + 1
        if outcome == "failed":
            assert x["user_id"] is None
        else:
            assert x["user_id"] == ids[email.lower()], x
    assert tally == {k: counts[k] for k in ("created", "updated", "unchanged", "failed")}

    rows_csv = results_csv(api, account, iid)
    assert [(int(r["line"]), r["email"] or None, r["outcome"], int(r["user_id"]) if r["user_id"] else None)
            for r in rows_csv] == [(x["line"], x["email"], x["outcome"], x["user_id"]) for x in items]


def test_a_dry_run_says_what_a_commit_will_do_then_the_commit_says_what_it_did(roster, api, worker, account):
    data = b"Email,First Name,Last Name\ndry1@example.org,Dry,One\nnot-an-email,Dry,Two\n"
    iid = upload(api, account, data=data, role="la_user", dry_run="true").json()["id"]
    wait_final(api, account, iid)
    items, _ = all_results(api, account, iid)
    assert [(x["line"], x["outcome"], x["user_id"]) for x in items] == [(2, "created", None), (3, "failed", None)]

    assert requests.post(f"{api.base}/v1/imports/{iid}/commit", headers=account.headers, timeout=10).status_code == 202
    wait_final(api, account, iid)
    items, _ = all_results(api, account, iid)
    ids = user_ids(roster, account)
    assert [(x["line"], x["outcome"], x["user_id"]) for x in items] == [
        (2, "created", ids["dry1@example.org"]), (3, "failed", None)]


def test_results_of_another_account_or_with_a_bad_cursor_are_refused(api, worker, account, other_account):
    iid = upload(api, account, data=b"Email,First Name,Last Name\nr1@example.org,R,One\n", role="la_user").json()["id"]
    wait_final(api, account, iid)
    for path in ("results", "results.csv"):
        r = requests.get(f"{api.base}/v1/imports/{iid}/{path}", headers=other_account.headers, timeout=10)
        assert r.status_code == 404 and r.json()["code"] == "not_found"
    r = requests.get(f"{api.base}/v1/imports/{iid}/results", params={"cursor": "nonsense"}, headers=account.headers,
                     timeout=10)
    assert r.status_code == 400 and r.json()["code"] == "invalid_cursor"
    r = requests.get(f"{api.base}/v1/imports/{iid}/results", params={"limit": "0"}, headers=account.headers,
                     timeout=10)
    assert r.status_code == 400
