"""netns_host.py -- a host of its own for a test: run inside `unshare -rn` (a user and
network namespace; no root needed where unprivileged user namespaces are allowed),
it brings loopback up, gives it one more address that the SSRF guard takes for a
public one, starts small HTTP servers on it or on 127.0.0.1, and then runs a
command (a fetcher) in the same namespace until that ends or is sent SIGTERM.

    unshare -rn python3 netns_host.py SPEC.json

SPEC: {"addr": an address the guard takes for public, e.g. "1.2.3.4" (the namespace
               has no link out: nothing leaves it),
       "dir": a folder both sides see,
       "servers": {NAME: {"bind": ADDRESS, "port": PORT (any free one when left out),
                          "routes": {PATH: [STATUS, BODY or LOCATION]}}},
       "argv": [...]}
Each server answers a route's path with STATUS and BODY (3xx: BODY is the
Location), any other path with 200 "NAME", and appends every request it receives
("METHOD TARGET HOST") as one line to DIR/NAME.log. A server is also a forward
proxy as far as a test needs: it answers an absolute-form request line
("GET http://...") the same way. Once every server listens, DIR/ready.json holds
{NAME: port}. Exits with the command's exit code."""
import http.server
import json
import os
import signal
import socketserver
import subprocess
import sys
import threading


def serve(name, spec, folder):
    routes = spec.get("routes", {})
    log = open(os.path.join(folder, name + ".log"), "a", buffering=1)
    lock = threading.Lock()

    class H(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def do_GET(self):
            with lock:
                log.write("%s %s %s\n" % (self.command, self.path, self.headers.get("Host")))
            path = self.path
            if "://" in path:  # a proxy's request line
                path = "/" + path.split("://", 1)[1].partition("/")[2]
            status, arg = routes.get(path.partition("?")[0], [200, name])
            body = arg.encode() if status < 300 or status > 399 else b""
            self.send_response(status)
            if 300 <= status <= 399:
                self.send_header("Location", arg)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
        daemon_threads = True

    srv = S((spec["bind"], spec.get("port", 0)), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv.server_address[1]


def main():
    with open(sys.argv[1]) as f:
        spec = json.load(f)
    for cmd in (["ip", "link", "set", "lo", "up"], ["ip", "addr", "add", spec["addr"] + "/32", "dev", "lo"]):
        subprocess.run(cmd, check=True)
    ports = {name: serve(name, s, spec["dir"]) for name, s in spec["servers"].items()}
    tmp = os.path.join(spec["dir"], "ready.json.tmp")
    with open(tmp, "w") as f:
        json.dump(ports, f)
    os.rename(tmp, os.path.join(spec["dir"], "ready.json"))
    child = subprocess.Popen(spec["argv"])
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda s, _f: child.send_signal(s))
    sys.exit(child.wait())


if __name__ == "__main__":
    main()
