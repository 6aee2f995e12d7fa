"""Checks HTTP responses against openapi/openapi.yaml: the path and method
must be documented, the status among its responses, the media type among
that response's, and a JSON body must match its schema."""

import os
import re

import jsonschema
import yaml

from harness import REPO

with open(os.path.join(REPO, "openapi", "openapi.yaml"), encoding="utf-8") as f:
    SPEC = yaml.safe_load(f)

_RESOLVER = jsonschema.RefResolver(base_uri="", referrer=SPEC)
checked = {"responses": 0}


def _deref(node):
    while isinstance(node, dict) and "$ref" in node:
        _, node = _RESOLVER.resolve(node["$ref"])
    return node


def _template_matches(template, path):
    t = [s for s in template.split("/") if s]
    p = [s for s in path.split("/") if s]
    return len(t) == len(p) and all(a.startswith("{") or a == b for a, b in zip(t, p))


def _operation(method, path):
    for template, item in SPEC["paths"].items():
        if _template_matches(template, path):
            op = item.get(method.lower())
            if op is None:
                return template, None
            return template, op
    return None, None


def check(method, path, status, content_type, body_bytes):
    """Raises AssertionError when the response is not as documented."""
    if method == "OPTIONS":
        return  # CORS preflight: part of the protocol, not of the API
    template, op = _operation(method, path)
    if template is None:
        assert status == 404, f"{method} {path}: undocumented path answered {status}"
        return
    if op is None:
        assert status == 405, f"{method} {path}: undocumented method answered {status}"
        return
    responses = op["responses"]
    resp = responses.get(str(status)) or responses.get("default")
    assert resp is not None, f"{method} {template}: status {status} is not documented"
    resp = _deref(resp)
    # What content negotiation gives besides the documented content, kept
    # out of "content" so that generated clients get one type.
    content = {**resp.get("x-roster-negotiated", {}), **resp.get("content", {})}
    if not content:
        return
    media = (content_type or "").split(";")[0].strip()
    assert media in content, f"{method} {template} {status}: {media!r} not among {list(content)}"
    if media.endswith("json") and body_bytes is not None:
        import json
        schema = _deref(content[media].get("schema", {}))
        instance = json.loads(body_bytes)
        validator = jsonschema.Draft202012Validator(schema, resolver=_RESOLVER)
        errors = sorted(validator.iter_errors(instance), key=lambda e: list(e.path))
        assert not errors, (f"{method} {template} {status}: response does not match the schema: "
                            + "; ".join(f"{list(e.path)}: {e.message}" for e in errors[:5]))
    checked["responses"] += 1


def path_of(url):
    m = re.match(r"^https?://[^/]+(/[^?#]*)", url)
    return m.group(1) if m else url


def validate_schema(name, instance):
    """Raises AssertionError when instance does not match the named schema
    of components/schemas (for what is not a response body of its own,
    such as the data of a server-sent event)."""
    validator = jsonschema.Draft202012Validator({"$ref": f"#/components/schemas/{name}"}, resolver=_RESOLVER)
    errors = sorted(validator.iter_errors(instance), key=lambda e: list(e.path))
    assert not errors, f"{name}: " + "; ".join(f"{list(e.path)}: {e.message}" for e in errors[:5])
