"""Every row rule and warning of SPEC section 5, each seen in the error
log with its line and field; and the seeds' files that exercise them."""

import json

import pytest
import requests

from harness import errors_of, fixture, upload, wait_final

LONE_WORKING_MAP = json.dumps({"Lone Working": "custom.lone_working", "Events": "custom.events",
                               "Audits": "custom.audits"})


def run(api, account, data, **options):
    r = upload(api, account, data=data if isinstance(data, bytes) else data.encode(), **options)
    assert r.status_code == 202, r.text
    done = wait_final(api, account, r.json()["id"])
    return done, errors_of(api, account, done["id"])


def issues(items):
    return [(i["line"], i["field"], i["code"], i["severity"]) for i in items]


def test_lone_working_users(roster, api, worker, account):
    for key, name in (("user", "User"), ("manager", "Manager"), ("account_owner", "Account Owner")):
        roster.admin("role", "create", account.slug, key, "--name", name)
    roster.admin("team", "create", account.slug, "bulk users")
    roster.admin("team", "create", account.slug, "Bulk extra")

    r = upload(api, account, fixture("lone_working_users.csv"), column_map=LONE_WORKING_MAP)
    assert r.status_code == 202, r.text
    assert r.json()["warnings"] == []  # every column is used
    done = wait_final(api, account, r.json()["id"])
    c = done["counts"]
    assert (done["state"], c["created"], c["failed"]) == ("completed_with_errors", 1, 3)

    items = errors_of(api, account, done["id"])
    assert issues(items) == [
        (2, "phone", "invalid_phone", "error"),
        (4, "teams", "unknown_team", "error"),
        (5, "email", "required", "error"),
    ]
    # The message says which team, without repeating the cell.
    assert "position 1" in items[1]["message"] and "Night shift" not in items[1]["message"]

    (oscar,) = account.users()
    assert oscar["email"] == "oscar.brown@example.com"
    assert oscar["role"] == "manager"
    assert oscar["custom"] == {"lone_working": "True", "events": "True", "audits": "True"}
    with roster.db() as conn, conn.cursor() as cur:
        cur.execute("SELECT t.name FROM user_teams ut JOIN teams t ON t.id = ut.team_id "
                    "JOIN users u ON u.id = ut.user_id WHERE u.email = %s ORDER BY t.name", (oscar["email"],))
        assert [r[0] for r in cur.fetchall()] == ["Bulk extra", "bulk users"]


def test_lac_social_workers(roster, api, worker, account):
    # Chloe exists already, in lower case.
    done, _ = run(api, account, "Email,First Name,Last Name\nchloe.jones@council.gov.uk,Chloe,Jones\n",
                  role="social_worker")
    assert done["counts"]["created"] == 1

    r = upload(api, account, fixture("lac_social_workers.csv"), role="social_worker")
    assert r.status_code == 202, r.text
    assert r.json()["file"]["delimiter"] == ","
    done = wait_final(api, account, r.json()["id"])
    c = done["counts"]
    assert (done["state"], c["created"], c["updated"], c["failed"]) == ("completed", 2, 1, 0)
    assert c["invites"] == 2  # none for Chloe, who was updated

    users = {u["email"]: u for u in account.users()}
    assert set(users) == {"p.khan@council.gov.uk", "liam.smith@council.gov.uk", "chloe.jones@council.gov.uk"}
    assert users["chloe.jones@council.gov.uk"]["job_title"] == "Team Manager"
    assert users["liam.smith@council.gov.uk"]["phone"] == "07700 900 456"
    with roster.db() as conn, conn.cursor() as cur:
        cur.execute("SELECT u.email, p.upn FROM user_pupils p JOIN users u ON u.id = p.user_id "
                    "JOIN accounts a ON a.id = u.account_id WHERE a.slug = %s ORDER BY 1, 2", (account.slug,))
        assert cur.fetchall() == [("liam.smith@council.gov.uk", "E12345678901X"),
                                  ("p.khan@council.gov.uk", "4779663459624"),
                                  ("p.khan@council.gov.uk", "6923138797316")]


H = "Email,First Name,Last Name,Job Title,Phone,URN,UPN,Role,Active,Teams\n"
OK = "ok{n}@example.org,Ann,Smith,Teacher,01234 567890,,,la_user,yes,\n"


@pytest.mark.parametrize("row, expect", [
    (",Ann,Smith,,,,,la_user,,", [("email", "required")]),
    ("a@example.org,,Smith,,,,,la_user,,", [("first_name", "required")]),
    ("a@example.org,Ann, ,,,,,la_user,,", [("last_name", "required")]),
    ("a@example.org,Ann,Smith,,,,,,,", [("role", "required")]),
    ("not-an-email,Ann,Smith,,,,,la_user,,", [("email", "invalid_email")]),
    ("a@@example.org,Ann,Smith,,,,,la_user,,", [("email", "invalid_email")]),
    ("a@example,Ann,Smith,,,,,la_user,,", [("email", "invalid_email")]),
    ("a@example.org,Ann,Smith,,0770090012345678,,,la_user,,", [("phone", "invalid_phone")]),
    ("a@example.org,Ann,Smith,,12345,,,la_user,,", [("phone", "invalid_phone")]),
    ("a@example.org,Ann,Smith,,call me,,,la_user,,", [("phone", "invalid_phone")]),
    ("a@example.org,Ann,Smith,,,12345,,la_user,,", [("urn", "invalid_urn")]),
    ("a@example.org,Ann,Smith,,,999999,,la_user,,", [("urn", "unknown_establishment")]),
    ("a@example.org,Ann,Smith,,,,A801200005001,la_user,,", [("upn", "invalid_upn")]),
    ("a@example.org,Ann,Smith,,,,ABC123,la_user,,", [("upn", "invalid_upn")]),
    ("a@example.org,Ann,Smith,,,,,head_teacher,,", [("role", "unknown_role")]),
    ("a@example.org,Ann,Smith,,,,,la_user,maybe,", [("active", "invalid_active")]),
    ("a@example.org,Ann,Smith,,,,,la_user,,Night shift", [("teams", "unknown_team")]),
    ("a@example.org," + "A" * 101 + ",Smith,,,,,la_user,,", [("first_name", "too_long")]),
    ("a@example.org,\"An\nn\",Smith,,,,,la_user,,", [("first_name", "invalid_text")]),
    ("a@example.org,Ann,Smith,,,,,la_user,,,Extra", [("row", "extra_cells")]),
    # Several problems in one row: all of them.
    ("bad,Ann,,,0,12,X,nobody,perhaps,Nope",
     [("email", "invalid_email"), ("last_name", "required"), ("phone", "invalid_phone"), ("urn", "invalid_urn"),
      ("role", "unknown_role"), ("active", "invalid_active"), ("upn", "invalid_upn"), ("teams", "unknown_team")]),
])
def test_each_rule_names_its_line_and_field(api, worker, account, row, expect):
    data = H + OK.format(n=1) + row + "\n" + OK.format(n=2)
    done, items = run(api, account, data)
    assert done["counts"]["failed"] == 1 and done["counts"]["created"] == 2, done["counts"]
    got = sorted((i["field"], i["code"]) for i in items if i["line"] == 3)
    assert got == sorted(expect)
    assert all(i["severity"] == "error" and i["row"] == 2 for i in items if i["line"] == 3)
    assert all(i["line"] == 3 for i in items)


def test_line_numbers_follow_quoted_line_breaks(api, worker, account):
    data = (H + 'x1@example.org,Ann,Smith,"Head of\nYear 7",,,,la_user,,\n'
            "bad-email,Bob,Smith,,,,,la_user,,\n")
    done, items = run(api, account, data)
    # The first record spans lines 2 and 3 (its job title has a line
    # break, which only names must not hold); the bad row is on line 4.
    assert issues(items) == [(2, "job_title", "invalid_text", "error"), (4, "email", "invalid_email", "error")]
    assert [i["row"] for i in items] == [1, 2]


def test_duplicate_in_file_names_the_first_line(api, worker, account):
    data = H + OK.format(n=1) + "Twin@example.org,Ann,Smith,,,,,la_user,,\n" + OK.format(n=2) + \
        "twin@EXAMPLE.org,Anne,Smyth,,,,,la_user,,\n"
    done, items = run(api, account, data)
    assert issues(items) == [(5, "email", "duplicate_in_file", "error")]
    assert "line 3" in items[0]["message"]
    assert {u["email"]: u["first_name"] for u in account.users()}["Twin@example.org"] == "Ann"


def test_duplicates_across_batches_and_the_first_occurrence_wins_even_when_it_failed(roster):
    sandbox = roster.sandbox()
    try:
        api = sandbox.start_api()
        sandbox.start_worker(ROSTER_BATCH_ROWS="2")
        account = sandbox.new_account()
        rows = ["a@example.org,Ann,Smith,,,,,la_user,,",
                "b@example.org,,Smith,,,,,la_user,,",     # b fails (no first name) on line 3...
                "c@example.org,Cat,Smith,,,,,la_user,,",
                "B@example.org,Bea,Smith,,,,,la_user,,",  # ...and still is the first b: line 5 repeats it
                "a@example.org,Ann,Again,,,,,la_user,,"]  # a again, two batches later
        done, items = run(api, account, H + "\n".join(rows) + "\n")
        assert issues(items) == [(3, "first_name", "required", "error"),
                                 (5, "email", "duplicate_in_file", "error"),
                                 (6, "email", "duplicate_in_file", "error")]
        assert "line 3" in items[1]["message"] and "line 2" in items[2]["message"]
        assert sorted(u["email"] for u in account.users()) == ["a@example.org", "c@example.org"]
    finally:
        sandbox.close()


def test_warnings_import_the_row(roster, api, worker, account):
    data = ("Email,First Name,Last Name,URN,UPN,Role\n"
            "dt1@example.org,Dee,Tee,,,designated_teacher\n"         # needs a school: none given
            "dt2@example.org,Dee,Two,0,,designated_teacher\n"        # 0 means not linked yet
            "dt3@example.org,Dee,Three,983561,B801200005001,designated_teacher\n"  # no pupils for this role
            "sw1@example.org,Sam,Wu,983561,B801200005001,social_worker\n"  # school overrides pupils
            "sw2@example.org,Sam,Two,,B801200005001,social_worker\n")
    done, items = run(api, account, data)
    assert done["state"] == "completed"
    assert done["counts"]["created"] == 5 and done["counts"]["warnings"] == 4
    assert issues(items) == [(2, "urn", "establishment_missing", "warning"),
                             (3, "urn", "establishment_missing", "warning"),
                             (4, "upn", "upns_ignored", "warning"),
                             (5, "upn", "upns_ignored", "warning")]
    with roster.db() as conn, conn.cursor() as cur:
        cur.execute("SELECT u.email FROM user_pupils p JOIN users u ON u.id = p.user_id "
                    "JOIN accounts a ON a.id = u.account_id WHERE a.slug = %s", (account.slug,))
        assert cur.fetchall() == [("sw2@example.org",)]
    r = requests.get(f"{api.base}/v1/imports/{done['id']}/errors", params={"severity": "error"},
                     headers=account.headers, timeout=10)
    assert r.json()["items"] == []


def test_roles_match_by_key_or_display_name(api, worker, account):
    data = ("Email,First Name,Last Name,User Role\n"
            "r1@example.org,A,B,designated-teacher\n"
            "r2@example.org,A,B,Designated Teacher\n"
            "r3@example.org,A,B,LA SUPER USER\n"
            "r4@example.org,A,B,la_super_user\n")
    done, items = run(api, account, data)
    assert done["counts"]["failed"] == 1
    assert issues(items)[0][:3] == (2, "role", "unknown_role")
    assert "Designated Teacher (designated_teacher)" in items[0]["message"]
    roles = {u["email"]: u["role"] for u in account.users()}
    assert roles == {"r2@example.org": "designated_teacher", "r3@example.org": "la_super_user",
                     "r4@example.org": "la_super_user"}


def test_upns_ignored_for_a_user_already_linked_to_a_school(roster, api, worker, account):
    run(api, account, "Email,First Name,Last Name,URN\nlinked@example.org,Lin,Ked,983561\n", role="social_worker")
    done, items = run(api, account, "Email,First Name,Last Name,URN,UPN\nlinked@example.org,Lin,Ked,,B801200005001\n",
                      role="social_worker")
    assert issues(items) == [(2, "upn", "upns_ignored", "warning")]
    assert done["counts"]["unchanged"] == 1 and done["counts"]["warnings"] == 1
    with roster.db() as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM user_pupils p JOIN users u ON u.id = p.user_id WHERE u.email = %s",
                    ("linked@example.org",))
        assert cur.fetchone()[0] == 0


def test_pupil_and_team_links_are_replaced_and_counted(roster, api, worker, account):
    roster.admin("team", "create", account.slug, "North")
    roster.admin("team", "create", account.slug, "South")
    head = "Email,First Name,Last Name,UPN,UPN,Teams\n"

    def links():
        with roster.db() as conn, conn.cursor() as cur:
            cur.execute("SELECT p.upn FROM user_pupils p JOIN users u ON u.id = p.user_id "
                        "JOIN accounts a ON a.id = u.account_id WHERE a.slug = %s ORDER BY 1", (account.slug,))
            upns = [r[0] for r in cur.fetchall()]
            cur.execute("SELECT t.name FROM user_teams ut JOIN teams t ON t.id = ut.team_id "
                        "JOIN accounts a ON a.id = t.account_id WHERE a.slug = %s ORDER BY 1", (account.slug,))
            return upns, [r[0] for r in cur.fetchall()]

    done, _ = run(api, account, head + "sw@example.org,Sam,Wu,B801200005001,4779663459624,North\n",
                  role="social_worker")
    assert done["counts"]["created"] == 1
    assert links() == (["4779663459624", "B801200005001"], ["North"])

    # The same links, in another order and case: nothing changes.
    done, _ = run(api, account, head + "sw@example.org,Sam,Wu,4779663459624,b801200005001,north\n",
                  role="social_worker")
    assert (done["counts"]["unchanged"], done["counts"]["updated"]) == (1, 0)

    # Other links replace them; only the links changed, and that is an update.
    done, _ = run(api, account, head + "sw@example.org,Sam,Wu,6923138797316,,North|South\n", role="social_worker")
    assert (done["counts"]["unchanged"], done["counts"]["updated"]) == (0, 1)
    assert links() == (["6923138797316"], ["North", "South"])

    # Blank cells leave links alone.
    done, _ = run(api, account, head + "sw@example.org,Sam,Wu,,,\n", role="social_worker")
    assert done["counts"]["unchanged"] == 1
    assert links() == (["6923138797316"], ["North", "South"])


def test_dry_run_checks_against_the_database(roster, api, worker, account):
    run(api, account, "Email,First Name,Last Name\nthere@example.org,Al,Ready\n", role="la_user")
    data = ("Email,First Name,Last Name,URN,Teams\n"
            "there@example.org,Al,Ready,,\n"
            "new@example.org,Nu,Ew,999999,\n"
            "team@example.org,Te,Am,,Nowhere\n")
    done, items = run(api, account, data, role="la_user", mode="create_only", dry_run="true")
    assert done["state"] == "validated"
    assert issues(items) == [(2, "email", "already_exists", "error"),
                             (3, "urn", "unknown_establishment", "error"),
                             (4, "teams", "unknown_team", "error")]
    assert [u["email"] for u in account.users()] == ["there@example.org"]
