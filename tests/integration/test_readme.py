"""The README's walk-through ("Using the API") runs as written: every
shell block of it, in order, against a live API and worker, with curl
made to fail on any HTTP error."""

import os
import re
import subprocess

import requests

from harness import BUILD, REPO, wait_final


def walk_through_blocks():
    with open(os.path.join(REPO, "README.md"), encoding="utf-8") as f:
        text = f.read()
    section = text.split("\n## Using the API\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^```sh\n(.*?)^```$", section, re.S | re.M)


def test_the_walk_through_has_the_steps_a_new_user_needs():
    script = "\n".join(walk_through_blocks())
    for step in ("token create", "/v1/imports\"", "$ID/errors", "$ID/events", "events-token", "/commit", "/cancel",
                 "templates/users.csv", "/v1/roles", "/v1/teams", "--data-binary"):
        assert step in script, step
    # Only files that exist in the repository.
    for path in re.findall(r"@([\w./-]+)", script) + re.findall(r"load (\S+)", script):
        assert os.path.isfile(os.path.join(REPO, path)), path


def test_the_walk_through_runs_as_written(roster, tmp_path):
    sandbox = roster.sandbox()
    try:
        api = sandbox.start_api()
        sandbox.start_worker()
        # The blocks name build/ and tests/ from the repository's top.
        os.symlink(BUILD, tmp_path / "build")
        os.symlink(os.path.join(REPO, "tests"), tmp_path / "tests")
        (tmp_path / ".curlrc").write_text("fail-with-body\n")
        script = ("set -euo pipefail\n" + "\n".join(walk_through_blocks()) +
                  '\necho "RESULT $TOKEN $ID $DRY $DROPPED"\n')
        env = dict(sandbox.env, ROSTER_URL=api.base, HOME=str(tmp_path))
        out = subprocess.run(["timeout", "180", "bash", "-c", script], cwd=tmp_path, env=env,
                             capture_output=True, text=True)
        assert out.returncode == 0, f"exit {out.returncode}\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}"

        token, iid, dry, dropped = out.stdout.rsplit("RESULT ", 1)[1].split()
        headers = {"Authorization": f"Bearer {token}"}

        class Account:
            pass
        account = Account()
        account.headers = headers
        done = wait_final(api, account, iid)
        assert done["state"] == "completed" and done["counts"]["created"] == 3, done
        # Both streams, with the API token and with an events token, ran to
        # their final event and ended.
        assert out.stdout.count("event: state") == 2, out.stdout
        # The error CSV: the template's header, then line and error.
        with open(tmp_path / "errors.csv", encoding="utf-8") as f:
            assert f.readline().rstrip("\r\n").endswith(",line,error")
        committed = wait_final(api, account, dry)
        # The committed dry run: ihasco_staff.csv has one row to fix.
        assert committed["state"] == "completed_with_errors" and committed["dry_run"] is False, committed
        assert (committed["counts"]["created"], committed["counts"]["failed"]) == (2, 1), committed
        r = requests.get(f"{api.base}/v1/imports/{dropped}", headers=headers, timeout=10)
        assert r.json()["state"] == "cancelled"
        assert out.stdout.count('"cancelled"') == 1 and out.stdout.count('"queued"') >= 1
        assert "designated_teacher\tDesignated Teacher" in out.stdout
    finally:
        sandbox.close()
