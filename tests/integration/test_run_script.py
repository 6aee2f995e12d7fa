"""scripts/run behaves: Ctrl-C stops what it started even when its output
goes through a pipe whose reader dies first; a second run refuses clearly
(and exits non-zero) when the data directory, the API's port or a
server's port is another run's, and never stops that run's servers."""

import os
import shutil
import signal
import subprocess
import tempfile
import time

import pytest
import requests

from harness import BUILD, REPO, free_port, wait_until


def port_open(port):
    import socket
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


class Run:
    """scripts/run in a session of its own (so that a signal reaches its
    whole process group, as Ctrl-C does), its output piped through tee."""

    def __init__(self, var, pg_port, redis_port, api_port):
        self.var, self.pg_port, self.redis_port, self.api_port = var, pg_port, redis_port, api_port
        env = {k: v for k, v in os.environ.items() if not k.startswith("ROSTER_")}
        env.update(ROSTER_VAR=var, ROSTER_RUN_PG_PORT=str(pg_port), ROSTER_RUN_REDIS_PORT=str(redis_port),
                   ROSTER_LISTEN=f"127.0.0.1:{api_port}", ROSTER_BUILD_DIR=BUILD)
        self.log = var + ".out"
        self.proc = subprocess.Popen(["bash", "-c", f"scripts/run 2>&1 | tee {self.log}"], cwd=REPO, env=env,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)

    def output(self):
        with open(self.log, encoding="utf-8", errors="replace") as f:
            return f.read()

    def ready(self):
        try:
            return requests.get(f"http://127.0.0.1:{self.api_port}/readyz", timeout=1).status_code == 200
        except requests.RequestException:
            return False

    def wait_ready(self):
        wait_until(lambda: "roster is running" in self.output() or self.proc.poll() is not None, timeout=120,
                   interval=0.3, what="scripts/run ready")
        assert self.ready(), self.output()[-3000:]

    def ctrl_c(self):
        os.killpg(self.proc.pid, signal.SIGINT)
        self.proc.wait(60)

    def servers_running(self):
        return [name for name, port in (("postgres", self.pg_port), ("redis", self.redis_port),
                                        ("api", self.api_port)) if port_open(port)]


@pytest.fixture
def var_root():
    # The postgres user must reach the data directory.
    root = tempfile.mkdtemp(prefix="roster-run-", dir="/var/tmp")
    os.chmod(root, 0o755)
    yield root
    shutil.rmtree(root, ignore_errors=True)


def ports():
    return free_port(), free_port(), free_port()


def test_ctrl_c_through_a_dead_pipe_stops_every_server_it_started(var_root):
    run = Run(os.path.join(var_root, "a"), *ports())
    try:
        run.wait_ready()
        assert set(run.servers_running()) == {"postgres", "redis", "api"}
    finally:
        run.ctrl_c()  # tee gets the SIGINT too, and dies before the script's cleanup writes
    wait_until(lambda: not run.servers_running(), timeout=30, what="every server stopped")


def test_a_second_run_refuses_and_leaves_the_first_alone(var_root):
    pg, redis, api = ports()
    first = Run(os.path.join(var_root, "first"), pg, redis, api)
    try:
        first.wait_ready()

        def second(var, pg_port, redis_port, api_port, expect):
            env = {k: v for k, v in os.environ.items() if not k.startswith("ROSTER_")}
            env.update(ROSTER_VAR=var, ROSTER_RUN_PG_PORT=str(pg_port), ROSTER_RUN_REDIS_PORT=str(redis_port),
                       ROSTER_LISTEN=f"127.0.0.1:{api_port}", ROSTER_BUILD_DIR=BUILD)
            out = subprocess.run(["scripts/run"], cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
            assert out.returncode != 0, out.stderr[-2000:]
            assert expect in out.stderr, out.stderr[-2000:]
            assert "roster is running" not in out.stderr
            # The first run is untouched.
            assert first.ready() and set(first.servers_running()) == {"postgres", "redis", "api"}
            return out

        # The same data directory.
        second(first.var, free_port(), free_port(), free_port(), "another scripts/run is using")
        # The same API port.
        second(os.path.join(var_root, "b"), free_port(), free_port(), api, "already in use")
        # The same Redis port, then the same PostgreSQL port: the servers of
        # the first are neither reused nor stopped.
        second(os.path.join(var_root, "c"), free_port(), redis, free_port(), "taken by another Redis")
        second(os.path.join(var_root, "d"), pg, free_port(), free_port(), "PostgreSQL did not start")
        time.sleep(0.5)
        assert first.ready()
    finally:
        first.ctrl_c()
    wait_until(lambda: not first.servers_running(), timeout=30, what="the first run's servers stopped")
