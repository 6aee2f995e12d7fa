"""The OpenAPI document is valid (Redocly's linter with the rules in
openapi/redocly.yaml). The integration tests check every response
against it; this checks the document itself."""

import os
import re
import shutil
import subprocess

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def redocly_version():
    """The newest Redocly CLI the installed Node.js runs."""
    out = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()
    major, minor = (int(x) for x in re.match(r"v(\d+)\.(\d+)", out).groups())
    return "2.77.0" if (major, minor) >= (20, 19) else "1.34.5"


def test_openapi_document_passes_redocly_lint():
    assert shutil.which("npx"), "npx (Node.js) is needed to lint openapi/openapi.yaml"
    out = subprocess.run(["npx", "-y", f"@redocly/cli@{redocly_version()}", "lint", "openapi.yaml"],
                         cwd=os.path.join(REPO, "openapi"), capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-4000:]
    assert "valid" in out.stdout + out.stderr
