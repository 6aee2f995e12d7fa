"""The whole pipeline on the seeds' own files: upload, worker, users,
links, invites, the error log as JSON and as CSV."""

import csv
import io

import requests

from harness import errors_of, fixture, invites_for, upload, wait_final


def test_designated_teachers_created_linked_and_invited(roster, api, worker, account):
    r = upload(api, account, fixture("lac_designated_teachers.csv"), role="designated_teacher")
    assert r.status_code == 202, r.text
    body = r.json()
    assert r.headers["Location"] == f"/v1/imports/{body['id']}"
    assert body["state"] in ("queued", "processing", "completed")
    assert body["file"]["name"] == "lac_designated_teachers.csv"
    assert body["file"]["encoding"] == "utf-8"
    assert body["counts"]["rows_total"] == 3

    done = wait_final(api, account, body["id"])
    assert done["state"] == "completed", done
    c = done["counts"]
    assert (c["created"], c["updated"], c["unchanged"], c["failed"], c["invites"]) == (3, 0, 0, 0, 3)
    assert c["rows_processed"] == c["rows_total"] == 3
    assert done["progress"] == 1
    assert done["started_at"] and done["finished_at"]

    users = {u["email"]: u for u in account.users()}
    assert users["jbloggs@school.sch.uk"]["urn"] == 983561
    assert users["doe.jane@school.sch.uk"]["urn"] == 546983
    assert users["john@school.sch.uk"]["urn"] is None
    assert users["jbloggs@school.sch.uk"]["job_title"] == "French Teacher"
    assert users["jbloggs@school.sch.uk"]["phone"] == "01234567890"  # leading zero kept
    assert all(u["role"] == "designated_teacher" for u in users.values())

    items = errors_of(api, account, body["id"])
    assert [(i["line"], i["severity"], i["code"], i["field"]) for i in items] == [
        (4, "warning", "establishment_missing", "urn")]
    assert items[0]["values"]["email"] == "john@school.sch.uk"
    assert done["counts"]["warnings"] == 1

    invites = invites_for(roster, body["id"])
    assert len(invites) == 3
    assert sorted(i["email"] for i in invites) == sorted(users)
    for i in invites:
        assert i["account"] == account.slug
        assert i["role"] == "designated_teacher"
        assert i["event_id"] and i["user_id"] and i["first_name"] and i["last_name"]


def test_same_file_again_is_unchanged_and_a_changed_name_is_one_update(roster, api, worker, account):
    path = fixture("lac_designated_teachers.csv")
    first = wait_final(api, account, upload(api, account, path, role="designated_teacher").json()["id"])
    assert first["counts"]["created"] == 3

    again = upload(api, account, path, role="designated_teacher").json()
    done = wait_final(api, account, again["id"])
    c = done["counts"]
    assert (done["state"], c["created"], c["updated"], c["unchanged"], c["invites"]) == ("completed", 0, 0, 3, 0)
    assert invites_for(roster, again["id"]) == []

    with open(path, encoding="utf-8") as f:
        text = f.read().replace("Jane,Doe,", "Janet,Doe,")
    changed = upload(api, account, data=text.encode(), filename="changed.csv", role="designated_teacher").json()
    done = wait_final(api, account, changed["id"])
    c = done["counts"]
    assert (c["created"], c["updated"], c["unchanged"], c["invites"]) == (0, 1, 2, 0)
    users = {u["email"]: u for u in account.users()}
    assert users["doe.jane@school.sch.uk"]["first_name"] == "Janet"
    assert invites_for(roster, changed["id"]) == []


def test_bad_email_row_fails_and_the_rest_are_created(roster, api, worker, account):
    r = upload(api, account, fixture("ihasco_staff.csv"), role="la_user")
    assert r.status_code == 202, r.text
    done = wait_final(api, account, r.json()["id"])
    c = done["counts"]
    assert done["state"] == "completed_with_errors"
    assert (c["rows_total"], c["created"], c["failed"], c["invites"]) == (3, 2, 1, 2)

    items = errors_of(api, account, done["id"])
    assert len(items) == 1
    item = items[0]
    assert (item["line"], item["row"], item["severity"], item["field"], item["code"]) == (
        4, 3, "error", "email", "invalid_email")
    assert item["values"]["email"] == "not-an-email"
    assert item["message"]

    emails = [u["email"] for u in account.users()]
    assert emails == ["John@ihasco.co.uk", "mary.major@example.org"]  # stored as given
    assert {u["email"]: u["active"] for u in account.users()}["mary.major@example.org"] is False

    for url, headers in ((f"{api.base}/v1/imports/{done['id']}/errors", {"Accept": "text/csv"}),
                         (f"{api.base}/v1/imports/{done['id']}/errors.csv", {})):
        resp = requests.get(url, headers={**account.headers, **headers}, timeout=10)
        assert resp.status_code == 200, resp.text
        assert resp.headers["Content-Type"].startswith("text/csv")
        assert resp.content.startswith(b"\xef\xbb\xbf")
        rows = list(csv.reader(io.StringIO(resp.content.decode("utf-8-sig"))))
        assert rows[0] == ["Email", "First_name", "Last_Name", "Active", "line", "error"]
        assert len(rows) == 2
        assert rows[1][:5] == ["not-an-email", "Bad", "Row", "1", "4"]
        assert rows[1][5] == item["message"]


def test_status_lists_newest_first_with_paging(api, worker, account):
    ids = [upload(api, account, fixture("ihasco_staff.csv"), role="la_user").json()["id"] for _ in range(3)]
    seen, cursor = [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        r = requests.get(f"{api.base}/v1/imports", headers=account.headers, params=params, timeout=10)
        assert r.status_code == 200, r.text
        seen += [i["id"] for i in r.json()["items"]]
        cursor = r.json()["next_cursor"]
        if not cursor:
            break
    assert seen == list(reversed(ids))
    for i in ids:
        wait_final(api, account, i)
    r = requests.get(f"{api.base}/v1/imports", headers=account.headers, params={"state": "completed_with_errors"},
                     timeout=10)
    assert {i["id"] for i in r.json()["items"]} == set(ids)
    r = requests.get(f"{api.base}/v1/imports", headers=account.headers, params={"state": "queued"}, timeout=10)
    assert r.json()["items"] == []


def test_a_row_is_unchanged_only_when_every_value_it_sets_is_the_users(roster, api, worker, account):
    """A row that would change nothing is not written at all; each value
    a row sets, and only those, decides."""
    header = "Email,First Name,Last Name,Job Title,Phone,URN,Active"
    first = [
        "same@example.org,Same,One,Teacher,01234567890,983561,yes",
        "blank.title@example.org,Blank,Title,Teacher,01234567890,983561,yes",
        "new.phone@example.org,New,Phone,Teacher,01234567890,983561,yes",
        "unlinked@example.org,Un,Linked,Teacher,01234567890,983561,yes",
        "archived@example.org,Now,Archived,Teacher,01234567890,983561,yes",
        "case@example.org,Case,Smith,Teacher,01234567890,983561,yes",
        "kept.urn@example.org,Kept,Urn,Teacher,01234567890,983561,yes",
        "other.urn@example.org,Other,Urn,Teacher,01234567890,983561,yes",
    ]
    second = [
        "same@example.org,Same,One,Teacher,01234567890,983561,yes",
        "blank.title@example.org,Blank,Title,,01234567890,983561,yes",
        "new.phone@example.org,New,Phone,Teacher,01234567891,983561,yes",
        "unlinked@example.org,Un,Linked,Teacher,01234567890,0,yes",
        "archived@example.org,Now,Archived,Teacher,01234567890,983561,no",
        "case@example.org,Case,smith,Teacher,01234567890,983561,yes",
        "kept.urn@example.org,Kept,Urn,Teacher,01234567890,,",
        "other.urn@example.org,Other,Urn,Teacher,01234567890,546983,yes",
    ]

    def run(rows):
        data = ("\n".join([header] + rows) + "\n").encode()
        return wait_final(api, account, upload(api, account, data=data, role="la_user").json()["id"])

    c = run(first)["counts"]
    assert (c["created"], c["failed"]) == (8, 0), c
    with roster.db() as conn, conn.cursor() as cur:
        cur.execute("SELECT lower(u.email), u.xmin::text FROM users u JOIN accounts a ON a.id = u.account_id "
                    "WHERE a.slug = %s", (account.slug,))
        versions = dict(cur.fetchall())
    c = run(second)["counts"]
    assert (c["unchanged"], c["updated"], c["failed"]) == (3, 5, 0), c
    with roster.db() as conn, conn.cursor() as cur:
        cur.execute("SELECT lower(u.email) FROM users u JOIN accounts a ON a.id = u.account_id "
                    "WHERE a.slug = %s AND u.xmin::text = ANY (%s)", (account.slug, list(versions.values())))
        untouched = sorted(e for (e,) in cur.fetchall())
    assert untouched == ["blank.title@example.org", "kept.urn@example.org", "same@example.org"]
    users = {u["email"]: u for u in account.users()}
    assert users["blank.title@example.org"]["job_title"] == "Teacher"
    assert users["new.phone@example.org"]["phone"] == "01234567891"
    assert users["unlinked@example.org"]["urn"] is None
    assert users["archived@example.org"]["active"] is False
    assert users["case@example.org"]["last_name"] == "smith"
    assert users["kept.urn@example.org"]["urn"] == 983561 and users["kept.urn@example.org"]["active"] is True
    assert users["other.urn@example.org"]["urn"] == 546983
