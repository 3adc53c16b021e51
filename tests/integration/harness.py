"""harness.py -- real processes for the integration suite: free ports, a private
redis-server, a MongoDB-wire server (MONGODB_URI, mongod, or FerretDB), the site
emulator, and the zcrawl stages. Everything started here is stopped at teardown,
also when a test fails or is interrupted."""
import collections
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.path.abspath(os.environ.get("ZCRAWL_BIN", os.path.join(ROOT, "bin")))
TOOLS = os.path.join(ROOT, ".tools", "bin")


def wait_for(cond, timeout, what, step=0.05, details=None):
    """Calls cond every step seconds until it returns something true, and returns
    that; fails the test after timeout seconds (with details(), when given, in the
    message: a log tail, the counters)."""
    end = time.time() + timeout
    while time.time() < end:
        v = cond()
        if v:
            return v
        time.sleep(step)
    v = cond()
    if v:
        return v
    raise AssertionError("timed out after %.0fs waiting for %s%s"
                         % (timeout, what, "" if details is None else "\n%s" % (details(),)))


def wait_exit(p, timeout=10.0):
    """The exit code of process p; fails the test when it still runs after timeout seconds."""
    try:
        return p.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        raise AssertionError("pid %d still running after %.0fs" % (p.pid, timeout))


def wait_log(procs, p, pattern, timeout=20):
    """Waits for a line of p's log (p started by procs) that matches the regular
    expression pattern; returns the match."""
    return wait_for(lambda: re.search(pattern, procs.log(p), re.M), timeout,
                    "a line like %r in the log of pid %d" % (pattern, p.pid),
                    details=lambda: procs.log(p)[-3000:])


def hdr(t):
    """Frame 0 of a zcrawl message of type t: b'ZC', version 1, the type."""
    return b"ZC\x01" + bytes([t])


def unpack(frames):
    """A zcrawl message as received (list of frames), in version 1's form: hdr(t)
    and the type's frames. Stages send version 2 (docs/PROTOCOL.md, "Framing"):
    the frames packed into frame 0 after its 4 header bytes, each a 4-byte
    big-endian length and its bytes, 0xffffffff for one that follows as a ZeroMQ
    frame of its own. Anything else comes back as it was."""
    head = frames[0] if frames else b""
    if len(head) < 4 or head[:3] != b"ZC\x02":
        return list(frames)
    out, off, rest = [hdr(head[3])], 4, list(frames[1:])
    while off < len(head):
        n = int.from_bytes(head[off:off + 4], "big")
        off += 4
        if n == 0xFFFFFFFF:
            out.append(rest.pop(0))
        else:
            out.append(head[off:off + n])
            off += n
    assert not rest, "a packed message with %d frames past its marks" % len(rest)
    return out


class ControlPeer:
    """A stage played by a test: one DEALER on the broker's control endpoint, with a
    stage's CURVE keys when curve is (server public key, own public key, own secret
    key), a routing id of its choosing when given, and HELLO only when role is.
    pump() answers nothing but HEARTBEATs (an attacker that keeps its connection
    alive); got holds (type, frames) of all it received."""

    HELLO, HEARTBEAT, JOB = 1, 2, 4

    def __init__(self, endpoint, role=None, name="attacker", credit=0, curve=None, routing_id=None):
        import zmq
        self.ctx = zmq.Context()
        self.s = self.ctx.socket(zmq.DEALER)
        self.s.setsockopt(zmq.LINGER, 0)
        self.s.setsockopt(zmq.SNDHWM, 0)
        if routing_id:
            self.s.setsockopt(zmq.ROUTING_ID, routing_id)
        if curve:
            self.s.curve_serverkey, self.s.curve_publickey, self.s.curve_secretkey = curve
        self.s.connect(endpoint)
        self.got = []
        if role:
            self.send(self.HELLO, role, name, credit)

    def send(self, t, *frames):
        self.s.send_multipart([hdr(t)] + [f if isinstance(f, bytes) else str(f).encode() for f in frames])

    def pump(self, seconds):
        """Reads what comes for seconds, answering nothing but HEARTBEATs."""
        end = time.time() + seconds
        while True:
            while self.s.poll(0):
                fr = unpack(self.s.recv_multipart())
                self.got.append((fr[0][3], fr[1:]))
            self.send(self.HEARTBEAT)
            left = end - time.time()
            if left <= 0:
                return
            self.s.poll(int(min(left, 0.1) * 1000))

    def jobs(self):
        """Every URL of every JOB received, in order."""
        return [u for t, f in self.got if t == self.JOB for u in f[0].decode().split("\n")]

    def close(self):
        self.s.close(0)
        self.ctx.term()


def assert_once(got, want):
    """got (ids, duplicates kept) holds every id of the set want exactly once, and nothing else."""
    counts = collections.Counter(got)
    dups = sorted(i for i, n in counts.items() if n > 1)
    assert not dups, "%d duplicated documents, e.g. %s" % (len(dups), dups[:10])
    missing = want - set(counts)
    assert not missing, "%d books missing, e.g. %s" % (len(missing), sorted(missing)[:10])
    extra = set(counts) - want
    assert not extra, "unexpected documents: %s" % sorted(extra)[:10]


def clean_env(**extra):
    """This process's environment without ZCRAWL_* and MONGODB_URI, plus extra."""
    e = {k: v for k, v in os.environ.items() if not k.startswith("ZCRAWL") and k != "MONGODB_URI"}
    e.update(extra)
    return e


def run(name, *args, env=None, timeout=30, cwd=None):
    """Runs bin_path(name) with args in a clean environment (plus env) to its end."""
    return subprocess.run([bin_path(name)] + list(args), capture_output=True, text=True, timeout=timeout,
                          env=clean_env(**(env or {})), cwd=cwd)


def mounted_tmpfs(path, size):
    """For a fixture (`yield from`): a tmpfs of size ("1m") mounted at path, a new
    folder, for the test. Skips without root or when the mount fails."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs for the full-disk test needs root")
    path.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=" + size, "tmpfs", str(path)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip("cannot mount a tmpfs for the full-disk test: %s" % r.stderr.strip())
    yield path
    subprocess.run(["umount", "-l", str(path)], capture_output=True)


def fill_fs(path, leave):
    """Fills the filesystem of path with a file at path, then frees `leave` bytes of it."""
    with open(path, "wb") as f:
        try:
            while True:
                f.write(b"\0" * 65536)
                f.flush()
        except OSError:
            pass
    os.truncate(path, max(0, os.path.getsize(path) - leave))


def bin_path(name):
    """Path of an executable built by make: bin_path('broker') -> bin/zcrawl-broker."""
    exe = "zcrawl" if name == "zcrawl" else "zcrawl-" + name
    return os.path.join(BIN, exe)


def _port_slice():
    """The ports free_port() picks from: 10000 up to 20000 (or the kernel's
    ephemeral range, when that starts lower), below the range a launcher under test
    picks its stages' ports from (20000 up to the ephemeral range, cli_free_port),
    so that the two never meet; a slice of its own for each pytest-xdist worker, so
    that parallel workers never pick the same port. None when that is too small."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            lo = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        lo = 32768
    top = min(20000, lo)
    try:
        n = max(1, int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")))
        i = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0")[2:]) % n
    except ValueError:
        n, i = 1, 0
    size = (top - 10000) // n
    if size < 500:
        return None
    return 10000 + i * size, 10000 + (i + 1) * size


_handed_out = set()


def free_port():
    """A free port on 127.0.0.1 below the kernel's ephemeral range: a port from
    bind(0) is ephemeral, and once closed any process's next connect() may take it
    as its local port before the server meant for it binds (seen: a MongoDB client
    connection holding a parser's port). Each xdist worker picks from a slice of
    its own (_port_slice), and never hands out a port twice (until half its slice
    is used). Free when picked, not reserved: whoever binds it later checks that it
    is the one listening (wait_port's proc, start_server)."""
    rng = _port_slice()
    for _ in range(200 if rng else 0):
        port = random.randrange(*rng)
        if port in _handed_out:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        if len(_handed_out) > (rng[1] - rng[0]) // 2:
            _handed_out.clear()
        _handed_out.add(port)
        return port
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _tcp_rows():
    """The rows of /proc/net/tcp and tcp6 (this network namespace), split."""
    rows = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                rows += [r.split() for r in f.read().splitlines()[1:]]
        except OSError:
            pass
    return [r for r in rows if len(r) > 9]


def _socket_inodes(pid):
    """Inodes of the sockets process pid holds open."""
    out = set()
    try:
        fds = os.listdir("/proc/%d/fd" % pid)
    except OSError:
        return out
    for fd in fds:
        try:
            link = os.readlink("/proc/%d/fd/%s" % (pid, fd))
        except OSError:
            continue
        if link.startswith("socket:["):
            out.add(link[8:-1])
    return out


def listens(pid, port):
    """True when process pid itself listens on TCP port."""
    inodes = {r[9] for r in _tcp_rows() if r[3] == "0A" and int(r[1].rsplit(":", 1)[1], 16) == port}
    return bool(inodes & _socket_inodes(pid)) if inodes else False


TCP_STATES = {"01": "ESTABLISHED", "02": "SYN_SENT", "03": "SYN_RECV", "04": "FIN_WAIT1", "05": "FIN_WAIT2",
              "06": "TIME_WAIT", "07": "CLOSE", "08": "CLOSE_WAIT", "09": "LAST_ACK", "0A": "LISTEN",
              "0B": "CLOSING"}


def tcp_conns(pid, remote_port):
    """(state, bytes received but not yet read) of each TCP socket of process pid
    connected to remote_port: what a process has left to read, or whether it still
    holds a connection, seen from outside it."""
    mine = _socket_inodes(pid)
    return [(TCP_STATES.get(r[3], r[3]), int(r[4].split(":")[1], 16)) for r in _tcp_rows()
            if r[9] in mine and int(r[2].rsplit(":", 1)[1], 16) == remote_port]


def wait_port(port, timeout=10.0, host="127.0.0.1", proc=None):
    """Waits until host:port accepts connections. With proc (a Popen), until that
    process itself listens on port: another one on the port (a parallel test's, or
    one that took it between free_port() and the bind) does not count. Returns True
    then; False at once when proc exits first (the caller may retry elsewhere)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc is not None:
            if proc.poll() is not None:
                return False
            if listens(proc.pid, port):
                return True
        else:
            try:
                with socket.create_connection((host, port), timeout=0.2):
                    return True
            except OSError:
                pass
        time.sleep(0.02)
    raise TimeoutError("nothing listens on %s:%d after %.0fs%s"
                       % (host, port, timeout, "" if proc is None else " (pid %d)" % proc.pid))


def start_server(procs, name, argv_for, timeout=10.0, tries=5):
    """procs.start(name, argv_for(port)) on a free port, again on another one while
    the process exits before it listens (a lost race for the port). Returns
    (port, Popen)."""
    for _ in range(tries):
        port = free_port()
        p = procs.start(name, argv_for(port))
        if wait_port(port, timeout, proc=p):
            return port, p
    raise AssertionError("%s could not listen on a free port in %d tries:\n%s"
                         % (name, tries, procs.log(p)[-2000:]))


class Procs:
    """Starts processes with their output in files, and stops them all at the end."""

    def __init__(self, logdir):
        self.logdir = logdir
        self.items = []  # (name, Popen, logpath)

    def start(self, name, argv, env=None, **kw):
        path = os.path.join(self.logdir, "%s-%d.log" % (name, len(self.items)))
        f = open(path, "wb")
        e = dict(os.environ)
        if name.startswith("fetcher"):
            # Every test site is on loopback (or a test network's private addresses),
            # which a fetcher refuses by default; a test of that refusal passes
            # env={"ZCRAWL_ALLOW_PRIVATE": "0"}.
            e.setdefault("ZCRAWL_ALLOW_PRIVATE", "1")
        if env:
            e.update(env)
        p = subprocess.Popen(argv, stdout=f, stderr=subprocess.STDOUT, env=e,
                             start_new_session=True, **kw)
        f.close()
        self.items.append((name, p, path))
        return p

    def log(self, p):
        for _, q, path in self.items:
            if q is p:
                with open(path, "rb") as f:
                    return f.read().decode("utf-8", "replace")
        return ""

    def kill9(self, p):
        if p.poll() is None:
            os.kill(p.pid, signal.SIGKILL)
            p.wait()

    def stop_all(self):
        for _, p, _ in reversed(self.items):
            if p.poll() is None:
                try:
                    p.terminate()
                except OSError:
                    pass
        deadline = time.time() + 5
        for _, p, _ in self.items:
            try:
                p.wait(timeout=max(0.1, deadline - time.time()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()

    @staticmethod
    def log_lines(path):
        """The lines of a process log, or None when it cannot be read."""
        try:
            with open(path, "rb") as f:
                return f.read().decode("utf-8", "replace").splitlines()
        except OSError:
            return None

    def dump_logs(self, tail=40):
        out = []
        for name, p, path in self.items:
            lines = self.log_lines(path)
            if lines is None:
                continue
            out.append("---- %s (pid %d, rc %s) %s" % (name, p.pid, p.poll(), path))
            out.extend(lines[-tail:])
        return "\n".join(out)


class Redis:
    """A private redis-server on a free port in its own folder."""

    def __init__(self, procs, appendonly=False, password=None):
        self.procs = procs
        self.dir = tempfile.mkdtemp(prefix="zc-redis-", dir=procs.logdir)
        self.port = free_port()
        self.appendonly = appendonly
        self.password = password
        self.proc = None
        self.start()

    @property
    def uri(self):
        """With the password when it has one (uri_nopw: without)."""
        if self.password:
            return "redis://:%s@127.0.0.1:%d" % (self.password, self.port)
        return self.uri_nopw

    @property
    def uri_nopw(self):
        return "redis://127.0.0.1:%d" % self.port

    def start(self):
        """Starts redis-server on self.port (a restart: the same port). A first start
        that loses the port to another process moves to another free one."""
        first = self.proc is None
        for _ in range(5 if first else 1):
            argv = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                    "--dir", self.dir, "--save", "", "--daemonize", "no",
                    "--appendonly", "yes" if self.appendonly else "no",
                    "--appendfsync", "everysec"]
            if self.password:
                # In a config file on stdin: a password given as a flag shows in ps.
                argv += ["-"]
            self.proc = self.procs.start("redis", argv, stdin=subprocess.PIPE if self.password else None)
            if self.password:
                self.proc.stdin.write(("requirepass %s\n" % self.password).encode())
                self.proc.stdin.close()
            if wait_port(self.port, proc=self.proc):
                break
            if first:
                self.port = free_port()
        else:
            raise RuntimeError("redis-server did not start:\n%s" % self.procs.log(self.proc)[-2000:])
        wait_for(lambda: self.cli("PING").strip() == "PONG", 10, "redis-server to answer PING")

    def stop(self, kill=False):
        if kill:
            self.procs.kill9(self.proc)
        else:
            self.proc.terminate()
            self.proc.wait(timeout=10)

    def cli(self, *args):
        env = dict(os.environ, REDISCLI_AUTH=self.password) if self.password else None
        r = subprocess.run(["redis-cli", "-p", str(self.port), "--raw"] + list(args),
                           capture_output=True, text=True, timeout=30, env=env)
        return r.stdout

    def int(self, *args):
        """A command's integer reply; a missing key (nil, an empty line) is 0."""
        return int(self.cli(*args).strip() or 0)

    def hgetall(self, key):
        out = self.cli("HGETALL", key).splitlines()
        return dict(zip(out[0::2], out[1::2]))

    def lrange(self, key):
        return [x for x in self.cli("LRANGE", key, "0", "-1").splitlines() if x]


def ferretdb_path():
    p = os.path.join(TOOLS, "ferretdb")
    return p if os.access(p, os.X_OK) else shutil.which("ferretdb")


class Mongo:
    """The MongoDB-wire server of this run: MONGODB_URI, else mongod on PATH, else
    FerretDB (SQLite backend). `why_missing` says why none could be had."""

    def __init__(self, procs):
        self.procs = procs
        self.uri = None
        self.kind = None
        self.why_missing = None
        self.proc = None
        self.port = None
        self.dir = None
        if os.environ.get("MONGODB_URI"):
            self.uri, self.kind = os.environ["MONGODB_URI"], "MONGODB_URI"
            return
        if shutil.which("mongod"):
            self.kind = "mongod"
        elif ferretdb_path():
            self.kind = "ferretdb"
        else:
            self.why_missing = ("no MongoDB server: MONGODB_URI unset, no mongod on PATH, "
                                "and no FerretDB in .tools/bin (make deps installs it when Go is available)")
            return
        self.dir = tempfile.mkdtemp(prefix="zc-mongo-", dir=procs.logdir)
        for _ in range(5):  # a port lost to another process: another one
            self.port = free_port()
            self.uri = "mongodb://127.0.0.1:%d/" % self.port
            if self._start():
                return
        raise RuntimeError("%s did not start:\n%s" % (self.kind, self.procs.log(self.proc)[-2000:]))

    def start(self):
        if not self._start():
            raise RuntimeError("%s did not start:\n%s" % (self.kind, self.procs.log(self.proc)[-2000:]))

    def _start(self):
        """Starts the server on self.port; False when it exits before it listens."""
        if self.kind == "mongod":
            argv = ["mongod", "--port", str(self.port), "--bind_ip", "127.0.0.1",
                    "--dbpath", self.dir]
        else:
            argv = [ferretdb_path(), "--handler=sqlite", "--sqlite-url=file:%s/" % self.dir,
                    "--state-dir=%s" % self.dir, "--listen-addr=127.0.0.1:%d" % self.port,
                    "--debug-addr=-", "--telemetry=disable", "--log-level=warn"]
        self.proc = self.procs.start(self.kind, argv)
        return wait_port(self.port, timeout=30, proc=self.proc)

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)

    def restartable(self):
        return self.proc is not None


class Sitesim:
    """bin/zcrawl-sitesim on a free port."""

    def __init__(self, procs, *args):
        self.port, self.proc = start_server(procs, "sitesim",
                                            lambda port: [bin_path("sitesim"), "--port", str(port)] + list(args))
        self.base = "http://127.0.0.1:%d" % self.port

    @property
    def start_url(self):
        return self.base + "/api/book/?limit=18&offset=0"

    def get(self, path, timeout=10):
        with urllib.request.urlopen(self.base + path, timeout=timeout) as r:
            return r.status, r.read()

    def json(self, path):
        return json.loads(self.get(path)[1])

    def stats(self):
        return self.json("/__stats")

    def ids(self):
        return self.json("/__ids")


class Pipeline:
    """A crawl built stage by stage, so tests can start, kill and restart each one.
    The broker binds five free loopback ports; stages connect to them. A --lease-ms
    in broker_args goes to parsers and writers too (as `zcrawl run` does), before
    their own flags, which may say otherwise."""

    def __init__(self, procs, redis, start_url, crawl="t", broker_args=(), log_level="info"):
        self.procs = procs
        self.redis = redis
        self.crawl = crawl
        self.start_url = start_url
        self.broker_args = list(broker_args)
        a = self.broker_args
        self.stage_lease = (["--lease-ms", a[a.index("--lease-ms") + 1]]
                            if "--lease-ms" in a[:-1] else [])
        self.log_level = log_level
        self.pick_endpoints()
        self.broker = None
        self.t_start = None
        self.stages_started = False

    def pick_endpoints(self):
        p = [free_port() for _ in range(5)]
        self.ep = {k: "tcp://127.0.0.1:%d" % v for k, v in
                   zip(["control", "pages_in", "pages_out", "docs_in", "docs_out"], p)}

    def _broker_bound(self, timeout=10.0):
        """False when the broker died of a port that free_port() found free and
        something else took before the broker bound it (an outgoing connection's
        ephemeral port, say); True once it says it started (it binds every endpoint
        first), or, below info level, listens on its last endpoint; True as well
        when it ended for any other reason (the test judges that)."""
        port = int(self.ep["docs_out"].rsplit(":", 1)[1])
        says_started = self.log_level in ("debug", "info")
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.broker.poll() is not None:
                return "Address already in use" not in self.procs.log(self.broker)
            if says_started:
                if "event=started " in self.procs.log(self.broker):
                    return True
            else:
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                        return True
                except OSError:
                    pass
            time.sleep(0.02)
        return True

    def start_broker(self, *extra, seed=True):
        for _ in range(5):
            argv = [bin_path("broker"), "--redis", self.redis.uri, "--crawl", self.crawl,
                    "--control", self.ep["control"], "--pages-in", self.ep["pages_in"],
                    "--pages-out", self.ep["pages_out"], "--docs-in", self.ep["docs_in"],
                    "--docs-out", self.ep["docs_out"], "--log-level", self.log_level]
            argv += self.broker_args + list(extra)
            if seed and self.start_url:
                argv.append(self.start_url)
            if self.t_start is None:
                self.t_start = time.time()
            self.broker = self.procs.start("broker", argv)
            # Once stages are connected the endpoints stay (a restarted broker must
            # bind the same ones); before that, a lost port race picks new ones.
            if self.stages_started or self._broker_bound():
                return self.broker
            self.pick_endpoints()
        raise AssertionError("the broker could not bind free ports 5 times:\n%s" % self.procs.log(self.broker))

    def start_fetcher(self, *extra):
        self.stages_started = True
        return self.procs.start("fetcher", [bin_path("fetcher"), "--broker", self.ep["control"],
                                            "--pages", self.ep["pages_in"], "--log-level", self.log_level]
                                + list(extra))

    def start_parser(self, *extra):
        self.stages_started = True
        return self.procs.start("parser", [bin_path("parser"), "--broker", self.ep["control"],
                                           "--pages", self.ep["pages_out"], "--docs", self.ep["docs_in"],
                                           "--log-level", self.log_level] + self.stage_lease + list(extra))

    def start_writer(self, mongo=None, out=None, *extra):
        self.stages_started = True
        argv = [bin_path("writer"), "--broker", self.ep["control"], "--docs", self.ep["docs_out"],
                "--log-level", self.log_level] + self.stage_lease
        if mongo:
            argv += ["--mongo", mongo]
        if out:
            argv += ["--out", out]
        return self.procs.start("writer", argv + list(extra))

    def start_all(self, fetchers=2, parsers=1, writers=1, mongo=None, out=None, fetcher_args=()):
        self.start_broker()
        for _ in range(writers):
            self.start_writer(mongo, out)
        for _ in range(parsers):
            self.start_parser()
        for _ in range(fetchers):
            self.start_fetcher(*fetcher_args)

    def key(self, name):
        return "zcrawl:{%s}:%s" % (self.crawl, name)

    def stats(self):
        return self.redis.hgetall(self.key("stats"))

    def dead(self):
        return [json.loads(x) for x in self.redis.lrange(self.key("dead"))]

    def wait_done(self, timeout=120, want_rc=0):
        """Waits for the broker to end the crawl (exit want_rc: 0 complete, 1
        complete with dead letters). Returns the wall time since the broker first
        started."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            rc = self.broker.poll()
            if rc is not None:
                if rc != want_rc:
                    raise AssertionError("broker exited %d:\n%s" % (rc, self.procs.dump_logs()))
                return time.time() - self.t_start
            time.sleep(0.05)
        raise AssertionError("crawl not done after %ds; stats %s\n%s"
                             % (timeout, self.stats(), self.procs.dump_logs()))

    def wait_stat(self, field, at_least, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if int(self.stats().get(field, "0")) >= at_least:
                return
            time.sleep(0.05)
        raise AssertionError("stats %s never reached %d: %s" % (field, at_least, self.stats()))

    def wait_stats_written(self, after=None, timeout=30):
        """Waits for a stats write (the hash's updated_at, the broker's wall clock)
        later than after (seconds since the epoch; default now), and returns the
        hash: it holds what the broker had counted by then."""
        t = int((time.time() if after is None else after) * 1000)

        def written():
            st = self.stats()
            return st if int(st.get("updated_at", "0") or 0) > t else None
        return wait_for(written, timeout, "a stats write of the broker", details=self.stats)


def jsonl_ids(path):
    """ids of the documents in a JSON Lines file, as a list (duplicates kept)."""
    ids = []
    with open(path, "rb") as f:
        for line in f:
            line = line.strip()
            if line:
                ids.append(json.loads(line)["_id"])
    return ids


def whole_lines_ids(data):
    """The ids of a JSON Lines file's bytes, duplicates kept; fails on a cut line
    (one that is no JSON document) or a last line without its newline."""
    assert data == b"" or data.endswith(b"\n"), "the file ends in a cut line: %r" % data[-80:]
    ids = []
    for i, line in enumerate(data.split(b"\n")[:-1]):
        try:
            ids.append(json.loads(line)["_id"])
        except ValueError:
            raise AssertionError("line %d is cut or not JSON: %r" % (i, line[:100]))
    return ids


def mongo_ids(uri, db="zcrawl", coll="books"):
    import pymongo
    c = pymongo.MongoClient(uri, serverSelectionTimeoutMS=5000)
    try:
        return [d["_id"] for d in c[db][coll].find({}, {"_id": 1})]
    finally:
        c.close()


def mongo_docs(uri, ids, db="zcrawl", coll="books"):
    import pymongo
    c = pymongo.MongoClient(uri, serverSelectionTimeoutMS=5000)
    try:
        return {d["_id"]: d for d in c[db][coll].find({"_id": {"$in": list(ids)}})}
    finally:
        c.close()


SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                     "ERROR: UndefinedBehaviorSanitizer")


def sanitizer_reports(procs, max_lines=60):
    """Sanitizer reports that processes of procs printed into their logs (ASan,
    LSan, UBSan; the stages' stderr is in the log), as a list of strings, one per
    report: "name pid=N rc=R log=PATH" and the report up to its SUMMARY line (at
    most max_lines). Empty when there are none. Call it after procs.stop_all(), so
    LeakSanitizer has run at exit. Reports only land in the logs when
    ASAN_OPTIONS/UBSAN_OPTIONS set no log_path."""
    out = []
    for name, p, path in procs.items:
        lines = Procs.log_lines(path)
        if lines is None:
            continue
        i = 0
        while i < len(lines):
            if any(m in lines[i] for m in SANITIZER_MARKERS):
                j = i
                while j < len(lines) and j - i < max_lines and not lines[j].startswith("SUMMARY: "):
                    j += 1
                body = lines[i:j + 1]
                out.append("%s pid=%d rc=%s log=%s\n%s" % (name, p.pid, p.poll(), path, "\n".join(body)))
                i = j + 1
            else:
                i += 1
    return out


class FakeBroker:
    """Python in the broker's seat for one stage under test: a ROUTER the stage's
    DEALER connects to (HEARTBEAT every hb_ms to every peer that spoke), plus bound
    PUSH/PULL sockets made with bind(). Everything received is kept, in order:
    `control` holds (type, [frames]) from the ROUTER, `pulled[name]` the raw frame
    lists of each PULL socket. Frame 0 of a message here is b'ZC' + bytes([1, type]):
    what stages send packed (version 2) is unpacked first (unpack())."""

    def __init__(self, hb_ms=200):
        import zmq
        self.zmq = zmq
        self.ctx = zmq.Context()
        self.router = self.ctx.socket(zmq.ROUTER)
        self.router.setsockopt(zmq.LINGER, 0)
        self.control_ep = "tcp://127.0.0.1:%d" % self.router.bind_to_random_port("tcp://127.0.0.1")
        self.hb = hb_ms / 1000.0
        self.idents = []
        self.control = []
        self.pulls = {}
        self.pulled = {}
        self.pushes = {}
        self.last_hb = 0.0

    def bind(self, name, kind):
        """Binds a PUSH or PULL socket (kind "push"/"pull") and returns its endpoint."""
        zmq = self.zmq
        s = self.ctx.socket(zmq.PUSH if kind == "push" else zmq.PULL)
        s.setsockopt(zmq.LINGER, 0)
        if kind == "push":
            s.setsockopt(zmq.SNDTIMEO, 10000)
            self.pushes[name] = s
        else:
            self.pulls[name] = s
            self.pulled[name] = []
        return "tcp://127.0.0.1:%d" % s.bind_to_random_port("tcp://127.0.0.1")

    def push(self, name, frames):
        self.pushes[name].send_multipart(frames)

    def to_stage(self, frames):
        """Sends frames (header first) to every stage that spoke on the control socket."""
        for ident in self.idents:
            self.router.send_multipart([ident] + list(frames))

    def pump(self, seconds):
        zmq = self.zmq
        end = time.time() + seconds
        poller = zmq.Poller()
        poller.register(self.router, zmq.POLLIN)
        for s in self.pulls.values():
            poller.register(s, zmq.POLLIN)
        while True:
            now = time.time()
            if now - self.last_hb >= self.hb:
                self.to_stage([b"ZC\x01\x02"])
                self.last_hb = now
            left = end - now
            if left <= 0:
                return
            for sock, _ in poller.poll(max(1, int(min(left, self.hb) * 1000))):
                while True:
                    try:
                        fr = sock.recv_multipart(zmq.NOBLOCK)
                    except zmq.Again:
                        break
                    fr = [fr[0]] + unpack(fr[1:]) if sock is self.router else unpack(fr)
                    if sock is self.router:
                        if fr[0] not in self.idents:
                            self.idents.append(fr[0])
                        head = fr[1] if len(fr) > 1 else b""
                        t = head[3] if len(head) == 4 and head[:3] == b"ZC\x01" else -1
                        self.control.append((t, fr[2:]))
                    else:
                        name = [k for k, v in self.pulls.items() if v is sock][0]
                        self.pulled[name].append(fr)

    def of_type(self, t):
        """Payload frame lists of the control messages of type t."""
        return [f for (tt, f) in self.control if tt == t]

    def wait(self, cond, timeout, what):
        end = time.time() + timeout
        while True:
            if cond():
                return
            if time.time() >= end:
                raise AssertionError("timed out after %.0fs waiting for %s" % (timeout, what))
            self.pump(0.05)

    def close(self):
        for s in list(self.pulls.values()) + list(self.pushes.values()) + [self.router]:
            s.close(0)
        self.ctx.term()
