"""The OpenAPI document is valid (Redocly's linter, which scripts/test
installs, with the rules in openapi/redocly.yaml). The integration tests check every response
against it; this checks the document itself."""

import os
import re
import shutil
import subprocess

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_openapi_document_passes_redocly_lint():
    import glob
    cached = sorted(glob.glob(os.path.expanduser("~/.cache/roster/cli@*/node_modules/.bin/redocly")))
    redocly = os.environ.get("ROSTER_REDOCLY") or shutil.which("redocly") or (cached[-1] if cached else None)
    assert redocly, "Redocly's CLI is needed: scripts/test installs it and sets ROSTER_REDOCLY"
    out = subprocess.run([redocly, "lint", "openapi.yaml"], cwd=os.path.join(REPO, "openapi"),
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-4000:]
    assert "valid" in out.stdout + out.stderr


def load_document():
    import yaml
    with open(os.path.join(REPO, "openapi", "openapi.yaml"), encoding="utf-8") as f:
        return yaml.safe_load(f)


def test_the_document_suits_client_generators():
    doc = load_document()
    text = open(os.path.join(REPO, "openapi", "openapi.yaml"), encoding="utf-8").read()
    # orval 7 cannot follow a $ref into another schema's properties.
    assert not re.findall(r"\$ref: '#/components/schemas/\w+/properties/", text)
    # A request body of one type: with several (form and raw CSV), orval
    # sends the form as JSON. The raw bodies are listed apart.
    upload = doc["paths"]["/v1/imports"]["post"]["requestBody"]
    assert list(upload["content"]) == ["multipart/form-data"]
    assert upload["content"]["multipart/form-data"]["schema"]["properties"]["file"]["format"] == "binary"
    assert set(upload["x-roster-raw-bodies"]) == {"text/csv", "text/tab-separated-values"}
    # One success type per operation.
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if not isinstance(op, dict) or "responses" not in op:
                continue
            for status, resp in op["responses"].items():
                if status.startswith("2") and "content" in resp:
                    assert len(resp["content"]) == 1, (method, path, status, list(resp["content"]))
