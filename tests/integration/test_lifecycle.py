"""Dry runs and their commit, cancelling, modes, invites, the error CSV
round trip and templates."""

import csv
import io
import threading
import time

import requests

from harness import errors_of, invites_for, is_problem, upload, wait_final, wait_until

FILE = ("Email,First Name,Last Name,Phone\n"
        "ann@example.org,Ann,Smith,01234 567890\n"
        "not-an-email,Bob,Smith,\n"
        "cat@example.org,Cat,Smith,123\n"
        "dan@example.org,Dan,Smith,\n")


def post(api, account, iid, action):
    return requests.post(f"{api.base}/v1/imports/{iid}/{action}", headers=account.headers, timeout=10)


def report(items):
    return [(i["line"], i["field"], i["code"], i["message"]) for i in items]


def test_dry_run_writes_nothing_then_commit_writes_the_same(roster, api, worker, account):
    r = upload(api, account, data=FILE.encode(), role="la_user", dry_run="true")
    assert r.status_code == 202 and r.json()["dry_run"] is True
    done = wait_final(api, account, r.json()["id"])
    c = done["counts"]
    assert done["state"] == "validated"
    # What the real run would do, exactly.
    assert (c["rows_total"], c["created"], c["failed"], c["invites"]) == (4, 2, 2, 0)
    dry = errors_of(api, account, done["id"])
    assert [(i["line"], i["code"]) for i in dry] == [(3, "invalid_email"), (4, "invalid_phone")]
    assert account.users() == []
    assert invites_for(roster, done["id"]) == []

    r = post(api, account, done["id"], "commit")
    assert r.status_code == 202, r.text
    assert r.json()["state"] == "queued" and r.json()["dry_run"] is False
    assert r.json()["counts"]["rows_processed"] == 0
    real = wait_final(api, account, done["id"])
    c = real["counts"]
    assert real["state"] == "completed_with_errors"
    assert (c["created"], c["failed"], c["invites"]) == (2, 2, 2)
    assert report(errors_of(api, account, done["id"])) == report(dry)
    assert [u["email"] for u in account.users()] == ["ann@example.org", "dan@example.org"]
    assert len(invites_for(roster, done["id"])) == 2

    # Committed once: not again.
    body = is_problem(post(api, account, done["id"], "commit"), 409, "invalid_state")
    assert "completed_with_errors" in body["detail"]


def test_a_validated_dry_run_can_be_cancelled_instead_of_committed(api, worker, account):
    iid = upload(api, account, data=FILE.encode(), role="la_user", dry_run="true").json()["id"]
    assert wait_final(api, account, iid)["state"] == "validated"
    r = post(api, account, iid, "cancel")
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "cancelled" and r.json()["counts"]["created"] == 2
    body = is_problem(post(api, account, iid, "commit"), 409, "invalid_state")
    assert "cancelled" in body["detail"]
    body = is_problem(post(api, account, iid, "cancel"), 409, "invalid_state")
    assert "validated dry run" in body["detail"]
    assert account.users() == []


def test_commit_and_cancel_answer_404_for_other_accounts(api, worker, account, other_account):
    iid = upload(api, account, data=FILE.encode(), role="la_user", dry_run="true").json()["id"]
    wait_final(api, account, iid)
    is_problem(post(api, other_account, iid, "commit"), 404, "not_found")
    is_problem(post(api, other_account, iid, "cancel"), 404, "not_found")
    read_only = account.token_with("imports:read")
    r = requests.post(f"{api.base}/v1/imports/{iid}/commit", headers={"Authorization": f"Bearer {read_only}"},
                      timeout=10)
    is_problem(r, 403, "insufficient_scope")


def big_file(rows):
    return ("Email,First Name,Last Name\n" +
            "".join(f"user{i:06d}@example.org,First{i},Last{i}\n" for i in range(rows))).encode()


def test_cancel_queued_and_running_imports(roster):
    sandbox = roster.sandbox()
    try:
        api = sandbox.start_api()
        account = sandbox.new_account()
        # Queued, no worker yet: cancelled before it starts, nothing done.
        queued = upload(api, account, data=FILE.encode(), role="la_user").json()["id"]
        r = post(api, account, queued, "cancel")
        assert r.status_code == 200, r.text
        assert r.json()["state"] == "cancelled" and r.json()["finished_at"]

        worker = sandbox.start_worker(ROSTER_BATCH_ROWS="100", ROSTER_WORKER_CONCURRENCY="1")
        running = upload(api, account, data=big_file(20000), role="la_user").json()["id"]
        wait_until(lambda: requests.get(f"{api.base}/v1/imports/{running}", headers=account.headers,
                                        timeout=10).json()["counts"]["rows_processed"] >= 500,
                   timeout=60, interval=0.01, what="the first batches")
        r = post(api, account, running, "cancel")
        assert r.status_code == 200, r.text
        time.sleep(1)
        done = wait_final(api, account, running)
        assert done["state"] == "cancelled"
        processed = done["counts"]["rows_processed"]
        assert 0 < processed < 20000
        # Rows already committed stay; nothing after the cancel is written.
        assert len(account.users()) == processed == done["counts"]["created"]
        assert "cancelled after" in worker.output()
        # The queued one never ran.
        assert requests.get(f"{api.base}/v1/imports/{queued}", headers=account.headers,
                            timeout=10).json()["counts"]["rows_processed"] == 0
        is_problem(post(api, account, running, "cancel"), 409, "invalid_state")
    finally:
        sandbox.close()


def test_a_cancel_is_seen_at_once_by_new_batches_and_waits_for_those_in_flight(sandbox):
    api = sandbox.start_api()
    account = sandbox.new_account()
    iid = upload(api, account, data=FILE.encode(), role="la_user").json()["id"]
    state = "SELECT state FROM imports WHERE id = %s FOR KEY SHARE"
    in_flight, later = sandbox.db(), sandbox.db()
    in_flight.autocommit = later.autocommit = False
    with in_flight.cursor() as cur:
        # As a worker's claim and a batch under way leave it.
        cur.execute("UPDATE imports SET state = 'processing' WHERE id = %s", (iid,))
        in_flight.commit()
        cur.execute(state, (iid,))
        assert cur.fetchone() == ("processing",)

    got = {}
    cancel = threading.Thread(target=lambda: got.setdefault("r", post(api, account, iid, "cancel")))
    cancel.start()
    with sandbox.db() as watch, watch.cursor() as cur:
        def waits():
            cur.execute("SELECT count(*) FROM pg_stat_activity WHERE %s = ANY (pg_blocking_pids(pid))",
                        (in_flight.get_backend_pid(),))
            return cur.fetchone()[0] == 1
        wait_until(waits, timeout=10, what="the cancel to wait for the batch in flight")
    # A batch that starts now reads the cancel, though the one in
    # flight has not committed: the cancel does not wait behind batches.
    with later.cursor() as cur:
        cur.execute(state, (iid,))
        assert cur.fetchone() == ("cancelled",)
    later.rollback()
    assert "r" not in got, "the cancel's clearing waits for the batch in flight"
    in_flight.commit()
    cancel.join(timeout=20)
    assert got["r"].status_code == 200 and got["r"].json()["state"] == "cancelled", got["r"].text
    in_flight.close()
    later.close()


def test_create_only_update_only_and_no_invites(roster, api, worker, account):
    wait_final(api, account, upload(api, account, data=b"Email,First Name,Last Name\nold@example.org,Old,One\n",
                                    role="la_user").json()["id"])
    data = b"Email,First Name,Last Name\nOLD@example.org,Old,Renamed\nnew@example.org,New,One\n"

    done = wait_final(api, account, upload(api, account, data=data, role="la_user", mode="create_only").json()["id"])
    assert (done["counts"]["created"], done["counts"]["failed"]) == (1, 1)
    assert [(i["line"], i["field"], i["code"]) for i in errors_of(api, account, done["id"])] == [
        (2, "email", "already_exists")]

    data = b"Email,First Name,Last Name\nold@example.org,Old,Renamed\nnewer@example.org,Newer,One\n"
    done = wait_final(api, account, upload(api, account, data=data, role="la_user", mode="update_only").json()["id"])
    assert (done["counts"]["updated"], done["counts"]["failed"], done["counts"]["created"]) == (1, 1, 0)
    assert [(i["line"], i["field"], i["code"]) for i in errors_of(api, account, done["id"])] == [
        (3, "email", "not_found")]
    assert {u["email"]: u["last_name"] for u in account.users()}["old@example.org"] == "Renamed"

    data = b"Email,First Name,Last Name\nquiet@example.org,Quiet,One\n"
    done = wait_final(api, account, upload(api, account, data=data, role="la_user", invite="none").json()["id"])
    assert (done["counts"]["created"], done["counts"]["invites"]) == (1, 0)
    assert done["invite"] == "none"
    assert invites_for(roster, done["id"]) == []


def test_blank_cells_leave_stored_values_alone(api, worker, account):
    wait_final(api, account, upload(
        api, account, data=b"Email,First Name,Last Name,Job Title,Phone,Active\nk@example.org,Kim,Lee,Teacher,01234 567890,no\n",
        role="la_user").json()["id"])
    done = wait_final(api, account, upload(
        api, account, data=b"Email,First Name,Last Name,Job Title,Phone,Active\nk@example.org,Kim,Lee,,,\n",
        role="la_user").json()["id"])
    assert done["counts"]["unchanged"] == 1
    (u,) = account.users()
    assert (u["job_title"], u["phone"], u["active"]) == ("Teacher", "01234 567890", False)


def test_error_csv_fixed_and_uploaded_again_completes(roster, api, worker, account):
    data = ('Email,First Name,Last Name,Job Title\n'
            'ok@example.org,Ok,Row,Teacher\n'
            'broken-email,"=HYPERLINK(""http://evil.example"")",Smith,-1+2\n'
            'also@bad,Al,Smith,@SUM(A1)\n').encode()
    first = wait_final(api, account, upload(api, account, data=data, role="la_user").json()["id"])
    assert first["counts"]["failed"] == 2

    resp = requests.get(f"{api.base}/v1/imports/{first['id']}/errors.csv", headers=account.headers, timeout=10)
    text = resp.content.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["Email", "First Name", "Last Name", "Job Title", "line", "error"]
    # Formulas are inert: an apostrophe first, so a spreadsheet shows text.
    assert rows[1][1] == "'=HYPERLINK(\"http://evil.example\")" and rows[1][3] == "'-1+2"
    assert rows[2][3] == "'@SUM(A1)"
    assert [r[4] for r in rows[1:]] == ["3", "4"]

    # The admin fixes the emails and sends the file back as it is.
    fixed = text.replace("broken-email", "fixed@example.org").replace("also@bad", "also@example.org")
    again = upload(api, account, data=("\ufeff" + fixed).encode(), filename="errors-fixed.csv", role="la_user")
    assert again.status_code == 202, again.text
    assert again.json()["warnings"] == []  # line and error are not reported as unknown columns
    done = wait_final(api, account, again.json()["id"])
    assert (done["state"], done["counts"]["created"], done["counts"]["failed"]) == ("completed", 2, 0)
    users = {u["email"]: u for u in account.users()}
    # The apostrophes came off on the way back in.
    assert users["fixed@example.org"]["first_name"] == '=HYPERLINK("http://evil.example")'
    assert users["fixed@example.org"]["job_title"] == "-1+2"
    assert users["also@example.org"]["job_title"] == "@SUM(A1)"


def template(api, account, **params):
    return requests.get(f"{api.base}/v1/templates/users.csv", params=params, headers=account.headers, timeout=10)


def test_templates_per_role(api, worker, account):
    r = template(api, account, role="designated_teacher")
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/csv")
    header, example = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert "School Reference Number (URN)" in header and "Pupil Reference Number (UPN)" not in header
    assert "Role" not in header
    done = wait_final(api, account, upload(api, account, data=r.content, role="designated_teacher").json()["id"])
    assert (done["state"], done["counts"]["created"]) == ("completed", 1)

    r = template(api, account, role="Social Worker")
    header, example = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert header.count("Pupil Reference Number (UPN)") == 2 and "School Reference Number (URN)" not in header
    # The example row is a valid row for that role (the same example user,
    # so now an update).
    done = wait_final(api, account, upload(api, account, data=r.content, role="social_worker").json()["id"])
    assert (done["state"], done["counts"]["updated"], done["counts"]["failed"]) == ("completed", 1, 0)

    r = template(api, account)
    header, _ = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert "Role" in header
    r = template(api, account, role="designated_teacher", delimiter=";")
    assert r.content.decode("utf-8-sig").splitlines()[0].count(";") >= 5

    is_problem(template(api, account, role="astronaut"), 400, "invalid_option")
    is_problem(requests.get(f"{api.base}/v1/templates/users.csv", timeout=10), 401)


def test_an_import_deleted_with_its_account_takes_its_error_log(roster, api, worker):
    account = roster.new_account()
    done = wait_final(api, account, upload(api, account, data=FILE.encode(), role="la_user").json()["id"])
    assert done["counts"]["failed"] == 2

    def left():
        with roster.db() as conn, conn.cursor() as cur:
            cur.execute("SELECT (SELECT count(*) FROM import_issues WHERE import_id = %s), "
                        "       (SELECT count(*) FROM import_rows WHERE import_id = %s)", (done["id"], done["id"]))
            return cur.fetchone()
    assert left() == (2, 2)
    with roster.db() as conn, conn.cursor() as cur:
        cur.execute("DELETE FROM accounts WHERE slug = %s", (account.slug,))
    assert left() == (0, 0)
