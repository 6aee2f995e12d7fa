"""Shared fixtures: one set of servers, one API and one worker for the
session; a fresh account (and so a fresh set of users) for each test."""

import pytest
import requests

import harness
import openapi_check


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: takes minutes; -m 'not slow' leaves it out of a quick run")


@pytest.fixture(scope="session", autouse=True)
def responses_match_openapi():
    """Every response from roster seen by requests is checked against
    openapi/openapi.yaml; a test whose response is not as documented
    fails."""
    original = requests.Session.send

    def send(self, request, **kwargs):
        response = original(self, request, **kwargs)
        if request.url.startswith("http://127.0.0.1:"):
            # A streamed body is the caller's to read: check all but it.
            body = None if kwargs.get("stream") else response.content
            openapi_check.check(request.method, openapi_check.path_of(request.url), response.status_code,
                                response.headers.get("Content-Type"), body)
        return response

    requests.Session.send = send
    yield
    requests.Session.send = original


@pytest.fixture(scope="session")
def roster():
    r = harness.Roster()
    r.admin("establishments", "load", harness.fixture("gias_establishments.csv"))
    yield r
    r.close()


SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:")


@pytest.fixture(autouse=True)
def no_sanitizer_reports(roster):
    """Fails the test when a roster process printed a sanitizer report
    (only sanitizer builds print them)."""
    yield
    for p in roster.processes:
        out = p.output()
        new, p.sanitizer_seen = out[getattr(p, "sanitizer_seen", 0):], len(out)
        for mark in SANITIZER_MARKS:
            assert mark not in new, f"{p.name} ({p.log_path}):\n" + new[max(0, new.index(mark) - 200):][:6000]


def stopped_cleanly(p):
    """A process asked to stop exits 0, without sanitizer reports."""
    code = p.stop()
    out = p.output()
    assert code == 0, f"{p.name} exited {code}:\n{out[-3000:]}"
    assert "Sanitizer" not in out and "runtime error" not in out, out[-5000:]


@pytest.fixture(scope="session")
def api(roster):
    p = roster.start_api()
    yield p
    stopped_cleanly(p)


@pytest.fixture(scope="session")
def worker(roster):
    p = roster.start_worker()
    yield p
    stopped_cleanly(p)


@pytest.fixture
def sandbox(roster):
    """A database (and Redis database) of its own, for a test that starts
    its own roster processes; they are stopped after it."""
    s = roster.sandbox()
    yield s
    s.close()


@pytest.fixture
def account(roster):
    return roster.new_account()


@pytest.fixture
def other_account(roster):
    return roster.new_account()
