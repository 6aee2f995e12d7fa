"""The README's configuration table is the one the programs use."""

import os
import subprocess

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.environ.get("ROSTER_BUILD_DIR", os.path.join(REPO, "build"))


def test_readme_configuration_table_matches_the_code():
    table = subprocess.run([os.path.join(BUILD, "admin", "roster-admin"), "config", "--defaults"],
                           capture_output=True, text=True, check=True).stdout
    with open(os.path.join(REPO, "README.md"), encoding="utf-8") as f:
        readme = f.read()
    rows = [line for line in table.splitlines() if line.startswith("| `ROSTER_")]
    assert len(rows) >= 10
    for row in rows:
        assert row in readme, f"README is missing or differs on: {row}"
    documented = {line.split("`")[1] for line in readme.splitlines() if line.startswith("| `ROSTER_")}
    assert documented == {row.split("`")[1] for row in rows}
