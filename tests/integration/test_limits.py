"""Files built to make roster use memory: the error log and the worker
stay bounded."""

import requests

from harness import errors_of, measures_memory, proc_status_kib, upload, wait_final


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
