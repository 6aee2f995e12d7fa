"""A user that another transaction creates while a batch is being
written: the batch finds no user, tries to insert one and meets the other
one instead. Held open here, so that the race happens every time."""

import pytest
import requests

from harness import errors_of, upload, wait_final, wait_until

DATA = (b"Email,First Name,Last Name\n"
        b"first@example.org,First,One\n"
        b"raced@example.org,Raced,Row\n"
        b"last@example.org,Last,One\n")


def held_user(roster, account):
    """A transaction that has inserted raced@example.org and not committed."""
    conn = roster.db()
    conn.autocommit = False
    with conn.cursor() as cur:
        cur.execute("SELECT a.id, r.id FROM accounts a JOIN roles r ON r.account_id = a.id "
                    "WHERE a.slug = %s AND r.key = 'la_user'", (account.slug,))
        account_id, role_id = cur.fetchone()
        cur.execute("INSERT INTO users (account_id, email, first_name, last_name, role_id) "
                    "VALUES (%s, 'RACED@example.org', 'Other', 'Import', %s)", (account_id, role_id))
    return conn


def worker_waits_on_a_lock(roster):
    with roster.db() as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM pg_stat_activity "
                    "WHERE application_name = 'roster-worker' AND wait_event_type = 'Lock'")
        return cur.fetchone()[0] > 0


@pytest.mark.parametrize("mode, counts, names", [
    ("upsert", (2, 1, 0, 0), {"first": "First", "raced": "Raced", "last": "Last"}),
    ("create_only", (2, 0, 0, 1), {"first": "First", "raced": "Other", "last": "Last"}),
])
def test_a_user_created_meanwhile_is_updated_or_refused_once(roster, api, worker, account, mode, counts, names):
    held = held_user(roster, account)
    try:
        iid = upload(api, account, data=DATA, role="la_user", mode=mode).json()["id"]
        wait_until(lambda: worker_waits_on_a_lock(roster), timeout=30, what="the batch to wait for the held user")
    finally:
        held.commit()
        held.close()
    done = wait_final(api, account, iid)
    c = done["counts"]
    assert (c["created"], c["updated"], c["unchanged"], c["failed"]) == counts
    assert c["invites"] == 2
    assert {u["email"].split("@")[0].lower(): u["first_name"] for u in account.users()} == names
    if mode == "create_only":
        assert [(i["line"], i["code"]) for i in errors_of(api, account, iid)] == [(3, "already_exists")]
    # The results name the user the raced row met (or none, where it failed).
    results = requests.get(f"{api.base}/v1/imports/{iid}/results", headers=account.headers, timeout=10).json()
    with roster.db() as conn, conn.cursor() as cur:
        cur.execute("SELECT lower(email), id FROM users WHERE account_id = (SELECT id FROM accounts WHERE slug = %s)",
                    (account.slug,))
        ids = dict(cur.fetchall())
    raced = "failed" if mode == "create_only" else "updated"
    assert [(x["line"], x["outcome"], x["user_id"]) for x in results["items"]] == [
        (2, "created", ids["first@example.org"]),
        (3, raced, None if mode == "create_only" else ids["raced@example.org"]),
        (4, "created", ids["last@example.org"])]


def test_an_establishment_deleted_during_an_import_is_unknown_to_later_batches(roster):
    """Later batches take a URN that an earlier one found for granted; if
    the establishment goes meanwhile, the batch is written again with every
    URN checked."""
    sandbox = roster.sandbox()
    try:
        api = sandbox.start_api()
        sandbox.start_worker(ROSTER_BATCH_ROWS="100", ROSTER_WORKER_CONCURRENCY="1")
        account = sandbox.new_account()
        with sandbox.db() as conn, conn.cursor() as cur:
            cur.execute("INSERT INTO establishments (urn, name) VALUES (999991, 'Closing School')")
        # Line 2 fails (a bad phone) but has its URN found; the last line
        # uses the URN again, 50 batches later.
        rows = ["Email,First Name,Last Name,Phone,URN", "first@example.org,First,One,123,999991"]
        rows += [f"u{i}@example.org,User,{i},,0" for i in range(4998)]
        rows += ["last@example.org,Last,One,,999991"]
        iid = upload(api, account, data=("\n".join(rows) + "\n").encode(), role="la_user").json()["id"]

        def progress():
            with sandbox.db() as conn, conn.cursor() as cur:
                cur.execute("SELECT rows_processed, state FROM imports WHERE id = %s", (iid,))
                return cur.fetchone()
        wait_until(lambda: progress()[0] > 0, timeout=60, interval=0.01, what="the first batch")
        held = sandbox.db()
        held.autocommit = False
        with held.cursor() as cur:
            # The next batch waits for its range meanwhile.
            cur.execute("SELECT 1 FROM import_ranges WHERE import_id = %s FOR UPDATE", (iid,))
            done_before, state = progress()
            cur.execute("DELETE FROM establishments WHERE urn = 999991")
        held.commit()
        held.close()
        assert done_before < 5000 and state == "processing", "the import ended before the establishment went"
        done = wait_final(api, account, iid)
        c = done["counts"]
        assert (c["created"], c["failed"]) == (4998, 2)
        assert [(i["line"], i["code"]) for i in errors_of(api, account, iid) if i["severity"] == "error"] == [
            (2, "invalid_phone"), (5001, "unknown_establishment")]
    finally:
        sandbox.close()


def test_a_user_deleted_while_its_row_is_written_is_created_again(roster, api, worker):
    """The write finds the users the checks found by id; one deleted in
    between is not updated but noticed, and the batch checked again
    creates it anew."""
    account = roster.new_account()
    first = b"Email,First Name,Last Name\ngone@example.org,Before,Gone\nstays@example.org,Stays,Here\n"
    done = wait_final(api, account, upload(api, account, data=first, role="la_user").json()["id"])
    assert done["counts"]["created"] == 2

    held = roster.db()
    held.autocommit = False
    with held.cursor() as cur:
        # The batch's write waits for this lock, its checks done.
        cur.execute("LOCK TABLE users IN SHARE MODE")
        second = b"Email,First Name,Last Name\ngone@example.org,After,Gone\nstays@example.org,Stays,Again\n"
        iid = upload(api, account, data=second, role="la_user").json()["id"]

        def waiting():
            with roster.db() as conn, conn.cursor() as c:
                c.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                          "AND query LIKE '%%UPDATE users u SET%%'")
                return c.fetchone()[0] > 0
        wait_until(waiting, timeout=60, what="the batch's write to wait")
        cur.execute("DELETE FROM users WHERE lower(email) = 'gone@example.org'")
    held.commit()
    held.close()

    c = wait_final(api, account, iid)["counts"]
    assert (c["created"], c["updated"], c["unchanged"], c["failed"]) == (1, 1, 0, 0), c
    names = {u["email"]: u["first_name"] for u in account.users()}
    assert names == {"gone@example.org": "After", "stays@example.org": "Stays"}, names
