"""The container images and docker/compose.yaml work: the images build, the
stack comes up with two workers, and a file uploaded through the published
port is imported.

The test runs a Docker engine of its own (dockerd from Debian's docker.io)
with its data in /var/tmp/roster-docker (ROSTER_DOCKER_ROOT), kept between
runs as a cache: the debian:12 base that scripts/docker-base makes with
debootstrap (for a machine that reaches no image registry) and the image
layers.
That engine leaves the host's firewall alone (no iptables rules, no default
bridge): compose's own network needs no NAT, published ports go through
docker-proxy, and builds use the host's network to reach Debian's mirror.
It is skipped only where no engine can be started. From a cold cache it
takes several minutes (debootstrap, then apt and the compile in the
builds); timings are printed as it goes."""

import contextlib
import fcntl
import os
import shutil
import signal
import subprocess
import time
import uuid

import pytest
import requests

from harness import FINAL_STATES, REPO, fixture, free_port, wait_until

DOCKER_ROOT = os.environ.get("ROSTER_DOCKER_ROOT", "/var/tmp/roster-docker")
SOCKET = os.path.join(DOCKER_ROOT, "docker.sock")
PIDFILE = os.path.join(DOCKER_ROOT, "dockerd.pid")
# dockerd runs docker-proxy and iptables from the sbin directories.
PATH = os.environ.get("PATH", "/usr/bin:/bin") + ":/usr/local/sbin:/usr/sbin:/sbin"
COMPOSE_FILE = os.path.join(REPO, "docker", "compose.yaml")
# This engine has no default bridge: builds reach the mirror through the
# host's network instead.
BUILD_ON_HOST_NETWORK = """\
services:
  postgres: { build: { network: host } }
  redis: { build: { network: host } }
  migrate: { build: { network: host } }
"""


def docker_env():
    env = {k: v for k, v in os.environ.items()
           if k not in ("DOCKER_CONTEXT", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH")}
    env.update(DOCKER_HOST="unix://" + SOCKET, PATH=PATH)
    return env


def run(cmd, timeout, check=True, env=None, input=None):
    """Runs cmd with the test's engine; its output as text. input: bytes."""
    out = subprocess.run(cmd, env=env or docker_env(), cwd=REPO, capture_output=True, timeout=timeout, input=input)
    out.stdout, out.stderr = (s.decode("utf-8", "replace") for s in (out.stdout, out.stderr))
    if check and out.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} exited {out.returncode}:\n{out.stdout[-4000:]}\n{out.stderr[-4000:]}")
    return out


def pid_alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except OSError:
        return False


class Engine:
    """dockerd on a socket of its own; one run at a time (a lock file)."""

    def __init__(self):
        self.dockerd = shutil.which("dockerd", path=PATH)
        self.docker = shutil.which("docker", path=PATH)
        self.proc = None
        self.lock = None

    def unavailable(self):
        if os.geteuid() != 0:
            return "starting dockerd needs root"
        if not self.dockerd or not self.docker:
            return "no dockerd or docker client (Debian's docker.io; scripts/lib.sh lists it in ROSTER_TEST_PACKAGES)"
        return None

    def start(self):
        """Says what it did; skips the test when dockerd does not start."""
        os.makedirs(DOCKER_ROOT, exist_ok=True)
        self.lock = open(os.path.join(DOCKER_ROOT, "lock"), "w")
        fcntl.flock(self.lock, fcntl.LOCK_EX)
        # An engine left by a run that was killed: use it, and leave it.
        try:
            with open(PIDFILE) as f:
                pid = int(f.read().strip() or 0)
        except (OSError, ValueError):
            pid = 0
        if pid and pid_alive(pid) and self.answers():
            return f"dockerd {pid}, left running by an earlier run, reused"
        with contextlib.suppress(FileNotFoundError):
            os.unlink(PIDFILE)
        log = open(os.path.join(DOCKER_ROOT, "dockerd.log"), "wb")
        self.proc = subprocess.Popen(
            [self.dockerd, "--data-root", os.path.join(DOCKER_ROOT, "data"),
             "--exec-root", os.path.join(DOCKER_ROOT, "exec"), "--pidfile", PIDFILE,
             "--host", "unix://" + SOCKET, "--iptables=false", "--ip-forward=false", "--ip-masq=false",
             "--bridge=none"],
            env=dict(os.environ, PATH=PATH), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        log.close()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and self.proc.poll() is None:
            if self.answers():
                return "dockerd started"
            time.sleep(0.5)
        self.stop()
        with open(os.path.join(DOCKER_ROOT, "dockerd.log"), errors="replace") as f:
            pytest.skip("dockerd did not start:\n" + f.read()[-3000:])

    def answers(self):
        return subprocess.run([self.docker, "version"], env=docker_env(), capture_output=True,
                              timeout=30).returncode == 0

    def stop(self):
        if self.proc:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
                try:
                    self.proc.wait(60)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
            # dockerd can leave its network namespace bind-mounted in the exec root.
            exec_root = os.path.join(DOCKER_ROOT, "exec") + "/"
            with open("/proc/mounts") as f:
                mounts = [line.split()[1] for line in f]
            for m in reversed(mounts):
                if m.startswith(exec_root):
                    subprocess.run(["umount", m], check=False)
        self.proc = None
        if self.lock:
            self.lock.close()
            self.lock = None


def compose_command(engine):
    """`docker compose` where the CLI has it, else docker-compose (v1, as
    Debian 12 packages it)."""
    if run([engine.docker, "compose", "version"], 30, check=False).returncode == 0:
        return [engine.docker, "compose"]
    v1 = shutil.which("docker-compose", path=PATH)
    return [v1] if v1 else None


@pytest.fixture
def timings(capsys):
    """Prints each step's duration as it ends (past pytest's capture)."""
    start = time.monotonic()
    last = [start]

    def step(what):
        now = time.monotonic()
        with capsys.disabled():
            print(f"\n  docker: {what}: {now - last[0]:.1f} s (total {now - start:.1f} s)", end="", flush=True)
        last[0] = now
    yield step
    with capsys.disabled():
        print()


def test_compose_stack_imports_a_file_with_two_workers(timings, tmp_path):
    engine = Engine()
    reason = engine.unavailable()
    if reason:
        pytest.skip(reason)
    started = engine.start()
    try:
        timings(started)
        compose = compose_command(engine)
        if compose is None:
            pytest.skip("neither `docker compose` nor docker-compose is installed")

        out = run(["scripts/docker-base"], 1800)
        timings("debian:12 base (" + out.stderr.strip().splitlines()[-1].lstrip("=> ") + ")")

        override = tmp_path / "build-network.yaml"
        override.write_text(BUILD_ON_HOST_NETWORK)
        project = "rostertest" + uuid.uuid4().hex[:8]
        port = free_port()
        env = dict(docker_env(), ROSTER_API_PUBLISH=f"127.0.0.1:{port}")
        compose = [*compose, "-f", COMPOSE_FILE, "-f", str(override), "-p", project]

        run([*compose, "build"], 3600, env=env)
        sizes = run([engine.docker, "image", "ls", "--format", "{{.Repository}}:{{.Tag}} {{.Size}}"], 60).stdout
        timings("images built (" + ", ".join(line for line in sizes.splitlines()
                                              if line.startswith(("roster", "debian"))) + ")")

        try:
            run([*compose, "up", "-d", "--no-build", "--scale", "worker=2"], 600, env=env)
            base = f"http://127.0.0.1:{port}"
            wait_until(lambda: requests.get(base + "/readyz", timeout=5).status_code == 200, timeout=180,
                       interval=0.5, what="/readyz through the published port")
            timings("stack up, /readyz 200")

            workers = run([engine.docker, "ps", "-q", "--filter", f"label=com.docker.compose.project={project}",
                           "--filter", "label=com.docker.compose.service=worker"], 60).stdout.split()
            assert len(workers) == 2, workers
            api = run([engine.docker, "ps", "-q", "--filter", f"label=com.docker.compose.project={project}",
                       "--filter", "label=com.docker.compose.service=api"], 60).stdout.split()
            assert len(api) == 1, api

            # roster-admin in the API's container, which has the settings.
            def admin(*args, stdin=None):
                return run([engine.docker, "exec", "-i", api[0], *args], 300, input=stdin).stdout

            with open(fixture("gias_establishments.csv"), "rb") as f:
                gias = f.read()
            admin("sh", "-c", "cat >/tmp/gias.csv && roster-admin establishments load /tmp/gias.csv", stdin=gias)
            admin("roster-admin", "account", "create", "camden", "--name", "Camden Council")
            token = admin("roster-admin", "token", "create", "camden", "--actor", "docker test").strip()
            headers = {"Authorization": f"Bearer {token}"}

            with open(fixture("lac_designated_teachers.csv"), "rb") as f:
                r = requests.post(base + "/v1/imports", headers=headers, data={"role": "designated_teacher"},
                                  files={"file": ("lac_designated_teachers.csv", f, "text/csv")}, timeout=120)
            assert r.status_code == 202, r.text
            import_id = r.json()["id"]

            def final():
                body = requests.get(f"{base}/v1/imports/{import_id}", headers=headers, timeout=10).json()
                return body if body["state"] in FINAL_STATES else None
            done = wait_until(final, timeout=180, interval=0.5, what=f"import {import_id} to finish")
            counts = done["counts"]
            assert done["state"] == "completed", done
            assert counts["rows_total"] == counts["rows_processed"] == 3, counts
            assert (counts["created"], counts["failed"], counts["invites"]) == (3, 0, 3), counts
            timings("import completed")

            # Both workers are still running, and started in the queue.
            for w in workers:
                state = run([engine.docker, "inspect", "-f", "{{.State.Running}}", w], 60).stdout.strip()
                logs = run([engine.docker, "logs", w], 60)
                assert state == "true" and " started: " in logs.stdout + logs.stderr, (state, logs.stderr[-2000:])
        except BaseException:
            logs = run([*compose, "logs", "--no-color", "--tail", "60"], 120, env=env, check=False)
            print(logs.stdout[-8000:], logs.stderr[-2000:])
            raise
        finally:
            run([*compose, "down", "-v", "--remove-orphans", "--timeout", "20"], 300, env=env, check=False)
            timings("compose down -v")
        left = run([engine.docker, "ps", "-aq", "--filter", f"label=com.docker.compose.project={project}"], 60)
        assert left.stdout.strip() == "", "containers left after down: " + left.stdout
    finally:
        own = engine.proc is not None
        engine.stop()
        if own:
            timings("dockerd stopped")
