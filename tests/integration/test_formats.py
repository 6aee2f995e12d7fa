"""Files as Excel and HR systems write them: every encoding, delimiter
and line ending gives the same users."""

import pytest

from harness import errors_of, upload, wait_final

USERS = [
    ["Email", "First Name", "Last Name", "Job Title", "Phone"],
    ["zoe@example.org", "Zoë", "Brontë", "Head of Year 7, Lower School", "+44 7700 900123"],
    ["sean@example.org", "Seán", "Ó Briain", 'Teacher ("maths")', "01234 567890"],
    ["orjan@example.org", "Ørjan", "Åsheim", "Office", ""],
]

ENCODINGS = {
    # name reported in file.encoding -> how to turn text into bytes
    "utf-8": lambda t: t.encode("utf-8"),
    "utf-8-bom": lambda t: b"\xef\xbb\xbf" + t.encode("utf-8"),
    "utf-16le": lambda t: b"\xff\xfe" + t.encode("utf-16-le"),
    "utf-16be": lambda t: b"\xfe\xff" + t.encode("utf-16-be"),
    "windows-1252": lambda t: t.encode("cp1252"),
}


def render(delimiter, newline):
    def cell(s):
        if any(c in s for c in (delimiter, '"', "\n", "\r")):
            return '"' + s.replace('"', '""') + '"'
        return s
    return "".join(delimiter.join(cell(c) for c in row) + newline for row in USERS)


def stored(account):
    return [(u["email"], u["first_name"], u["last_name"], u["job_title"], u["phone"]) for u in account.users()]


EXPECTED = sorted((r[0], r[1], r[2], r[3], r[4] or None) for r in USERS[1:])


@pytest.mark.parametrize("encoding", list(ENCODINGS))
@pytest.mark.parametrize("delimiter", [",", ";", "\t"], ids=["comma", "semicolon", "tab"])
def test_same_users_from_every_format(roster, api, worker, encoding, delimiter):
    account = roster.new_account()
    data = ENCODINGS[encoding](render(delimiter, "\r\n"))
    r = upload(api, account, data=data, filename=f"staff-{encoding}.csv", role="la_user")
    assert r.status_code == 202, r.text
    assert r.json()["file"]["encoding"] == encoding
    assert r.json()["file"]["delimiter"] == delimiter
    done = wait_final(api, account, r.json()["id"])
    assert done["state"] == "completed", errors_of(api, account, done["id"])
    assert done["counts"]["created"] == 3
    assert stored(account) == EXPECTED


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"], ids=["LF", "CRLF", "CR"])
def test_every_line_ending(roster, api, worker, newline):
    account = roster.new_account()
    r = upload(api, account, data=render(",", newline).encode(), role="la_user")
    assert r.status_code == 202, r.text
    done = wait_final(api, account, r.json()["id"])
    assert done["counts"]["created"] == 3
    assert stored(account) == EXPECTED


def test_delimiter_option_overrides_detection(roster, api, worker):
    # A semicolon file whose last heading holds more commas than the line
    # has semicolons: detection guesses comma.
    data = ("Email;First Name;Last Name;Notes, comments, remarks, etc.\n"
            "ann@example.org;Ann;Smith;Head, Year 7, Lower\n")
    account = roster.new_account()
    r = upload(api, account, data=data.encode(), role="la_user")
    # Detected as comma: the header is one column "Email;First Name;..." -> 422.
    assert r.status_code == 422
    r = upload(api, account, data=data.encode(), role="la_user", delimiter=";")
    assert r.status_code == 202, r.text
    assert r.json()["file"]["delimiter"] == ";"
    assert r.json()["warnings"][0]["columns"] == ["Notes, comments, remarks, etc."]
    done = wait_final(api, account, r.json()["id"])
    assert done["counts"]["created"] == 1


def test_bytes_that_are_not_text_in_the_encoding_fail_their_row(roster, api, worker):
    # UTF-8 with a BOM promised, one name with a stray byte: that row fails
    # as invalid_text, the others are imported.
    data = b"\xef\xbb\xbfEmail,First Name,Last Name\na@example.org,Ann,Smith\nb@example.org,B\xffb,Smith\n"
    account = roster.new_account()
    done = wait_final(api, account, upload(api, account, data=data, role="la_user").json()["id"])
    assert done["counts"]["created"] == 1 and done["counts"]["failed"] == 1
    items = errors_of(api, account, done["id"])
    assert [(i["line"], i["field"], i["code"]) for i in items] == [(3, "first_name", "invalid_text")]
