"""Files built to make roster use memory: the error log and the worker
stay bounded, also over a million rows."""

import os
import random
import tempfile
import time

import pytest
import requests

from harness import (errors_of, fixture, measures_memory, proc_status_kib, upload, upload_file, wait_final,
                     write_template_csv)


def test_error_log_of_wide_bad_rows_stays_small(roster):
    sandbox = roster.sandbox()
    try:
        api = sandbox.start_api()
        sandbox.start_worker()
        account = sandbox.new_account()
        # 1000 UPN columns, all bad, and 14 ignored columns of 60 kB: each
        # row is near the 1 MiB limit and fails with every UPN wrong.
        header = "Email,First Name,Last Name," + ",".join(["UPN"] * 1000) + "," + \
            ",".join(f"Notes {i}" for i in range(14))
        row = ",A,B," + ",".join(["X"] * 1000) + "," + ",".join(["n" * 60000] * 14)
        data = (header + "\n" + "\n".join(f"u{i}@example.org" + row for i in range(3)) + "\n").encode()
        done = wait_final(api, account, upload(api, account, data=data, role="la_user").json()["id"])
        assert done["counts"]["failed"] == 3
        before = proc_status_kib(api.pid, "VmRSS")
        items = errors_of(api, account, done["id"])
        # One invalid_upn per row, not one per column.
        assert [(i["line"], i["code"]) for i in items] == [(2, "invalid_upn"), (3, "invalid_upn"), (4, "invalid_upn")]
        assert "UPN 1 " in items[0]["message"] and "and more" in items[0]["message"]
        csv_text = requests.get(f"{api.base}/v1/imports/{done['id']}/errors.csv", headers=account.headers,
                                timeout=60).content
        assert csv_text.count(b"\r\n") == 4
        if measures_memory():
            assert proc_status_kib(api.pid, "VmRSS") - before < 64 * 1024
    finally:
        sandbox.close()


def test_worker_memory_with_huge_rows(roster):
    sandbox = roster.sandbox()
    try:
        api = sandbox.start_api()
        worker = sandbox.start_worker(ROSTER_WORKER_CONCURRENCY="1")
        account = sandbox.new_account()
        # 40 rows of 800 kB of control characters in ignored columns: each
        # row's cells take 6 times that as JSON.
        header = "Email,First Name,Last Name," + ",".join(f"Blob {i}" for i in range(16))
        blob = ",".join(["\x01" * 50000] * 16)
        data = (header + "\n" + "".join(f"w{i}@example.org,A,B,{blob}\n" for i in range(40))).encode()
        done = wait_final(api, account, upload(api, account, data=data, role="la_user").json()["id"], timeout=120)
        assert done["counts"]["created"] == 40
        if measures_memory():
            hwm = proc_status_kib(worker.pid, "VmHWM")
            assert hwm < 150 * 1024, f"worker peak RSS {hwm} KiB"
    finally:
        sandbox.close()


def test_windows_1252_cells_that_grow_when_decoded(roster, api, worker, account):
    # 60,000 bytes of 0x80 (the euro sign) make a 180,000-byte UTF-8 cell:
    # the upload and the worker agree on the file (the limits are on bytes
    # as stored).
    data = b"Email,First Name,Last Name,Notes\n" + b"".join(
        b"e%d@example.org,Eu,Ro,%s\n" % (i, b"\x80" * 60000) for i in range(11))
    r = upload(api, account, data=data, role="la_user")
    assert r.status_code == 202 and r.json()["file"]["encoding"] == "windows-1252"
    done = wait_final(api, account, r.json()["id"])
    assert done["state"] == "completed" and done["counts"]["created"] == 11, done


MILLION = 1_000_000


@pytest.mark.slow
@pytest.mark.skipif(not measures_memory(), reason="RSS says nothing under AddressSanitizer, and a million rows "
                                                 "would take far too long there")
def test_worker_peak_memory_over_a_million_rows(roster):
    # What scripts/bench imports: a million designated teachers with
    # invites, one row in five without a URN, the others among the
    # fixture's establishments and 20,000 more. One worker, in a sandbox
    # dropped afterwards (it ends with a million users).
    sandbox = roster.sandbox()
    try:
        with tempfile.TemporaryDirectory(prefix="roster-million-") as tmp:
            with open(fixture("gias_establishments.csv"), "rb") as f:
                urns = [int(line.split(b",", 1)[0]) for line in f.read().splitlines()[1:] if line.strip()]
            more = random.Random(7).sample(range(100001, 1000000), 20000)
            gias = os.path.join(tmp, "gias.csv")
            with open(gias, "w") as f:
                f.write("URN,EstablishmentName\n" + "".join(f"{u},School {u}\n" for u in more))
            sandbox.admin("establishments", "load", fixture("gias_establishments.csv"))
            sandbox.admin("establishments", "load", gias)
            urns = sorted(set(urns) | set(more))
            path = os.path.join(tmp, "users.csv")
            assert write_template_csv(path, urns, rows=MILLION) == MILLION

            api = sandbox.start_api()
            worker = sandbox.start_worker()
            account = sandbox.new_account()
            start = time.monotonic()
            r = upload_file(api, account, path, role="designated_teacher", invite="new_users")
        assert r.status_code == 202, r.text
        uploaded = time.monotonic()
        done = wait_final(api, account, r.json()["id"], timeout=1200)
        finished = time.monotonic()
        hwm = proc_status_kib(worker.pid, "VmHWM")
        assert worker.alive(), worker.output()[-3000:]

        assert done["state"] == "completed", done
        counts = {k: done["counts"].get(k) for k in
                  ("rows_total", "rows_processed", "created", "updated", "unchanged", "failed", "invites", "warnings")}
        assert counts == {"rows_total": MILLION, "rows_processed": MILLION, "created": MILLION, "updated": 0,
                          "unchanged": 0, "failed": 0, "invites": MILLION, "warnings": MILLION // 5}, counts
        with sandbox.db() as conn, conn.cursor() as cur:
            cur.execute("SELECT count(*), count(u.establishment_urn) FROM users u "
                        "JOIN accounts a ON a.id = u.account_id WHERE a.slug = %s", (account.slug,))
            assert cur.fetchone() == (MILLION, MILLION - MILLION // 5)
        print(f"roster-worker: {MILLION} rows, upload {uploaded - start:.0f} s, import {finished - uploaded:.0f} s, "
              f"peak RSS {hwm} KiB")
        assert hwm < 256 * 1024, f"roster-worker peak RSS {hwm} KiB over {MILLION} rows"
    finally:
        sandbox.drop()
