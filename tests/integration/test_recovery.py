"""What SPEC section 7 promises when things die: a worker killed at any
moment, a worker stopped, Redis losing its data, PostgreSQL restarting -
the import is delayed, never lost, no row applied twice and no invite
emitted twice."""

import collections
import time

import pytest
import requests

from harness import big_file, check_exactly_once, invites_for, upload, wait_final, wait_until
from harness import import_status as status

ROWS = 20000


def test_killed_worker_is_replaced_and_resumes_after_its_last_batch(sandbox):
    api = sandbox.start_api()
    account = sandbox.new_account()
    first = sandbox.start_worker(ROSTER_BATCH_ROWS="100", ROSTER_WORKER_CONCURRENCY="1",
                                 ROSTER_JOB_LEASE_SECONDS="5")
    iid = upload(api, account, data=big_file(), role="la_user").json()["id"]

    wait_until(lambda: status(api, account, iid)["counts"]["rows_processed"] >= 2000, timeout=60,
               interval=0.01, what="the first batches")
    first.kill()
    at_kill = status(api, account, iid)["counts"]["rows_processed"]
    assert 0 < at_kill < ROWS, "killed too late to test a resume"

    second = sandbox.start_worker(ROSTER_BATCH_ROWS="100", ROSTER_JOB_LEASE_SECONDS="5")
    done = wait_final(api, account, iid, timeout=120)
    check_exactly_once(sandbox, account, done)
    out = second.output()
    assert "resuming after" in out
    resumed_after = int(out.split("resuming after ")[1].split()[0])
    assert resumed_after >= at_kill
    with sandbox.db() as conn, conn.cursor() as cur:
        cur.execute("SELECT attempts FROM imports WHERE id = %s", (iid,))
        # The first run committed rows: the count of runs without progress
        # started again.
        assert cur.fetchone()[0] == 1
    second.stop()


def db_import(sandbox, iid):
    with sandbox.db() as conn, conn.cursor() as cur:
        cur.execute("SELECT state, attempts, rows_processed, worker FROM imports WHERE id = %s", (iid,))
        return dict(zip(("state", "attempts", "rows_processed", "worker"), cur.fetchone()))


def test_kills_after_progress_never_use_up_attempts(sandbox):
    rows = 40000
    api = sandbox.start_api()
    account = sandbox.new_account()
    iid = upload(api, account, data=big_file(rows), role="la_user").json()["id"]
    worker_env = dict(ROSTER_BATCH_ROWS="100", ROSTER_WORKER_CONCURRENCY="1", ROSTER_JOB_LEASE_SECONDS="5",
                      ROSTER_MAX_ATTEMPTS="2")
    # Six holders killed in turn, each after it committed rows: three
    # times the attempts allowed.
    for _ in range(6):
        before = db_import(sandbox, iid)["rows_processed"]
        w = sandbox.start_worker(**worker_env)
        wait_until(lambda: db_import(sandbox, iid)["rows_processed"] >= before + 300, timeout=60, interval=0.01,
                   what="progress")
        w.kill()
        now = db_import(sandbox, iid)
        assert now["state"] == "processing" and now["rows_processed"] < rows, "killed too late to test a resume"
    last = sandbox.start_worker(**worker_env)
    done = wait_final(api, account, iid, timeout=120)
    check_exactly_once(sandbox, account, done, rows=rows)
    last.stop()


def test_worker_dying_before_its_first_commit_again_and_again_fails_the_import(sandbox):
    rows = 60000
    api = sandbox.start_api()
    account = sandbox.new_account()
    iid = upload(api, account, data=big_file(rows), role="la_user").json()["id"]
    # One batch for the whole file: each holder is killed as soon as it has
    # claimed the import, long before it could commit.
    worker_env = dict(ROSTER_BATCH_ROWS="100000", ROSTER_WORKER_CONCURRENCY="1", ROSTER_JOB_LEASE_SECONDS="5",
                      ROSTER_MAX_ATTEMPTS="3")
    for attempt in range(1, 4):
        w = sandbox.start_worker(**worker_env)
        wait_until(lambda: db_import(sandbox, iid)["attempts"] == attempt, timeout=60, interval=0.005,
                   what=f"claim {attempt}")
        w.kill()
        assert db_import(sandbox, iid)["rows_processed"] == 0, "the worker committed before it was killed"
    last = sandbox.start_worker(**worker_env)
    done = wait_final(api, account, iid, timeout=60)
    assert done["state"] == "failed", done
    assert done["error"]["code"] == "too_many_attempts", done
    assert "without committing" in done["error"]["message"]
    assert done["counts"]["rows_processed"] == 0 and account.users() == []
    last.stop()


def test_redis_flushed_mid_import_publishes_lost_invites_again(roster):
    """FLUSHALL while an import runs: the invite events already on the
    stream are gone; the ones kept in the database go out again, so a
    mailer reading the stream from the start sees every new user at least
    once (and dedupes by event_id)."""
    sandbox = roster.sandbox(own_redis=True)
    try:
        api = sandbox.start_api()
        account = sandbox.new_account()
        worker = sandbox.start_worker(ROSTER_BATCH_ROWS="100", ROSTER_WORKER_CONCURRENCY="1",
                                      ROSTER_JOB_LEASE_SECONDS="5")
        iid = upload(api, account, data=big_file(), role="la_user").json()["id"]
        wait_until(lambda: status(api, account, iid)["counts"]["rows_processed"] >= 3000, timeout=60,
                   interval=0.01, what="the first batches")
        # A batch's events go out just after it commits.
        wait_until(lambda: len(invites_for(sandbox, iid)) >= 3000, timeout=10, interval=0.01,
                   what="the first batches' invites")
        sandbox.redis_client().flushall()
        done = wait_final(api, account, iid, timeout=120)
        c = done["counts"]
        assert done["state"] == "completed" and c["created"] == c["invites"] == ROWS

        def all_published():
            with sandbox.db() as conn, conn.cursor() as cur:
                cur.execute("SELECT count(*) FROM invite_batches WHERE import_id = %s AND published_at IS NULL",
                            (iid,))
                return cur.fetchone()[0] == 0
        wait_until(all_published, timeout=60, interval=0.2, what="every event published")

        # A consumer reading from the start.
        events = invites_for(sandbox, iid)
        users = {u["email"] for u in account.users()}
        assert len(users) == ROWS
        seen = {e["email"] for e in events}
        assert seen == users, f"{len(users - seen)} users without an invite, {len(seen - users)} unknown"
        # A replayed event is the same event: one event_id per user.
        ids = collections.defaultdict(set)
        for e in events:
            ids[e["email"]].add(e["event_id"])
        assert all(len(v) == 1 for v in ids.values())
        assert "Redis lost its data" in worker.output()
        worker.stop()
    finally:
        sandbox.close()


def test_stopped_worker_hands_its_import_back(sandbox):
    api = sandbox.start_api()
    account = sandbox.new_account()
    first = sandbox.start_worker(ROSTER_BATCH_ROWS="100", ROSTER_WORKER_CONCURRENCY="1")
    iid = upload(api, account, data=big_file(), role="la_user").json()["id"]
    wait_until(lambda: status(api, account, iid)["counts"]["rows_processed"] >= 1000, timeout=60,
               interval=0.01, what="the first batches")
    assert first.stop() == 0
    assert "stopped for shutdown" in first.output()
    # Status reads may lag a commit by ROSTER_STATUS_MAX_LAG_MS (100 ms).
    wait_until(lambda: status(api, account, iid)["state"] == "queued", timeout=2, interval=0.01,
               what="the import queued again")

    # Handed back, not abandoned: a new worker starts on it at once rather
    # than after the lease (60 s by default).
    second = sandbox.start_worker(ROSTER_BATCH_ROWS="500", ROSTER_JOB_LEASE_SECONDS="60")
    started = time.monotonic()
    done = wait_final(api, account, iid, timeout=50)
    assert time.monotonic() - started < 50
    check_exactly_once(sandbox, account, done)
    second.stop()


def test_redis_losing_its_data_loses_no_import(roster):
    sandbox = roster.sandbox(own_redis=True)
    try:
        api = sandbox.start_api()
        account = sandbox.new_account()
        # A worker has seen this Redis: the database knows its data epoch.
        first = sandbox.start_worker()
        wait_until(lambda: "epoch" in first.output() and "recorded" in first.output(), timeout=30,
                   what="the epoch recorded")
        assert first.stop() == 0
        iid = upload(api, account, data=big_file(2000), role="la_user").json()["id"]
        # Redis restarts empty before any worker saw the job.
        sandbox.redis.stop()
        sandbox.redis.start()
        assert sandbox.redis_client().exists("roster:jobs") == 0
        # With a 60 s lease the sweeper would wait a minute before it
        # decided the job was lost; noticing the new epoch enqueues it
        # again at once.
        worker = sandbox.start_worker(ROSTER_JOB_LEASE_SECONDS="60")
        done = wait_final(api, account, iid, timeout=40)
        check_exactly_once(sandbox, account, done, rows=2000)
        assert "Redis lost its data" in worker.output()
        assert "1 queued imports enqueued again" in worker.output()
        worker.stop()
    finally:
        sandbox.close()


def test_database_restart_mid_import_delays_it_only(roster):
    sandbox = roster.sandbox()
    try:
        api = sandbox.start_api()
        account = sandbox.new_account()
        worker = sandbox.start_worker(ROSTER_BATCH_ROWS="100", ROSTER_WORKER_CONCURRENCY="1")
        iid = upload(api, account, data=big_file(), role="la_user").json()["id"]
        wait_until(lambda: status(api, account, iid)["counts"]["rows_processed"] >= 1000, timeout=60,
                   interval=0.01, what="the first batches")
        roster.pg.restart()
        # The API's pooled connections died with the server: it notices
        # and answers with new ones, not with an error.
        for _ in range(5):
            r = requests.get(f"{api.base}/v1/imports/{iid}", headers=account.headers, timeout=10)
            assert r.status_code == 200, r.text
        done = wait_final(api, account, iid, timeout=120)
        check_exactly_once(sandbox, account, done)
        assert worker.alive()
        worker.stop()
    finally:
        sandbox.close()


def test_rolling_restarts_do_not_use_up_attempts(sandbox):
    api = sandbox.start_api()
    account = sandbox.new_account()
    iid = upload(api, account, data=big_file(40000), role="la_user").json()["id"]
    # Four workers stopped in turn mid-import, with only 2 attempts allowed.
    for _ in range(4):
        w = sandbox.start_worker(ROSTER_BATCH_ROWS="100", ROSTER_WORKER_CONCURRENCY="2", ROSTER_MAX_ATTEMPTS="2")
        before = status(api, account, iid)["counts"]["rows_processed"]
        wait_until(lambda: status(api, account, iid)["counts"]["rows_processed"] >= before + 500, timeout=60,
                   interval=0.01, what="progress")
        assert w.stop() == 0
        # Status reads may lag a commit by ROSTER_STATUS_MAX_LAG_MS (100 ms).
    wait_until(lambda: status(api, account, iid)["state"] == "queued", timeout=2, interval=0.01,
               what="the import queued again")
    last = sandbox.start_worker(ROSTER_BATCH_ROWS="1000", ROSTER_MAX_ATTEMPTS="2")
    done = wait_final(api, account, iid, timeout=120)
    check_exactly_once(sandbox, account, done, rows=40000)
    last.stop()
