"""Runs the C unit tests (TAP programs built by meson) as part of the
pytest run, so that one runner reports the whole suite."""

import glob
import os
import re
import shutil
import subprocess

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.environ.get("ROSTER_BUILD_DIR", os.path.join(REPO, "build"))
BINARIES = sorted(p for p in glob.glob(os.path.join(BUILD, "tests", "unit", "test_*"))
                  if os.path.isfile(p) and os.access(p, os.X_OK))


def test_unit_programs_are_built():
    assert BINARIES, f"no unit test programs in {BUILD}/tests/unit: build first"


@pytest.mark.parametrize("program", BINARIES, ids=os.path.basename)
def test_unit_program(program):
    out = subprocess.run([program], capture_output=True, text=True, timeout=300)
    lines = out.stdout.splitlines()
    plan = [l for l in lines if re.match(r"^1\.\.\d+", l)]
    oks = [l for l in lines if l.startswith("ok ")]
    failed = [l for l in lines if l.startswith("not ok ")]
    assert plan, f"no TAP plan:\n{out.stdout}\n{out.stderr}"
    planned = int(plan[-1].split("..")[1].split()[0])
    assert not failed, "\n".join(failed) + "\n" + out.stdout[-4000:] + out.stderr[-2000:]
    assert len(oks) == planned, f"planned {planned}, passed {len(oks)}\n{out.stderr[-2000:]}"
    assert out.returncode == 0, out.stderr[-2000:]


def sanitized(program):
    """Built with AddressSanitizer, which valgrind cannot run."""
    out = subprocess.run(["ldd", program], capture_output=True, text=True)
    return "libasan" in out.stdout


VALGRIND = shutil.which("valgrind")


@pytest.mark.parametrize("program", BINARIES, ids=os.path.basename)
def test_unit_program_under_valgrind(program):
    """The same programs under valgrind, as `meson test --suite valgrind`
    runs them: a memory error or a definite leak fails."""
    if sanitized(program):
        pytest.skip("an AddressSanitizer build: scripts/test --sanitize checks memory its own way")
    assert VALGRIND, "valgrind is needed (scripts/test installs it)"
    out = subprocess.run([VALGRIND, "--quiet", "--error-exitcode=99", "--leak-check=full",
                          "--errors-for-leak-kinds=definite", program], capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, f"exit {out.returncode}\n{out.stderr[-6000:]}"
    assert "not ok" not in out.stdout
