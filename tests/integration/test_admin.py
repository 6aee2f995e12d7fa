"""roster-admin, and how every program treats a bad configuration."""

import os
import re
import subprocess
import uuid

from harness import BIN, fixture


def slug():
    return "adm-" + uuid.uuid4().hex[:8]


def test_migrate_is_safe_to_rerun(roster):
    out = roster.admin("migrate")
    assert "up to date" in out.stdout


def test_account_create_refuses_duplicates_and_bad_slugs(roster):
    s = slug()
    roster.admin("account", "create", s, "--name", "Somewhere Council")
    again = roster.admin("account", "create", s, check=False)
    assert again.returncode == 1 and "already exists" in again.stderr
    bad = roster.admin("account", "create", "Not A Slug", check=False)
    assert bad.returncode == 2 and "slug" in bad.stderr
    with roster.db() as conn, conn.cursor() as cur:
        cur.execute("SELECT r.key, r.name, r.needs_establishment, r.may_have_pupils FROM roles r "
                    "JOIN accounts a ON a.id = r.account_id WHERE a.slug = %s ORDER BY r.id", (s,))
        assert cur.fetchall() == [
            ("designated_teacher", "Designated Teacher", True, False),
            ("social_worker", "Social Worker", False, True),
            ("la_user", "LA User", False, True),
            ("la_super_user", "LA Super User", False, True),
        ]


def test_token_create_prints_the_token_alone_and_stores_its_hash(roster):
    s = slug()
    roster.admin("account", "create", s)
    out = roster.admin("token", "create", s, "--scopes", "imports:read", "--actor", "HR system")
    assert re.fullmatch(r"rst_[A-Za-z0-9_-]{43}\n", out.stdout)
    token = out.stdout.strip()
    with roster.db() as conn, conn.cursor() as cur:
        cur.execute("SELECT token_hash, scopes, actor FROM api_tokens t JOIN accounts a ON a.id = t.account_id "
                    "WHERE a.slug = %s", (s,))
        (hash_, scopes, actor), = cur.fetchall()
    assert token not in hash_ and len(hash_) == 64
    assert scopes == ["imports:read"] and actor == "HR system"
    assert roster.admin("token", "create", "no-such-account", check=False).returncode == 1
    bad = roster.admin("token", "create", s, "--scopes", "users:delete", check=False)
    assert bad.returncode == 2 and "users:delete" in bad.stderr


def test_establishments_load_reads_windows_1252_and_is_idempotent(roster):
    out = roster.admin("establishments", "load", fixture("gias_establishments.csv"))
    assert "windows-1252" in out.stdout and "0 new" in out.stdout
    with roster.db() as conn, conn.cursor() as cur:
        cur.execute("SELECT urn, name FROM establishments WHERE urn IN (546983, 761259) ORDER BY urn")
        assert cur.fetchall() == [(546983, "Hampstead Académie"), (761259, "Saint Séamus' Catholic School")]


def test_establishments_load_refuses_bad_files_whole(roster, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"URN,EstablishmentName\n123456,Fine School\n12345,Short URN\nabc,Letters\n")
    out = roster.admin("establishments", "load", str(bad), check=False)
    assert out.returncode == 1
    assert "line 3" in out.stderr and "line 4" in out.stderr and "nothing loaded" in out.stderr
    with roster.db() as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM establishments WHERE urn = 123456")
        assert cur.fetchone()[0] == 0
    nocol = tmp_path / "nocol.csv"
    nocol.write_bytes(b"Id,Name\n1,x\n")
    out = roster.admin("establishments", "load", str(nocol), check=False)
    assert out.returncode == 1 and "URN" in out.stderr
    out = roster.admin("establishments", "load", str(tmp_path / "missing.csv"), check=False)
    assert out.returncode == 1 and "missing.csv" in out.stderr


def test_team_and_role_create(roster):
    s = slug()
    roster.admin("account", "create", s)
    roster.admin("team", "create", s, "bulk users")
    dup = roster.admin("team", "create", s, "Bulk Users", check=False)
    assert dup.returncode == 1 and "already has a team" in dup.stderr
    roster.admin("role", "create", s, "account_owner", "--name", "Account Owner", "--pupils")
    dup = roster.admin("role", "create", s, "owner2", "--name", "account owner", check=False)
    assert dup.returncode == 1
    assert roster.admin("role", "create", s, "Bad Key", "--name", "X", check=False).returncode == 2
    assert roster.admin("role", "create", s, "nameless", check=False).returncode == 2
    with roster.db() as conn, conn.cursor() as cur:
        cur.execute("SELECT r.name, r.may_have_pupils, r.needs_establishment FROM roles r "
                    "JOIN accounts a ON a.id = r.account_id WHERE a.slug = %s AND r.key = 'account_owner'", (s,))
        assert cur.fetchone() == ("Account Owner", True, False)


def test_usage_errors(roster):
    assert roster.admin(check=False).returncode == 2
    out = roster.admin("frobnicate", check=False)
    assert out.returncode == 2 and "unknown command" in out.stderr
    out = roster.admin("account", "create", check=False)
    assert out.returncode == 2
    out = roster.admin("account", "create", slug(), "--colour", "red", check=False)
    assert out.returncode == 2 and "--colour" in out.stderr


def test_bad_configuration_is_refused_listing_every_problem(roster):
    env = dict(roster.env, ROSTER_LOG_FORMAT="xml", ROSTER_MAX_UPLOAD_BYTES="lots", ROSTER_LISTEN="8080",
               ROSTER_WORKER_CONCURRENCY="0")
    for program in ("api", "worker", "admin"):
        args = ["migrate"] if program == "admin" else []
        out = subprocess.run([BIN[program], *args], env=env, capture_output=True, text=True, timeout=30)
        assert out.returncode == 1, out
        for var in ("ROSTER_LOG_FORMAT", "ROSTER_MAX_UPLOAD_BYTES", "ROSTER_LISTEN", "ROSTER_WORKER_CONCURRENCY"):
            assert var in out.stderr, (program, out.stderr)


def test_programs_refuse_an_unmigrated_database(roster):
    url = roster.pg.create_database("empty_" + uuid.uuid4().hex[:8])
    env = dict(roster.env, ROSTER_DATABASE_URL=url)
    for program in ("api", "worker"):
        out = subprocess.run([BIN[program]], env=env, capture_output=True, text=True, timeout=30)
        assert out.returncode == 1
        assert "roster-admin migrate" in out.stderr


def test_config_lists_every_variable(roster):
    out = subprocess.run([BIN["admin"], "config", "--defaults"], capture_output=True, text=True, check=True)
    names = re.findall(r"`(ROSTER_[A-Z_]+)`", out.stdout)
    assert "ROSTER_DATABASE_URL" in names and "ROSTER_MAX_UPLOAD_BYTES" in names
    assert len(names) == len(set(names))
    assert os.path.basename(BIN["admin"]) == "roster-admin"


def test_config_shows_the_values_in_effect_checked_and_masked(roster):
    env = dict(os.environ, ROSTER_DATABASE_URL="postgresql://roster:s3cr3t-pw@db.internal:5432/roster",
               ROSTER_REDIS_URL="redis://:r3dis-pw@cache:6379/2", ROSTER_WORKER_CONCURRENCY="7")
    for var in list(env):
        if var.startswith("ROSTER_") and var not in ("ROSTER_DATABASE_URL", "ROSTER_REDIS_URL",
                                                     "ROSTER_WORKER_CONCURRENCY"):
            del env[var]
    out = subprocess.run([BIN["admin"], "config"], env=env, capture_output=True, text=True, check=True).stdout
    lines = dict(line.split("=", 1) for line in out.splitlines())
    assert lines["ROSTER_WORKER_CONCURRENCY"] == "7", "the value in effect, not the default"
    assert lines["ROSTER_BATCH_ROWS"] == "5000  # default"
    assert lines["ROSTER_DATABASE_URL"] == "postgresql://roster:****@db.internal:5432/roster"
    assert lines["ROSTER_REDIS_URL"] == "redis://:****@cache:6379/2"
    assert "s3cr3t" not in out and "r3dis" not in out
    conn = subprocess.run([BIN["admin"], "config"], capture_output=True, text=True, check=True,
                          env=dict(env, ROSTER_DATABASE_URL="host=db password=hunter2 dbname=roster")).stdout
    assert "hunter2" not in conn and "password=****" in conn

    # Checked the way the processes check them: a bad value is named, and
    # the exit status says so.
    for var, value in (("ROSTER_WORKER_CONCURRENCY", "abc"), ("ROSTER_LISTEN", "8080"),
                       ("ROSTER_RETENTION_DAYS", "0"), ("ROSTER_WEBHOOK_ALLOW_PRIVATE", "maybe")):
        bad = subprocess.run([BIN["admin"], "config"], env=dict(env, **{var: value}), capture_output=True,
                             text=True)
        assert bad.returncode == 1 and f"{var}={value}" in bad.stderr, (var, bad)
        assert bad.stdout == ""
