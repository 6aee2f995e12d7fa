"""Real servers and roster processes for the integration tests.

Everything runs on loopback, on free ports, in a temporary directory that
is removed afterwards: a PostgreSQL cluster (run as the `postgres` user
when the tests run as root, since PostgreSQL refuses root), a Redis
server, and the built roster binaries.
"""

import atexit
import collections
import glob
import json
import os
import pwd
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid

import psycopg2
import redis as redis_lib
import requests

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("ROSTER_BUILD_DIR", os.path.join(REPO, "build"))
FIXTURES = os.environ.get("ROSTER_FIXTURES", os.path.join(REPO, "tests", "fixtures"))

BIN = {
    "api": os.path.join(BUILD, "api", "roster-api"),
    "worker": os.path.join(BUILD, "worker", "roster-worker"),
    "admin": os.path.join(BUILD, "admin", "roster-admin"),
}

FINAL_STATES = {"completed", "completed_with_errors", "failed", "cancelled", "validated", "held"}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pg_bindir():
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return os.path.dirname(found[-1])
    out = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True)
    return out.stdout.strip()


def wait_until(predicate, timeout=30.0, interval=0.05, what="condition"):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = predicate()
            if last:
                return last
        except Exception as e:  # the server may not be up yet
            last = e
        time.sleep(interval)
    raise TimeoutError(f"timed out waiting for {what} (last: {last!r})")


class Postgres:
    def __init__(self, root):
        self.dir = os.path.join(root, "pg")
        self.port = free_port()
        self.bindir = pg_bindir()
        os.makedirs(self.dir)
        self.as_postgres = os.geteuid() == 0
        if self.as_postgres:
            pw = pwd.getpwnam("postgres")
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
        self._run("initdb", "-D", os.path.join(self.dir, "data"), "-U", "roster", "--auth=trust",
                  "-E", "UTF8", "--locale=C.UTF-8", "--no-sync")
        self.start()
        self._run("psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "roster", "-d", "postgres",
                  "-qc", "CREATE DATABASE roster")
        self.url = f"postgresql://roster@127.0.0.1:{self.port}/roster"

    def _run(self, tool, *args):
        cmd = [os.path.join(self.bindir, tool), *args]
        if self.as_postgres:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, cwd="/")

    def start(self):
        # fsync off: these clusters are thrown away.
        self._run("pg_ctl", "-D", os.path.join(self.dir, "data"), "-l", os.path.join(self.dir, "log"), "-w",
                  "-o", f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off "
                        f"-c synchronous_commit=off -c full_page_writes=off -c max_connections=200 "
                        + os.environ.get("ROSTER_TEST_PG_OPTIONS", ""),
                  "start")

    def stop(self, mode="fast"):
        self._run("pg_ctl", "-D", os.path.join(self.dir, "data"), "-m", mode, "-w", "stop")

    def restart(self):
        self.stop("fast")
        self.start()

    def connect(self, url=None):
        conn = psycopg2.connect(url or self.url)
        conn.autocommit = True
        return conn

    def create_database(self, name):
        conn = self.connect()
        try:
            with conn.cursor() as cur:
                cur.execute(f'CREATE DATABASE "{name}"')
        finally:
            conn.close()
        return f"postgresql://roster@127.0.0.1:{self.port}/{name}"


class Redis:
    def __init__(self, root, name="redis"):
        self.dir = os.path.join(root, name)
        os.makedirs(self.dir)
        self.port = free_port()
        self.proc = None
        self.start()
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def start(self):
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--dir", self.dir,
             "--save", "", "--appendonly", "no", "--logfile", os.path.join(self.dir, "log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until(lambda: self.client().ping(), what="redis")

    def stop(self):
        if self.proc:
            self.proc.terminate()
            self.proc.wait(10)
            self.proc = None

    def client(self):
        return redis_lib.Redis(host="127.0.0.1", port=self.port, decode_responses=True)


class Process:
    """A roster binary running in the background, its output in a file."""

    def __init__(self, name, env, log_dir, args=()):
        self.name = name
        self.env_db = env.get("ROSTER_DATABASE_URL")
        self.log_path = os.path.join(log_dir, f"{name}-{uuid.uuid4().hex[:8]}.log")
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen([BIN[name], *args], env=env, stdout=self.log, stderr=subprocess.STDOUT)

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc.poll() is None

    def stop(self, sig=signal.SIGTERM, timeout=30):
        if self.alive():
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode

    def kill(self):
        return self.stop(signal.SIGKILL)

    def output(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")


class Roster:
    """The servers plus helpers to start roster processes against them."""

    def __init__(self):
        self.root = tempfile.mkdtemp(prefix="roster-it-")
        os.chmod(self.root, 0o755)
        self.processes = []
        self.closed = False
        self.pg = self.redis = None
        # Servers go even when the script using them dies first.
        atexit.register(self.close)
        self.pg = Postgres(self.root)
        self.redis = Redis(self.root)
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "ROSTER_DATABASE_URL": self.pg.url,
            "ROSTER_REDIS_URL": self.redis.url,
            "ROSTER_LOG_FORMAT": "text",
            "ROSTER_LOG_LEVEL": "info",
            "ROSTER_WORKER_CONCURRENCY": "2",
            "ROSTER_JOB_LEASE_SECONDS": "10",
            # Tests that leave a request hanging need not wait the
            # default 30 s when the API stops.
            "ROSTER_DRAIN_SECONDS": "5",
        }
        for var in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"):
            if var in os.environ:
                self.env[var] = os.environ[var]
        self.admin("migrate")

    def close(self):
        if self.closed:
            return
        self.closed = True
        for p in self.processes:
            if p.alive():
                p.stop(signal.SIGKILL)
        # Parts may be missing when starting them failed.
        if getattr(self, "redis", None):
            self.redis.stop()
        if getattr(self, "pg", None):
            try:
                self.pg.stop("immediate")
            except subprocess.CalledProcessError:
                pass
        shutil.rmtree(self.root, ignore_errors=True)

    def admin(self, *args, env=None, check=True, input=None):
        e = dict(self.env, **(env or {}))
        out = subprocess.run([BIN["admin"], *args], env=e, capture_output=True, text=True, input=input)
        if check and out.returncode != 0:
            raise AssertionError(f"roster-admin {' '.join(args)} failed ({out.returncode}): {out.stderr}")
        return out

    def start_api(self, **overrides):
        port = free_port()
        env = dict(self.env, ROSTER_LISTEN=f"127.0.0.1:{port}", **overrides)
        p = Process("api", env, self.root)
        self.processes.append(p)
        base = f"http://127.0.0.1:{port}"
        try:
            wait_until(lambda: requests.get(base + "/healthz", timeout=1).status_code == 200, what="roster-api")
        except TimeoutError:
            raise AssertionError("roster-api did not start:\n" + p.output())
        p.base = base
        return p

    def start_worker(self, **overrides):
        env = dict(self.env, **overrides)
        p = Process("worker", env, self.root)
        self.processes.append(p)
        return p

    def db(self):
        return self.pg.connect(self.env["ROSTER_DATABASE_URL"])

    def redis_client(self):
        return self.redis.client()

    def sandbox(self, own_redis=False):
        """A database (and Redis) of its own, for tests that kill, stop or
        restart things and must not meet other tests' workers."""
        return Sandbox(self, own_redis)

    def new_account(self, scopes="imports:read,imports:write,users:read"):
        slug = "acct-" + uuid.uuid4().hex[:10]
        self.admin("account", "create", slug, "--name", "Test " + slug)
        token = self.admin("token", "create", slug, "--scopes", scopes, "--actor", "LA Super User").stdout.strip()
        return Account(self, slug, token)


class Sandbox(Roster):
    """Shares the PostgreSQL cluster and the process list of a Roster; has
    its own database and a Redis database (or server) of its own."""

    _next_db = 1

    def __init__(self, parent, own_redis):
        self.root = parent.root
        self.processes = parent.processes
        self.pg = parent.pg
        url = self.pg.create_database("sandbox_" + uuid.uuid4().hex[:12])
        if own_redis:
            self.redis = Redis(self.root, "redis-" + uuid.uuid4().hex[:8])
            redis_url = self.redis.url
            self.own_redis = True
        else:
            self.redis = parent.redis
            Sandbox._next_db = Sandbox._next_db % 15 + 1
            redis_url = f"redis://127.0.0.1:{parent.redis.port}/{Sandbox._next_db}"
            redis_lib.Redis(host="127.0.0.1", port=parent.redis.port, db=Sandbox._next_db).flushdb()
            self.own_redis = False
        self.redis_db = int(redis_url.rsplit("/", 1)[1])
        self.env = dict(parent.env, ROSTER_DATABASE_URL=url, ROSTER_REDIS_URL=redis_url)
        self.admin("migrate")

    def redis_client(self):
        return redis_lib.Redis(host="127.0.0.1", port=self.redis.port, db=self.redis_db, decode_responses=True)

    def close(self):
        for p in list(self.processes):
            if p.alive() and p.env_db == self.env["ROSTER_DATABASE_URL"]:
                p.stop(signal.SIGKILL)
        if self.own_redis:
            self.redis.stop()

    def drop(self):
        """Closes the sandbox and drops its database, for tests that leave
        a lot of data behind."""
        self.close()
        name = self.env["ROSTER_DATABASE_URL"].rsplit("/", 1)[1]
        conn = self.pg.connect()
        try:
            with conn.cursor() as cur:
                cur.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        finally:
            conn.close()


class Account:
    def __init__(self, roster, slug, token):
        self.roster = roster
        self.slug = slug
        self.token = token

    @property
    def headers(self):
        return {"Authorization": f"Bearer {self.token}"}

    def token_with(self, scopes):
        return self.roster.admin("token", "create", self.slug, "--scopes", scopes).stdout.strip()

    def users(self):
        with self.roster.db() as conn, conn.cursor() as cur:
            cur.execute(
                "SELECT u.email, u.first_name, u.last_name, u.job_title, u.phone, u.establishment_urn, r.key, "
                "u.active, u.custom FROM users u JOIN roles r ON r.id = u.role_id "
                "JOIN accounts a ON a.id = u.account_id WHERE a.slug = %s ORDER BY lower(u.email)", (self.slug,))
            cols = ["email", "first_name", "last_name", "job_title", "phone", "urn", "role", "active", "custom"]
            return [dict(zip(cols, row)) for row in cur.fetchall()]


def measures_memory():
    """False under AddressSanitizer, whose shadow memory and quarantine
    make RSS say nothing about the program's own use."""
    return "ASAN_OPTIONS" not in os.environ


def proc_status_kib(pid, field):
    """A memory figure of a process from /proc/PID/status, in KiB:
    field is "VmRSS" (now) or "VmHWM" (the peak)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise AssertionError(f"no {field} for process {pid}")


def fixture(name):
    return os.path.join(FIXTURES, name)


def upload(api, account, path=None, data=None, filename="users.csv", token=None, headers=None, **options):
    """POST /v1/imports as multipart with the file and options as fields."""
    if path is not None:
        with open(path, "rb") as f:
            data = f.read()
        filename = os.path.basename(path)
    h = {"Authorization": f"Bearer {token or account.token}"}
    h.update(headers or {})
    fields = {k: (None, str(v)) for k, v in options.items()}
    files = dict(fields)
    files["file"] = (filename, data, "text/csv")
    return requests.post(api.base + "/v1/imports", files=files, headers=h, timeout=300)


class StreamedForm:
    """A multipart/form-data body whose file part is read from a file as it
    is sent: a big upload costs the test no memory. requests sends it with
    a Content-Length, as a browser would."""

    def __init__(self, path, filename, fields):
        boundary = "roster-" + uuid.uuid4().hex
        self.content_type = f"multipart/form-data; boundary={boundary}"
        self.head = b"".join(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
            for k, v in fields.items())
        self.head += (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
                      "Content-Type: text/csv\r\n\r\n").encode()
        self.tail = f"\r\n--{boundary}--\r\n".encode()
        self.path = path
        self.size = len(self.head) + os.path.getsize(path) + len(self.tail)

    def __len__(self):
        return self.size

    def __iter__(self):
        yield self.head
        with open(self.path, "rb") as f:
            while chunk := f.read(1 << 20):
                yield chunk
        yield self.tail


def upload_file(api, account, path, timeout=600, **options):
    """POST /v1/imports of the file at path, streamed from disk, with the
    options as form fields."""
    form = StreamedForm(path, os.path.basename(path), options)
    headers = {"Authorization": f"Bearer {account.token}", "Content-Type": form.content_type}
    return requests.post(api.base + "/v1/imports", data=form, headers=headers, timeout=timeout)


# The designated-teacher template's columns and cells, in the shape
# scripts/bench generates: names with apostrophes and hyphens, a job title
# that needs quoting, phone numbers with a leading zero, CRLF line ends.
TEMPLATE_HEADER = "User First Name,User Last Name,Job Title,Email,Phone,School Reference Number (URN)"
_FIRST_NAMES = ["Joe", "Jane", "John", "Amira", "Oliver", "Siobhan", "Mohammed", "Grace", "Tomasz", "Priya",
                "Chidi", "Eleanor", "Kwame", "Aoife", "Hamza", "Zofia", "Rhys", "Mei", "Seamus", "Fatima",
                "Liam", "Noor", "Dafydd", "Ingrid", "Yusuf", "Catrin", "Arjun", "Beatrice", "Olumide", "Hannah"]
_LAST_NAMES = ["Bloggs", "Doe", "Appleseed", "Okafor", "Smith", "O'Neill", "Khan", "Jones", "Nowak", "Patel",
               "Williams", "Brown-Taylor", "Mensah", "Murphy", "Ahmed", "Kowalski", "Evans", "Chen", "Walsh",
               "Hussain", "Davies", "Ali", "Roberts", "Lindqvist", "Begum", "Price", "Sharma", "Clarke", "Adeyemi",
               "Wright"]
_JOB_TITLES = ["French Teacher", "Office Administrator", "Pastoral Head", "Designated Teacher", "SENCO",
               "Deputy Headteacher", "Head of Year 9", '"Head of Key Stage 3, Pastoral"', "Maths Teacher",
               "Assistant Head (Inclusion)"]


def write_template_csv(path, urns, rows=None, min_bytes=None):
    """Writes a CSV of generated users, each email unique, until it holds
    `rows` data rows or at least `min_bytes` bytes. Every fifth row has URN
    0 (not linked yet: an establishment_missing warning for a designated
    teacher); the others are drawn from urns with a fixed seed. Returns the
    number of data rows."""
    rng = random.Random(20240601)
    nf, nl, nj = len(_FIRST_NAMES), len(_LAST_NAMES), len(_JOB_TITLES)
    with open(path, "wb") as f:
        size = f.write((TEMPLATE_HEADER + "\r\n").encode())
        i = 0
        block = []
        while (rows is None or i < rows) and (min_bytes is None or size < min_bytes):
            first, last = _FIRST_NAMES[i % nf], _LAST_NAMES[(i // nf) % nl]
            email = f"{first.lower()}.{last.lower().replace(chr(39), '')}.{i}@school{i % 997}.sch.uk"
            urn = 0 if i % 5 == 4 else rng.choice(urns)
            phone = f"0{1 + i % 9}{(i * 7919) % 1000000000:09d}"
            line = f"{first},{last},{_JOB_TITLES[i % nj]},{email},{phone},{urn}\r\n".encode()
            block.append(line)
            size += len(line)
            i += 1
            if len(block) == 10000:
                f.write(b"".join(block))
                block = []
        f.write(b"".join(block))
    return i


def wait_final(api, account, import_id, timeout=60):
    def done():
        r = requests.get(f"{api.base}/v1/imports/{import_id}", headers=account.headers, timeout=10)
        r.raise_for_status()
        body = r.json()
        return body if body["state"] in FINAL_STATES else None
    return wait_until(done, timeout=timeout, interval=0.1, what=f"import {import_id} to finish")


def big_file(rows=20000, tag="u"):
    """A CSV of `rows` new users, each with a distinct email."""
    lines = ["Email,First Name,Last Name,Job Title"]
    lines += [f"{tag}{i:06d}@example.org,First{i},Last{i},Teacher" for i in range(rows)]
    return ("\n".join(lines) + "\n").encode()


def import_status(api, account, import_id):
    return requests.get(f"{api.base}/v1/imports/{import_id}", headers=account.headers, timeout=10).json()


def check_exactly_once(sandbox, account, imp, rows=20000):
    """Every row of a big_file() imported once, every user invited once,
    nothing left behind."""
    c = imp["counts"]
    assert imp["state"] == "completed", imp
    assert c["rows_total"] == c["rows_processed"] == rows
    assert c["created"] == rows and c["failed"] == 0 and c["updated"] == 0 and c["unchanged"] == 0
    assert c["invites"] == rows
    users = account.users()
    assert len(users) == rows
    invites = invites_for(sandbox, imp["id"])
    assert len(invites) == rows, f"{len(invites)} invite events for {rows} users"
    dup = [e for e, n in collections.Counter(i["email"] for i in invites).items() if n > 1]
    assert not dup, f"invited twice: {dup[:5]}"
    with sandbox.db() as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM invite_batches WHERE import_id = %s AND published_at IS NULL",
                    (imp["id"],))
        assert cur.fetchone()[0] == 0, "events left unpublished"
        cur.execute("SELECT count(*) FROM import_emails WHERE import_id = %s", (imp["id"],))
        assert cur.fetchone()[0] == 0


def errors_of(api, account, import_id):
    items, cursor = [], None
    while True:
        params = {"limit": 1000}
        if cursor:
            params["cursor"] = cursor
        r = requests.get(f"{api.base}/v1/imports/{import_id}/errors", headers=account.headers, params=params,
                         timeout=10)
        assert r.status_code == 200, r.text
        body = r.json()
        items += body["items"]
        cursor = body["next_cursor"]
        if not cursor:
            return items


def invites_for(roster, import_id):
    entries = roster.redis_client().xrange("roster:invites", "-", "+")
    return [fields for _, fields in entries if fields.get("import_id") == import_id]


def is_problem(response, status, code=None):
    assert response.status_code == status, f"{response.status_code} {response.text}"
    assert response.headers["Content-Type"].startswith("application/problem+json"), response.headers
    body = response.json()
    for key in ("type", "title", "status", "detail"):
        assert key in body, body
    assert body["status"] == status
    if code:
        assert body["code"] == code, body
    return body


def import_rows(roster, where="TRUE", params=()):
    with roster.db() as conn, conn.cursor() as cur:
        cur.execute(f"SELECT count(*) FROM imports WHERE {where}", params)
        return cur.fetchone()[0]


def dump(obj):
    return json.dumps(obj, indent=2, sort_keys=True)
