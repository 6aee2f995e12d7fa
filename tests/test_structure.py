"""The layout the code keeps: libpq and hiredis are spoken in common/ only
(its stores and clients); api/, worker/ and admin/ ask them. Each module
is a .c and its .h; the header names and explains everything the module
exports."""

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


# A function declared at the start of a header line (not static inline).
PROTOTYPE = re.compile(r"^[A-Za-z_][\w \*]*?\**\b([a-z_][a-z0-9_]*)\s*\(")
TYPE_NAME = re.compile(r"(?:typedef\s+(?:struct|enum|union)\s*\w*\s+(\w+)\s*;|\}\s*(\w+)\s*;)")


def headers():
    for folder in ("common/core", "common/store", "common/util", "api", "worker", "admin"):
        for path in sorted(glob.glob(os.path.join(REPO, folder, "*.h"))):
            yield os.path.relpath(path, REPO), open(path, encoding="utf-8").read()


def exported(text):
    """(line index, name) of each function a header declares."""
    for n, line in enumerate(text.splitlines()):
        if not line.strip() or line.startswith(("typedef", "#", "static", "}", "{", " ", "\t", "/*", " *")):
            continue
        m = PROTOTYPE.match(line)
        if m:
            yield n, m.group(1)


def documented(lines, n):
    """Whether the declaration on line n has a comment right above it, or
    above the run of declarations it belongs to (no blank line between)."""
    k = n - 1
    while k >= 0 and lines[k].strip() and not lines[k].rstrip().endswith("*/"):
        k -= 1
    return k >= 0 and lines[k].rstrip().endswith("*/")


def snake(name):
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def test_every_exported_function_has_a_comment():
    missing = []
    for path, text in headers():
        lines = text.splitlines()
        missing += [f"{path}:{n + 1}: {name}" for n, name in exported(text) if not documented(lines, n)]
    assert not missing, "say what it returns, on error, and who frees:\n" + "\n".join(missing)


def test_every_exported_function_is_named_for_its_module_or_a_type_it_declares():
    wrong = []
    for path, text in headers():
        module = os.path.basename(path)[:-2]
        prefixes = [module] + [snake(a or b) for a, b in TYPE_NAME.findall(text)]
        for n, name in exported(text):
            if not any(name == p or name.startswith(p + "_") for p in prefixes):
                wrong.append(f"{path}:{n + 1}: {name} (expected a prefix of {', '.join(sorted(prefixes))})")
    assert not wrong, "\n".join(wrong)


def test_each_c_file_has_its_header():
    lonely = []
    for folder in ("common/core", "common/store", "common/util", "api", "worker", "admin"):
        for path in glob.glob(os.path.join(REPO, folder, "*.c")):
            name = os.path.basename(path)
            if name != "main.c" and not os.path.exists(path[:-2] + ".h"):
                lonely.append(os.path.relpath(path, REPO))
    assert not lonely, "a module is a .c and its own .h: " + ", ".join(sorted(lonely))


def test_the_header_checks_see_what_they_look_for():
    text = "/* Does it. */\nint a_b(void);\nint a_c(void);\n\nvoid a_d(int x);\n"
    lines = text.splitlines()
    found = list(exported(text))
    assert [name for _, name in found] == ["a_b", "a_c", "a_d"]
    assert [documented(lines, n) for n, _ in found] == [True, True, False]
    assert snake("EmailSet") == "email_set"
    assert TYPE_NAME.findall("typedef struct EmailSet EmailSet;\n} UserRow;") == [("EmailSet", ""), ("", "UserRow")]


def test_paths_are_matched_in_the_route_table_only():
    found = []
    for path, text in program_sources():
        if path == os.path.join("api", "routes.c"):
            continue
        for n, line in enumerate(text.splitlines(), 1):
            if re.search(r"str(n?case)?cmp\([^;]*\"/(v1|admin|healthz|readyz|metrics)", line):
                found.append(f"{path}:{n}: {line.strip()}")
    assert not found, "ask routes_find() (api/routes.h) instead:\n" + "\n".join(found)


# The one module of common/store that names each table in its SQL (the
# schema's migrations, schema.c, may name any).
TABLE_OWNERS = {
    "accounts": "account_store", "api_tokens": "account_store", "roles": "account_store",
    "teams": "account_store",
    "audit_events": "audit_store",
    "establishments": "establishment_store",
    "imports": "import_store", "import_chunks": "import_store",
    "import_ranges": "range_store", "import_emails": "range_store",
    "import_rows": "error_log", "import_issues": "error_log",
    "import_results": "result_log",
    "import_archived": "archive_store",
    "user_links": "link_store", "import_links": "link_store",
    "users": "user_store", "user_pupils": "user_store", "user_teams": "user_store",
    "invite_batches": "invite_outbox",
    "redis_state": "redis_epoch",
    "webhook_deliveries": "webhook_store", "webhook_attempts": "webhook_store",
    "schema_migrations": "schema",
}

C_STRING = re.compile(r'"((?:[^"\\]|\\.)*)"')
COMMENT = re.compile(r"/\*.*?\*/", re.S)


def sql_text(path):
    """The string literals of a C file, joined: its SQL, among others."""
    return " ".join(C_STRING.findall(COMMENT.sub("", open(path, encoding="utf-8").read())))


def tables_named(sql):
    return {t for t in TABLE_OWNERS
            if re.search(r"\b(FROM|JOIN|INTO|UPDATE|TABLE|COPY|USING)\s+(ONLY\s+)?" + t + r"\b", sql, re.I)}


def test_every_table_of_the_schema_has_an_owner():
    schema = open(os.path.join(REPO, "common/store/schema.c"), encoding="utf-8").read()
    created = set(re.findall(r"CREATE TABLE (?:IF NOT EXISTS )?(\w+)", schema))
    dropped = set(re.findall(r"DROP TABLE (?:IF EXISTS )?(\w+)", schema))
    assert created - dropped == set(TABLE_OWNERS)


def test_each_table_is_named_in_one_module():
    strays = []
    for folder in ("common/core", "common/store", "common/util", "api", "worker", "admin"):
        for path in sorted(glob.glob(os.path.join(REPO, folder, "*.c"))):
            module = os.path.basename(path)[:-2]
            if module == "schema":
                continue
            for table in sorted(tables_named(sql_text(path))):
                if TABLE_OWNERS[table] != module:
                    strays.append(f"{os.path.relpath(path, REPO)} names {table}, which is "
                                  f"{TABLE_OWNERS[table]}'s: ask it")
    assert not strays, "\n".join(strays)


def test_the_table_check_sees_sql():
    assert tables_named("SELECT u.id FROM users u JOIN roles r ON r.id = u.role_id") == {"users", "roles"}
    assert tables_named("INSERT INTO import_links (x) SELECT 1") == {"import_links"}
    assert tables_named("DELETE FROM user_links l USING k") == {"user_links"}
    assert tables_named("SELECT users FROM x") == set()
