"""Links between users by email (link.<kind> columns; "Manager Email" is
link.manager): a link may name a user of the account or of the same file,
on an earlier or a later line; a link that names neither fails its row
with unknown_user; a cell replaces the user's links of its kind."""

import csv
import io

import pytest
import requests

from harness import errors_of, is_problem, upload, wait_final, wait_until


def csv_of(rows, header="Email,First Name,Last Name,Manager Email"):
    return ("\n".join([header] + rows) + "\n").encode()


@pytest.fixture
def small_batches(roster):
    """An API and a worker of their own that write two rows a batch, so
    that a link to a later line waits for a later batch."""
    s = roster.sandbox()
    api = s.start_api()
    s.start_worker(ROSTER_BATCH_ROWS="2")
    account = s.new_account()
    yield api, account
    s.close()


def issues_by_line(api, account, iid):
    lines = {}
    for e in errors_of(api, account, iid):
        lines.setdefault(e["line"], []).append(e)
    return lines


def linked(api, account):
    """email -> {kind: [emails]} for the account's users, as the API
    gives them."""
    r = requests.get(f"{api.base}/v1/users", headers=account.headers, params={"limit": 1000}, timeout=10)
    assert r.status_code == 200, r.text
    return {u["email"]: {k: [t["email"] for t in v] for k, v in u["linked_users"].items()}
            for u in r.json()["items"]}


def test_a_link_column_links_users_of_the_same_file_and_fails_only_unknown_ones(roster, small_batches):
    api, account = small_batches
    rows = ["ann@example.org,Ann,Able,zoe@example.org",  # line 2: a user on the last line
            "bob@example.org,Bob,Baker,",  # no manager
            "cat@example.org,Cat,Cole,ANN@example.org",  # an earlier line, in any case
            "dan@example.org,Dan,Dodd,nobody@example.org",  # line 5: nobody has this email
            "eve@example.org,Eve,Eady,\"ann@example.org; bob@example.org, zoe@example.org\"",
            "fay@example.org,Fay,Fox,not-an-email",  # line 7
            "zoe@example.org,Zoe,Zeal,"]
    r = upload(api, account, data=csv_of(rows), role="la_user")
    assert r.status_code == 202, r.text
    assert r.json()["warnings"] == [], "Manager Email is read, not ignored"
    iid = r.json()["id"]
    done = wait_final(api, account, iid)
    c = done["counts"]
    assert (c["created"], c["failed"], c["warnings"]) == (5, 2, 0), done

    errors = issues_by_line(api, account, iid)
    assert set(errors) == {5, 7}
    assert [(i["field"], i["code"]) for i in errors[5]] == [("link.manager", "unknown_user")]
    assert "position 1" in errors[5][0]["message"]
    assert "nobody" not in errors[5][0]["message"], "messages do not repeat cells"
    assert [(i["field"], i["code"]) for i in errors[7]] == [("link.manager", "invalid_email")]

    links = linked(api, account)
    assert links["ann@example.org"] == {"manager": ["zoe@example.org"]}
    assert links["bob@example.org"] == {} and links["zoe@example.org"] == {}
    assert links["cat@example.org"] == {"manager": ["ann@example.org"]}
    assert links["eve@example.org"] == {"manager": ["ann@example.org", "bob@example.org", "zoe@example.org"]}
    assert "dan@example.org" not in links and "fay@example.org" not in links

    # The same file again changes nothing; a changed cell replaces the
    # kind's links, and a blank one leaves them alone.
    r = upload(api, account, data=csv_of(rows), role="la_user")
    again = wait_final(api, account, r.json()["id"])["counts"]
    assert (again["unchanged"], again["updated"], again["created"]) == (5, 0, 0), again
    r = upload(api, account, data=csv_of(["ann@example.org,Ann,Able,bob@example.org",
                                          "eve@example.org,Eve,Eady,",
                                          "cat@example.org,Cat,Cole,cat@example.org; zoe@example.org"]),
               role="la_user")
    changed = wait_final(api, account, r.json()["id"])["counts"]
    assert (changed["updated"], changed["unchanged"]) == (2, 1), changed
    links = linked(api, account)
    assert links["ann@example.org"] == {"manager": ["bob@example.org"]}
    assert links["eve@example.org"]["manager"] == ["ann@example.org", "bob@example.org", "zoe@example.org"]
    assert links["cat@example.org"] == {"manager": ["cat@example.org", "zoe@example.org"]}
    with account.roster.db() as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM import_links")
        assert cur.fetchone()[0] == 0, "links waiting for the end of an import are gone once it ends"


def test_a_link_to_a_line_that_failed_is_a_warning(api, worker, account):
    rows = ["ann@example.org,Ann,Able,zed@example.org; bob@example.org",
            "bob@example.org,Bob,Baker,",
            "zed@example.org,Zed,Zane,,12"]  # a phone number that is not one
    data = csv_of(rows, "Email,First Name,Last Name,Manager Email,Phone")
    # A dry run tells the same, though it creates no one.
    dry = upload(api, account, data=data, role="la_user", dry_run="true").json()["id"]
    checked = wait_final(api, account, dry)
    assert checked["state"] == "validated"
    assert (checked["counts"]["created"], checked["counts"]["failed"], checked["counts"]["warnings"]) == (2, 1, 1)
    assert [(i["line"], i["code"]) for i in errors_of(api, account, dry)] == [(2, "link_target_failed"),
                                                                              (4, "invalid_phone")]
    r = upload(api, account, data=data, role="la_user")
    iid = r.json()["id"]
    done = wait_final(api, account, iid)
    c = done["counts"]
    assert (c["created"], c["failed"], c["warnings"]) == (2, 1, 1), done
    errors = issues_by_line(api, account, iid)
    assert [(i["severity"], i["field"], i["code"]) for i in errors[2]] == [
        ("warning", "link.manager", "link_target_failed")]
    assert [i["code"] for i in errors[4]] == ["invalid_phone"]
    assert linked(api, account)["ann@example.org"] == {"manager": ["bob@example.org"]}, "the other link stands"


def test_column_map_names_other_kinds_and_links_reach_existing_users(api, worker, account):
    iid = upload(api, account, data=csv_of(["pat@example.org,Pat,Parent,"]), role="la_user").json()["id"]
    assert wait_final(api, account, iid)["counts"]["created"] == 1
    # A dry run checks links as the real run would, and writes none.
    data = ("Email,First Name,Last Name,Parent,Instructor\n"
            "kid@example.org,Kid,Parent,pat@example.org,ian@example.org\n"
            "ian@example.org,Ian,Instructor,,\n"
            "odd@example.org,Odd,One,pat@example.org,who@example.org\n").encode()
    column_map = '{"Parent": "link.parent", "Instructor": "link.instructor"}'
    r = upload(api, account, data=data, role="la_user", column_map=column_map, dry_run="true")
    assert r.status_code == 202, r.text
    dry = wait_final(api, account, r.json()["id"])
    assert dry["state"] == "validated" and (dry["counts"]["created"], dry["counts"]["failed"]) == (2, 1), dry
    assert [(e["line"], e["field"]) for e in errors_of(api, account, dry["id"])] == [(4, "link.instructor")]
    assert linked(api, account) == {"pat@example.org": {}}

    r = requests.post(f"{api.base}/v1/imports/{dry['id']}/commit", headers=account.headers, timeout=10)
    assert r.status_code in (200, 202), r.text
    wait_final(api, account, dry["id"])
    links = linked(api, account)
    assert links["kid@example.org"] == {"instructor": ["ian@example.org"], "parent": ["pat@example.org"]}

    # An unknown kind name in column_map is refused at upload.
    body = is_problem(upload(api, account, data=data, role="la_user", column_map='{"Parent": "link.Parent!"}'),
                      400, "invalid_option")
    assert "link.<kind>" in body["errors"][0]["message"], body


def test_the_users_export_carries_link_columns_and_uploads_again_unchanged(api, worker, account):
    rows = ["ann@example.org,Ann,Able,bob@example.org", "bob@example.org,Bob,Baker,",
            "cat@example.org,Cat,Cole,ann@example.org;bob@example.org"]
    iid = upload(api, account, data=csv_of(rows), role="la_user").json()["id"]
    assert wait_final(api, account, iid)["counts"]["created"] == 3
    data = ("Email,First Name,Last Name,Buddy\nann@example.org,Ann,Able,cat@example.org\n").encode()
    iid = upload(api, account, data=data, role="la_user", column_map='{"Buddy": "link.buddy"}').json()["id"]
    assert wait_final(api, account, iid)["counts"]["updated"] == 1

    r = requests.get(f"{api.base}/v1/users.csv", headers=account.headers, timeout=30)
    assert r.status_code == 200, r.text
    table = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    head = table[0]
    assert head[-3:] == ["link.buddy", "Manager Email", "Roster User ID"], head
    by_email = {row[2]: dict(zip(head, row)) for row in table[1:]}
    assert by_email["cat@example.org"]["Manager Email"] == "ann@example.org; bob@example.org"
    assert by_email["ann@example.org"]["link.buddy"] == "cat@example.org"

    iid = upload(api, account, data=r.content, filename="users.csv").json()["id"]
    done = wait_final(api, account, iid)
    assert done["counts"]["unchanged"] == 3 and done["counts"]["failed"] == 0, done


def test_links_across_ranges_that_two_workers_share(roster):
    # Three ranges of 1,000 rows and two workers: each line links to the
    # line 1,500 rows on (wrapping round), in another range, which may be
    # written before or after it; one line links to nobody known.
    s = roster.sandbox()
    try:
        api = s.start_api(ROSTER_RANGE_ROWS="1000")
        account = s.new_account()
        n = 3000
        rows = [f"u{i:04d}@example.org,U{i},Ranged,u{(i + 1500) % n:04d}@example.org" for i in range(n)]
        rows[7] = "u0007@example.org,U7,Ranged,stranger@example.org"
        for k in (1, 2):
            s.start_worker(ROSTER_WORKER_ID=f"w{k}", ROSTER_WORKER_CONCURRENCY="2", ROSTER_BATCH_ROWS="250")
        iid = upload(api, account, data=csv_of(rows), role="la_user").json()["id"]
        done = wait_final(api, account, iid, timeout=300)
        c = done["counts"]
        assert (c["created"], c["failed"], c["warnings"]) == (n - 1, 1, 1), done
        by_line = issues_by_line(api, account, iid)
        assert [(e["field"], e["code"]) for e in by_line[9]] == [("link.manager", "unknown_user")]
        # u1507 links to u0007, whose line failed.
        assert [e["code"] for e in by_line[1509]] == ["link_target_failed"]
        with s.db() as conn, conn.cursor() as cur:
            cur.execute("SELECT u.email, t.email FROM user_links l JOIN users u ON u.id = l.user_id "
                        "JOIN users t ON t.id = l.target_id WHERE l.kind = 'manager'")
            links = dict(cur.fetchall())
            cur.execute("SELECT count(*) FROM import_links")
            assert cur.fetchone()[0] == 0
        expected = {f"u{i:04d}@example.org": f"u{(i + 1500) % n:04d}@example.org" for i in range(n)
                    if i not in (7, 1507)}
        assert links == expected
    finally:
        s.drop()


def test_over_a_hundred_thousand_waiting_links_are_resolved_in_chunks(api, worker, account):
    # Waiting links are taken 100,000 at a time, with the rest of the last
    # line's. Each line names five users further on (wrapping round): a
    # dry run keeps all 180,000 waiting, a real run the 135,000 that point
    # forward. The first line names a sixth, so that a dry run's chunk
    # ends inside a line. Some lines fail, so lines that name them get a
    # warning.
    n, offsets = 36000, (3000, 6000, 9000, 12000, 15000)
    bad = {i for i in range(n) if i % 997 == 5}

    def email(i):
        return f"w{i:05d}@example.org"

    def targets(i):
        return [(i + d) % n for d in offsets + ((1,) if i == 0 else ())]

    rows = [f"{email(i)},W,{i},{'; '.join(email(t) for t in targets(i))},{'12' if i in bad else ''}"
            for i in range(n)]
    data = csv_of(rows, "Email,First Name,Last Name,Manager Email,Phone")
    warned = {i + 2 for i in range(n) if i not in bad and any(t in bad for t in targets(i))}
    expected = {(email(i), email(t)) for i in range(n) if i not in bad for t in targets(i) if t not in bad}

    for dry_run in ("true", "false"):
        iid = upload(api, account, data=data, role="la_user", dry_run=dry_run).json()["id"]
        done = wait_final(api, account, iid, timeout=300)
        c = done["counts"]
        assert (c["created"], c["failed"], c["warnings"]) == (n - len(bad), len(bad), len(warned)), done
        issues = errors_of(api, account, iid)
        assert {e["line"] for e in issues if e["code"] == "link_target_failed"} == warned
        assert {e["line"] for e in issues if e["severity"] == "error"} == {i + 2 for i in bad}

    with account.roster.db() as conn, conn.cursor() as cur:
        cur.execute("SELECT u.email, t.email FROM user_links l JOIN users u ON u.id = l.user_id "
                    "JOIN users t ON t.id = l.target_id JOIN accounts a ON a.id = u.account_id "
                    "WHERE a.slug = %s AND l.kind = 'manager'", (account.slug,))
        assert set(cur.fetchall()) == expected
        cur.execute("SELECT count(*) FROM import_links")
        assert cur.fetchone()[0] == 0


def test_a_cancelled_import_keeps_the_links_between_the_users_it_wrote(sandbox):
    # Each line names the user 150 lines on, in a later batch: its link
    # waits. A cancel stops the import part way; the lines written keep
    # their links to each other, no link names a user never written, and
    # nothing is left waiting.
    api = sandbox.start_api()
    account = sandbox.new_account()
    sandbox.start_worker(ROSTER_BATCH_ROWS="100", ROSTER_WORKER_CONCURRENCY="1")
    n, ahead = 20000, 150
    rows = [f"c{i:05d}@example.org,C,{i},c{(i + ahead) % n:05d}@example.org" for i in range(n)]
    iid = upload(api, account, data=csv_of(rows), role="la_user").json()["id"]
    wait_until(lambda: requests.get(f"{api.base}/v1/imports/{iid}", headers=account.headers,
                                    timeout=10).json()["counts"]["rows_processed"] >= 1000,
               timeout=60, interval=0.01, what="the first batches")
    r = requests.post(f"{api.base}/v1/imports/{iid}/cancel", headers=account.headers, timeout=10)
    assert r.status_code == 200, r.text
    done = wait_final(api, account, iid)
    assert done["state"] == "cancelled" and 1000 <= done["counts"]["created"] < n, done

    with sandbox.db() as conn, conn.cursor() as cur:
        wait_until(lambda: cur.execute("SELECT count(*) FROM import_links") or cur.fetchone()[0] == 0,
                   timeout=30, what="no link left waiting")
        cur.execute("SELECT email FROM users")
        written = {e for (e,) in cur.fetchall()}
        cur.execute("SELECT u.email, t.email FROM user_links l JOIN users u ON u.id = l.user_id "
                    "JOIN users t ON t.id = l.target_id WHERE l.kind = 'manager'")
        links = set(cur.fetchall())
    assert len(written) == done["counts"]["created"]
    expected = {(f"c{i:05d}@example.org", f"c{(i + ahead) % n:05d}@example.org") for i in range(n)}
    assert links == {(a, b) for a, b in expected if a in written and b in written}
    sandbox.drop()
