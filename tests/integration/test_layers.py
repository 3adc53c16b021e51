"""test_layers.py -- the C files call each other one way only: scripts/layers.py
reads the call graph between the object files of the build under test and fails
on a circle of files or a call that does not go down the declared layers."""
import os
import subprocess
import sys

from harness import BIN, ROOT

SCRIPT = os.path.join(ROOT, "scripts", "layers.py")


def build_dir():
    """The objects of the executables under test: build/asan/ beside
    build/asan/bin, else build/."""
    up = os.path.dirname(BIN)
    return up if os.path.exists(os.path.join(up, "broker", "main.o")) else os.path.join(ROOT, "build")


def run(build):
    return subprocess.run([sys.executable, SCRIPT, build], capture_output=True, text=True, timeout=120)


def test_no_circle_and_every_call_goes_down():
    r = run(build_dir())
    assert r.returncode == 0, r.stdout + r.stderr
    assert "total: 0 circles" in r.stdout, r.stdout
    assert "broker" in r.stdout and "lib" in r.stdout, r.stdout


def test_a_circle_fails(tmp_path):
    """Two broker files that call each other, and a call sideways in lib: the
    script names both and fails."""
    for folder, files in {
        "broker": {"main.c": "void jobs_f(void);\nvoid main_f(void) { jobs_f(); }\n",
                   "jobs.c": "void maintain_f(void);\nvoid jobs_f(void) { maintain_f(); }\n",
                   "maintain.c": "void jobs_f(void);\nvoid maintain_f(void) { jobs_f(); }\n"},
        "lib": {"zc_url.c": "void zc_log_f(void);\nvoid zc_url_f(void) { zc_log_f(); }\n",
                "zc_log.c": "void zc_log_f(void) {}\n"},
    }.items():
        d = tmp_path / folder
        d.mkdir()
        for name, text in files.items():
            (d / name).write_text(text)
            subprocess.run(["cc", "-c", "-o", str(d / name.replace(".c", ".o")), str(d / name)], check=True)
    r = run(str(tmp_path))
    assert r.returncode != 0, r.stdout
    assert "circle: jobs maintain" in r.stdout, r.stdout
    assert "broker/jobs.c calls maintain.c, beside it" in r.stdout, r.stdout
    assert "lib/zc_url.c calls zc_log.c, beside it" in r.stdout, r.stdout
