"""The layout the code keeps: libpq and hiredis are spoken in common/ only
(its stores and clients); api/, worker/ and admin/ ask them."""

import glob
import os
import re

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

PQ_CALL = re.compile(r"\bPQ[a-z]\w*\s*\(")
REDIS_CALL = re.compile(r"\b(redis[A-Z]\w*|freeReplyObject|redis_cmd)\s*\(")


def program_sources():
    for folder in ("api", "worker", "admin"):
        for path in glob.glob(os.path.join(REPO, folder, "*.[ch]")):
            yield os.path.relpath(path, REPO), open(path, encoding="utf-8").read()


def test_programs_do_not_call_libpq_or_hiredis():
    found = []
    for path, text in program_sources():
        for n, line in enumerate(text.splitlines(), 1):
            if PQ_CALL.search(line) or REDIS_CALL.search(line):
                found.append(f"{path}:{n}: {line.strip()}")
    assert not found, "call the stores in common/ instead:\n" + "\n".join(found)


def test_the_check_sees_a_call():
    assert PQ_CALL.search("PQclear(res);") and REDIS_CALL.search("redisReply *r = redis_cmd(x, \"PING\");")
    assert not PQ_CALL.search("_cleanup_(PQclearp) PGresult *r") and not REDIS_CALL.search("redis_ping(r)")
