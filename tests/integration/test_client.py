"""A client generated from openapi/openapi.yaml, as an integrator would
make one: openapi-typescript types, openapi-fetch, compiled by tsc
--strict with no casts, run against a live API. scripts/test installs the
npm packages; ROSTER_TS_CLIENT_MODULES names their node_modules."""

import json
import os
import re
import shutil
import subprocess

import pytest

from harness import REPO, wait_final

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "client")
MODULES = os.environ.get("ROSTER_TS_CLIENT_MODULES")

pytestmark = pytest.mark.skipif(not MODULES, reason="scripts/test provides openapi-typescript and tsc")

CSV = ("Email,First Name,Last Name,Phone\n"
       "ts1@example.org,Type,One,\n"
       "ts2@example.org,Type,Two,123\n")


def test_a_generated_typescript_client_compiles_strict_and_runs(roster, api, worker, account, tmp_path):
    for name in ("generate.mjs", "client.mts"):
        shutil.copy(os.path.join(HERE, name), tmp_path / name)
    os.symlink(MODULES, tmp_path / "node_modules")
    code = "\n".join(line.split("//")[0] for line in open(tmp_path / "client.mts", encoding="utf-8"))
    # No type assertion, no any, no non-null assertion.
    assert not re.search(r"\bas\s+[A-Za-z{\[(]|<any>|\bany\b|\w!\.|\w!\)", code), "the client casts"

    def run(*cmd, env=None):
        out = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=300, env=env)
        assert out.returncode == 0, f"{' '.join(cmd)}\n{out.stdout[-4000:]}\n{out.stderr[-4000:]}"
        return out.stdout

    run("node", "generate.mjs", os.path.join(REPO, "openapi", "openapi.yaml"), "roster.ts")
    run(os.path.join(MODULES, ".bin", "tsc"), "--strict", "--noEmitOnError", "--target", "es2022", "--module",
        "nodenext", "--moduleResolution", "nodenext", "--skipLibCheck", "--types", "node", "--outDir", "out",
        "client.mts")
    (tmp_path / "staff.csv").write_text(CSV)
    seen = json.loads(run("node", "out/client.mjs", "staff.csv",
                          env=dict(os.environ, ROSTER_URL=api.base, ROSTER_TOKEN=account.token)).splitlines()[-1])

    assert seen["state"] == "completed_with_errors" and seen["created"] == 1, seen
    assert seen["issues"] == [[3, "invalid_phone"]]
    assert seen["csvHeader"] == "Email,First Name,Last Name,Phone,line,error"
    assert seen["problem"] == "not_found"
    assert seen["results"] == [[2, "created", "number"], [3, "failed", None]]
    assert wait_final(api, account, seen["id"])["counts"]["failed"] == 1
