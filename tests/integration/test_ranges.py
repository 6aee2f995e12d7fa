"""One import spread over several workers (SPEC: "one big import can be
spread over several workers"): the API cuts an upload into ranges of
ROSTER_RANGE_ROWS rows, workers claim them one at a time, and every
guarantee of a one-worker import still holds - exact counts, each row
applied once, one invite per created user, the first occurrence of an
email in the file wins."""

import re

import pytest

from harness import big_file, check_exactly_once, errors_of, upload, wait_final, wait_until
from harness import import_status as status


def committed_ranges(worker, import_id):
    """The ranges of the import whose rows this worker committed."""
    return {int(m) for m in re.findall(rf"{import_id}.*?range (\d+) committed", worker.output())}


def test_two_workers_share_one_import(sandbox):
    rows = 200000
    api = sandbox.start_api(ROSTER_RANGE_ROWS="20000")
    account = sandbox.new_account()
    workers = [sandbox.start_worker(ROSTER_WORKER_ID=f"w{n}", ROSTER_WORKER_CONCURRENCY="1") for n in (1, 2)]
    iid = upload(api, account, data=big_file(rows), role="la_user").json()["id"]
    with sandbox.db() as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*), sum(rows) FROM import_ranges WHERE import_id = %s", (iid,))
        assert cur.fetchone() == (10, rows)

    check_exactly_once(sandbox, account, wait_final(api, account, iid, timeout=900), rows)
    done = [committed_ranges(w, iid) for w in workers]
    assert done[0] and done[1], f"each worker commits a range: {done}"
    assert not done[0] & done[1] and done[0] | done[1] == set(range(10)), done


def test_a_worker_killed_mid_range_loses_nothing(sandbox):
    rows = 60000
    api = sandbox.start_api(ROSTER_RANGE_ROWS="10000")
    account = sandbox.new_account()
    env = dict(ROSTER_BATCH_ROWS="500", ROSTER_WORKER_CONCURRENCY="1", ROSTER_JOB_LEASE_SECONDS="5")
    victim = sandbox.start_worker(ROSTER_WORKER_ID="victim", **env)
    iid = upload(api, account, data=big_file(rows), role="la_user").json()["id"]
    other = sandbox.start_worker(ROSTER_WORKER_ID="other", **env)
    # Killed in the middle of applying a range of its own, with batches
    # of it committed and the rest not.
    wait_until(lambda: re.search(r"processing range \d+", victim.output())
               and status(api, account, iid)["counts"]["rows_processed"] >= 1500,
               timeout=300, interval=0.01, what="the victim to apply a range")
    victim.kill()
    at_kill = status(api, account, iid)["counts"]["rows_processed"]
    assert at_kill < rows, "killed too late"

    check_exactly_once(sandbox, account, wait_final(api, account, iid, timeout=600), rows)
    assert committed_ranges(other, iid), "the other worker took ranges over"


def test_duplicates_across_ranges_name_the_first_line(sandbox):
    # Four ranges of 1,000 rows; one email on the first data line (line 2),
    # in the second range and on the last line of the file, another
    # twice in the last range only.
    api = sandbox.start_api(ROSTER_RANGE_ROWS="1000")
    account = sandbox.new_account()
    lines = ["Email,First Name,Last Name"]
    lines += [f"u{i:05d}@example.org,First{i},Last{i}" for i in range(4000)]
    lines[1] = "Twice@Example.org,Kept,First"
    lines[1500] = "twice@example.org,Dropped,Middle"
    lines[3100] = "late@example.org,Kept,Late"
    lines[3200] = "LATE@example.org,Dropped,Late"
    lines[4000] = "twice@example.org,Dropped,Last"
    for n in (1, 2):
        sandbox.start_worker(ROSTER_WORKER_ID=f"w{n}", ROSTER_WORKER_CONCURRENCY="2", ROSTER_BATCH_ROWS="300")
    iid = upload(api, account, data=("\n".join(lines) + "\n").encode(), role="la_user").json()["id"]
    with sandbox.db() as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM import_ranges WHERE import_id = %s", (iid,))
        assert cur.fetchone()[0] == 4

    done = wait_final(api, account, iid, timeout=300)
    c = done["counts"]
    assert done["state"] == "completed_with_errors", done
    assert (c["rows_total"], c["rows_processed"], c["created"], c["failed"]) == (4000, 4000, 3997, 3)
    issues = errors_of(api, account, iid)
    assert sorted(i["line"] for i in issues) == [1501, 3201, 4001], issues
    for issue in issues:
        first = 3101 if issue["line"] == 3201 else 2
        assert issue["code"] == "duplicate_in_file", issue
        assert f"line {first};" in issue["message"], issue
    users = {u["email"].lower(): u for u in account.users()}
    assert users["twice@example.org"]["first_name"] == "Kept"
    assert users["late@example.org"]["first_name"] == "Kept"


def test_one_worker_applies_in_order_and_registers_none(sandbox):
    api = sandbox.start_api(ROSTER_RANGE_ROWS="1000")
    account = sandbox.new_account()
    worker = sandbox.start_worker(ROSTER_WORKER_CONCURRENCY="1", ROSTER_BATCH_ROWS="300")
    lines = ["Email,First Name,Last Name"] + [f"u{i:05d}@example.org,First{i},Last{i}" for i in range(3000)]
    lines[10] = "u00001@example.org,Again,Early"
    iid = upload(api, account, data=("\n".join(lines) + "\n").encode(), role="la_user").json()["id"]
    done = wait_final(api, account, iid, timeout=300)
    assert (done["counts"]["created"], done["counts"]["failed"]) == (2999, 1)
    out = worker.output()
    assert not re.search(rf"{iid}.*registering range", out), "one worker registers no range"
    assert [int(m) for m in re.findall(rf"{iid}.*?range (\d+) committed", out)] == [0, 1, 2]


def test_a_later_range_registered_ahead_does_not_win_over_an_earlier_line(sandbox):
    """While one slot applies the first range, another registers the ranges
    after it: an email of the first range that a later range registered
    ahead is still the first occurrence, and the later line is the
    duplicate."""
    api = sandbox.start_api(ROSTER_RANGE_ROWS="1000")
    account = sandbox.new_account()
    sandbox.start_worker(ROSTER_WORKER_CONCURRENCY="2", ROSTER_BATCH_ROWS="100")
    lines = ["Email,First Name,Last Name"] + [f"u{i:05d}@example.org,First{i},Last{i}" for i in range(4000)]
    lines[900] = "early@example.org,Kept,First"
    lines[1100] = "early@example.org,Dropped,Second"
    lines[3500] = "EARLY@example.org,Dropped,Third"
    held = sandbox.db()
    held.autocommit = False
    with held.cursor() as cur:
        # No batch can write users until the later ranges are registered:
        # the first range's first batch waits, its checks done.
        cur.execute("LOCK TABLE users IN SHARE MODE")
        iid = upload(api, account, data=("\n".join(lines) + "\n").encode(), role="la_user").json()["id"]

        def ranges():
            with sandbox.db() as conn, conn.cursor() as c:
                c.execute("SELECT seq, registered, worker IS NOT NULL FROM import_ranges WHERE import_id = %s "
                          "ORDER BY seq", (iid,))
                return c.fetchall()
        wait_until(lambda: all(registered for _, registered, _ in ranges()[1:]) and ranges()[0][2], timeout=60,
                   what="the first range to be applied and the later ones registered")
    held.commit()
    held.close()

    done = wait_final(api, account, iid, timeout=300)
    assert (done["counts"]["created"], done["counts"]["failed"]) == (3998, 2), done
    issues = errors_of(api, account, iid)
    assert [(i["line"], i["code"]) for i in issues] == [(1101, "duplicate_in_file"), (3501, "duplicate_in_file")]
    assert all("line 901;" in i["message"] for i in issues), issues
    assert {u["email"].lower(): u["first_name"] for u in account.users()}["early@example.org"] == "Kept"


def test_a_worker_that_read_a_dry_run_does_not_apply_the_next_range_as_one_once_it_is_real(sandbox):
    """A worker reads an import once and then claims its ranges one after
    another. Should the import stop being a dry run in between (a commit
    does this), the next claim finds out and the job starts afresh, so the
    range is written for real."""
    api = sandbox.start_api(ROSTER_RANGE_ROWS="1000")
    account = sandbox.new_account()
    worker = sandbox.start_worker(ROSTER_WORKER_CONCURRENCY="1", ROSTER_BATCH_ROWS="100")
    held = sandbox.db()
    held.autocommit = False
    with held.cursor() as cur:
        # The first range's first batch waits to write, its dry run read.
        cur.execute("LOCK TABLE users IN SHARE MODE")
        iid = upload(api, account, data=big_file(2000, tag="d"), role="la_user", dry_run="true").json()["id"]
        with sandbox.db() as watch, watch.cursor() as w:
            def blocked():
                w.execute("SELECT count(*) FROM pg_stat_activity WHERE %s = ANY (pg_blocking_pids(pid))",
                          (held.get_backend_pid(),))
                return w.fetchone()[0] >= 1
            wait_until(blocked, timeout=60, what="the first batch to wait")
            w.execute("UPDATE imports SET dry_run = false WHERE id = %s", (iid,))
    held.commit()
    held.close()

    done = wait_final(api, account, iid, timeout=120)
    emails = {u["email"] for u in account.users()}
    assert {f"d{i:06d}@example.org" for i in range(1000, 2000)} <= emails, "the second range is written"
    assert "the dry run was committed meanwhile" in worker.output()
    assert done["state"] in ("completed", "completed_with_errors"), done
