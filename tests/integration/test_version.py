"""--version on every executable: "PROG VERSION", exit 0, where VERSION is the
`git describe --always --dirty` of the tree the binaries were built from (the
Makefile writes it into one generated header), or "unknown" outside a git checkout."""
import os
import subprocess

import pytest

from harness import ROOT, bin_path

NAMES = ["zcrawl", "broker", "fetcher", "parser", "writer", "sitesim"]


def expected_version():
    if not os.path.exists(os.path.join(ROOT, ".git")):
        return "unknown"
    r = subprocess.run(["git", "-c", "safe.directory=*", "-C", ROOT, "describe", "--always", "--dirty"],
                       capture_output=True, text=True, timeout=30)
    return r.stdout.strip() if r.returncode == 0 and r.stdout.strip() else "unknown"


def prog(name):
    return "zcrawl" if name == "zcrawl" else "zcrawl-" + name


@pytest.mark.parametrize("name", NAMES)
def test_version_flag(name):
    want = expected_version()
    r = subprocess.run([bin_path(name), "--version"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""
    assert r.stdout == "%s %s\n" % (prog(name), want), \
        "binary reports %r, the tree is %r (rebuild with make?)" % (r.stdout, want)


@pytest.mark.parametrize("name", NAMES)
def test_help_lists_version(name):
    r = subprocess.run([bin_path(name), "--help"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert any(line.split()[:1] == ["--version"] for line in r.stdout.splitlines()), r.stdout


def test_version_after_launcher_command():
    # The launcher's subcommands parse their flags with the same table parser.
    r = subprocess.run([bin_path("zcrawl"), "run", "--version"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "zcrawl %s\n" % expected_version()


def test_version_beats_nothing_else():
    # A bad flag before --version is still a usage error: flags are read in order.
    r = subprocess.run([bin_path("fetcher"), "--no-such-flag", "--version"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 2
    assert r.stderr.startswith("zcrawl-fetcher: error: unknown flag '--no-such-flag'")
