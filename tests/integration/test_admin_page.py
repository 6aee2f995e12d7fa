"""The admins' page at /admin/: its files are served under the strict CSP
and keep to it (no inline script or style), and a real browser (headless
Chromium, driven by playwright-core; scripts/test installs both) signs in,
checks a file with a dry run, imports it, downloads the error CSV and finds
it in the history, at desktop width and at 360 px, without a console error
or CSP violation. Screenshots of each state go to ROSTER_SCREENSHOT_DIR
(default <build dir>/admin-screenshots/)."""

import html.parser
import json
import os
import re
import subprocess

import pytest
import requests

from harness import BUILD, REPO, fixture

ADMIN_DIR = os.path.join(REPO, "api", "admin")
SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "browser", "admin_page.cjs")
PLAYWRIGHT = os.environ.get("ROSTER_PLAYWRIGHT_CORE")

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'")

SCREENSHOTS = ["01-signed-out", "02-signed-in", "03-file-chosen", "04-dry-run-validated",
               "05-import-completed", "06-history", "07-narrow-signed-out", "08-narrow-signed-in",
               "09-narrow-dry-run"]


class PageAudit(html.parser.HTMLParser):
    """What in an HTML page the CSP would refuse or a screen reader miss."""

    def __init__(self):
        super().__init__()
        self.problems = []
        self.labelled = set()
        self.controls = []
        self.in_script = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        for name in a:
            if name == "style" or name.startswith("on"):
                self.problems.append(f"<{tag} {name}=...>")
        if tag == "style":
            self.problems.append("<style> element")
        if tag == "script":
            if not a.get("src"):
                self.problems.append("<script> without src")
            self.in_script = True
        if tag == "label" and a.get("for"):
            self.labelled.add(a["for"])
        if tag in ("input", "select", "textarea"):
            self.controls.append(a.get("id"))

    def handle_endtag(self, tag):
        if tag == "script":
            self.in_script = False

    def handle_data(self, data):
        if self.in_script and data.strip():
            self.problems.append("inline script body")


def test_page_files_are_served_under_the_csp(api):
    for path, content_type in (("/admin/", "text/html"), ("/admin/admin.js", "text/javascript"),
                               ("/admin/admin.css", "text/css")):
        r = requests.get(api.base + path, timeout=10)
        assert r.status_code == 200, (path, r.text)
        assert r.headers["Content-Type"].startswith(content_type), path
        assert r.headers["Content-Security-Policy"] == CSP, path
        assert r.headers["X-Frame-Options"] == "DENY"

    r = requests.get(api.base + "/admin", allow_redirects=False, timeout=10)
    assert (r.status_code, r.headers["Location"]) == (308, "/admin/")

    # What is served is what is in the repository (embedded at build time).
    page = requests.get(api.base + "/admin/", timeout=10).text
    with open(os.path.join(ADMIN_DIR, "index.html"), encoding="utf-8") as f:
        assert page == f.read()

    audit = PageAudit()
    audit.feed(page)
    assert audit.problems == []
    # Every control has a <label for>.
    assert audit.controls and all(c in audit.labelled for c in audit.controls), audit.controls

    # The script keeps to the CSP too, and never parses text as HTML
    # (cells and file names are other people's data).
    js = requests.get(api.base + "/admin/admin.js", timeout=10).text
    js = re.sub(r"^\s*//.*$", "", js, flags=re.M)  # the comments may name them
    for refused in (r"\beval\(", r"new Function", r"innerHTML", r"outerHTML", r"insertAdjacentHTML",
                    r"\.style\b", r"setAttribute\(\s*[\"']style", r"localStorage"):
        assert not re.search(refused, js), refused


def screenshot_dir():
    return os.environ.get("ROSTER_SCREENSHOT_DIR") or os.path.join(BUILD, "admin-screenshots")


# A designated teacher on the seeds' file with one more row whose email is
# not one: three users created, one row failed, one warning (a URN of 0).
BAD_ROW = "Bad,Row,Teacher,not-an-email,01234567891,983561,,,,\n"
# Pasted: one good row and 55 bad ones, two pages of errors.
PASTED = ("Email,First Name,Last Name,School Reference Number (URN)\npaste1@example.org,Paste,One,983561\n"
          + "".join(f"bad{i}-at-example.org,Bad,Paste,983561\n" for i in range(55)))


@pytest.mark.skipif(not PLAYWRIGHT, reason="scripts/test provides Chromium and playwright-core")
def test_admin_imports_a_file_in_a_browser(api, worker, account, tmp_path):
    with open(fixture("lac_designated_teachers.csv"), encoding="utf-8") as f:
        seed = f.read()
    header = seed.splitlines()[0]
    csv_path = tmp_path / "designated_teachers.csv"
    csv_path.write_text(seed.rstrip("\n") + "\n" + BAD_ROW, encoding="utf-8")

    shots = screenshot_dir()
    for name in SCREENSHOTS:
        # Only this run's pictures count.
        if os.path.exists(os.path.join(shots, name + ".png")):
            os.remove(os.path.join(shots, name + ".png"))

    args = {"base": api.base, "token": account.token, "csv_path": str(csv_path),
            "paste_csv": PASTED, "screenshots": shots}
    out = subprocess.run(["node", SCRIPT, json.dumps(args)], capture_output=True, text=True, timeout=300,
                         env=dict(os.environ, ROSTER_PLAYWRIGHT_CORE=PLAYWRIGHT))
    assert out.returncode == 0, out.stderr[-4000:]
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    d, n = seen["desktop"], seen["narrow"]

    assert seen["console_errors"] == [] and seen["page_errors"] == [], seen
    assert d["csp_violations"] == [] and n["csp_violations"] == []
    assert d["csp"] == CSP

    # Signing in: a wrong token shows the problem's detail and is not kept;
    # the right one is kept in sessionStorage only, until signing out.
    assert d["signin_visible"]
    assert "token" in d["bad_token_error"].lower(), d["bad_token_error"]
    assert d["bad_token_stored"] == 0
    assert d["token_in_session"] and d["local_storage"] == 0 and d["token_field_cleared"]
    assert {"key": "designated_teacher", "name": "Designated Teacher"} in d["roles"]
    assert d["role_value"] == "designated_teacher"
    assert d["template"]["filename"] == "users-designated_teacher.csv"
    assert "Email" in d["template"]["header"].split(",")
    assert d["file_chosen"].startswith("designated_teachers.csv")

    # The dry run: validated, counts and the failed row, Import and Cancel.
    assert d["dry_run_state"] == "validated" and d["dry_run_heading"] == "Dry run"
    assert d["dry_run_counts"]["created"] == 3 and d["dry_run_counts"]["failed"] == 1, d["dry_run_counts"]
    assert {"line": 5, "row": 4, "severity": "error", "field": "email", "code": "invalid_email"} in [
        {k: e[k] for k in ("line", "row", "severity", "field", "code")} for e in d["dry_run_errors"]]
    assert sorted(d["dry_run_buttons"]) == ["cancel", "commit"]

    # Committed: the real run's counts and errors.
    assert d["final_state"] == "completed_with_errors" and d["final_heading"] == "Import"
    c = d["final_counts"]
    assert (c["created"], c["updated"], c["unchanged"], c["failed"], c["warnings"]) == (3, 0, 0, 1, 1), c
    assert [(e["line"], e["code"]) for e in d["final_errors"]] == [(4, "establishment_missing"), (5, "invalid_email")]
    assert d["status"]

    # The error CSV, saved under the server's name: the file's header, then line and error.
    assert d["error_csv"]["filename"] == f"import-{d['import_id']}-errors.csv"
    assert d["error_csv"]["first_line"].endswith(",line,error")
    assert d["error_csv"]["first_line"] == header + ",line,error"

    # The history lists it; choosing it shows its counts and errors.
    assert d["run_hidden_after_start_again"]
    assert d["history"][0] == {"id": d["import_id"], "file": "designated_teachers.csv",
                               "state": "completed_with_errors"}
    assert d["history_selected_state"] == "completed_with_errors"
    assert d["history_selected_counts"] == c and d["history_selected_errors"] == 2
    assert d["storage_after_sign_out"] == 0

    # At 360 px: nothing wider than the screen, signed in by keyboard, the
    # controls of a new import reachable by Tab, pasted text checked.
    assert not n["overflow_signed_out"] and not n["overflow_signed_in"] and not n["overflow_validated"]
    assert 0 < n["tabs_to_token"] <= 5, n
    assert n["tabs_to_sign_in"] == 1
    for control in ("role", "download-template", "file", "paste", "mode", "invite", "dry-run"):
        assert control in n["tab_order"], n["tab_order"]
    assert n["missing_error"], n
    assert "Missing column: email" in n["missing_items"], n["missing_items"]
    assert "Columns found: Colour, Size" in n["missing_items"]
    assert n["paste_state"] == "validated" and n["paste_file"] == "pasted.csv"
    assert (n["paste_counts"]["created"], n["paste_counts"]["failed"]) == (1, 55)
    assert n["errors_page1"] == list(range(3, 53)) and n["errors_page2"] == list(range(53, 58))
    assert n["next_hidden_on_last_page"]
    assert n["cancelled_state"] == "cancelled"

    for name in SCREENSHOTS:
        path = os.path.join(shots, name + ".png")
        assert os.path.getsize(path) > 0, path
