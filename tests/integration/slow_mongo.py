"""slow_mongo.py -- a TCP proxy in front of a MongoDB-wire server, for the writer's
tests: it forwards every message as it is, but holds each write command (insert,
update, delete) for `delay` seconds first, the way a large collection or a slow
network makes a real MongoDB slow. With chunk_delay it plays a slow link instead:
everything the client sends is forwarded 4 KiB at a time, each chunk held
chunk_delay seconds, so a large bulk takes long in proportion to its size, and the
server receives the whole of it even when the client has given up waiting. It can
also be cut (every connection closed, new ones refused) and restored, to play a
MongoDB that is down."""
import socket
import struct
import threading
import time

OP_MSG = 2013
OP_QUERY = 2004
WRITES = (b"insert", b"update", b"delete")


def command_name(body, opcode):
    """The first key of an OP_MSG's body document (the command), or b""."""
    try:
        if opcode != OP_MSG or len(body) < 10 or body[4] != 0:
            return b""
        doc = body[5:]
        # int32 length, then the first element: type byte, key as a C string
        end = doc.index(b"\x00", 5)
        return doc[5:end]
    except (ValueError, IndexError):
        return b""


def recv_exact(sock, n):
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("closed")
        buf += chunk
    return bytes(buf)


class SlowMongoProxy:
    CHUNK = 4096

    def __init__(self, target_port, delay=2.0, host="127.0.0.1", chunk_delay=0.0):
        self.target = (host, target_port)
        self.delay = delay
        self.chunk_delay = chunk_delay
        self.writes = 0          # write commands forwarded
        self.delayed_s = 0.0     # seconds of delay added in total
        self.cut_ = False
        self.conns = []
        self.lock = threading.Lock()
        self.closed = False
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # Port 0: held as long as the proxy lives, so no connect() can take it.
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    @property
    def uri(self):
        return "mongodb://127.0.0.1:%d/" % self.port

    def _accept(self):
        while not self.closed:
            try:
                c, _ = self.listener.accept()
            except OSError:
                return
            if self.cut_:
                c.close()
                continue
            try:
                u = socket.create_connection(self.target, timeout=10)
                u.settimeout(None)
            except OSError:
                c.close()
                continue
            with self.lock:
                self.conns += [c, u]
            threading.Thread(target=self._upstream, args=(c, u), daemon=True).start()
            threading.Thread(target=self._downstream, args=(u, c), daemon=True).start()

    def _upstream(self, c, u):
        """Client to server, one whole wire message at a time (or, with
        chunk_delay, one chunk at a time)."""
        try:
            while self.chunk_delay > 0:
                data = c.recv(self.CHUNK)
                if not data:
                    return
                time.sleep(self.chunk_delay)
                self.delayed_s += self.chunk_delay
                u.sendall(data)
            while True:
                head = recv_exact(c, 16)
                length, _, _, opcode = struct.unpack("<iiii", head)
                if length < 16 or length > 64 << 20:
                    raise ConnectionError("bad length")
                body = recv_exact(c, length - 16)
                if command_name(body, opcode) in WRITES:
                    self.writes += 1
                    if self.delay > 0:
                        time.sleep(self.delay)
                        self.delayed_s += self.delay
                u.sendall(head + body)
        except (OSError, ConnectionError):
            pass
        finally:
            self._close(c, u)

    def _downstream(self, u, c):
        try:
            while True:
                data = u.recv(65536)
                if not data:
                    break
                c.sendall(data)
        except OSError:
            pass
        finally:
            self._close(c, u)

    def _close(self, *socks):
        for s in socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            try:
                s.close()
            except OSError:
                pass

    def cut(self):
        """MongoDB 'down': closes every connection and refuses new ones."""
        self.cut_ = True
        with self.lock:
            conns, self.conns = self.conns, []
        self._close(*conns)

    def restore(self):
        self.cut_ = False

    def close(self):
        self.closed = True
        self.cut()
        try:
            self.listener.close()
        except OSError:
            pass
