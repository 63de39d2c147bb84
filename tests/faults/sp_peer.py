#!/usr/bin/env python3
"""A hostile IPC peer for the fault scenarios (tests/faults/f_*.sh).

Speaks the SP-over-IPC framing of nng 1.5.2 by hand, so that it can also
break it: after connect each side sends an 8-byte header
00 'S' 'P' 00 <protocol, 16-bit big endian> 00 00 (bus0 is 0x0070), then
every message is 01 <length, 64-bit big endian> <payload>. bus0 adds no
header of its own to the payload.

    sp_peer.py dial PATH STEP...     connect to a listener (the control plane)
    sp_peer.py listen PATH STEP...   be the listener (for the data plane);
                                     steps run once per accepted connection,
                                     ROUNDS times (--rounds N, default 1)

Steps (run in order on one connection):
    hs              send a valid bus0 header and read the peer's
    hs:N            send a header with protocol N (e.g. 16 = pair0)
    junk:N          N random bytes, no framing at all
    frame:TEXT      one message with TEXT as its payload
    file:PATH       one message with the file's bytes as its payload
    big:N           one message of N bytes (JSON-looking filler)
    lie:N           a frame header claiming N bytes, then 100 bytes, then
                    nothing more
    trunc:TEXT      a frame header for TEXT and half of TEXT
    sleep:S         wait S seconds (reading and discarding what comes)
    read:S          read messages for up to S seconds; each one printed to
                    stdout as a line (the data plane's reports)
    close           close the connection (also done after the last step)

Prints "ok" lines on stderr as it goes; exits 0 when every step ran, 1 when
the peer closed before a step that writes needed it (that is expected for
some steps: each step's outcome is printed, the scenario judges).
"""
import os
import random
import select
import socket
import struct
import sys
import time

BUS0 = 0x70


def header(proto):
    return b"\x00SP\x00" + struct.pack(">H", proto) + b"\x00\x00"


def frame(payload):
    return b"\x01" + struct.pack(">Q", len(payload)) + payload


def say(*a):
    print("sp_peer:", *a, file=sys.stderr, flush=True)


class Conn:
    def __init__(self, sock):
        self.s = sock
        self.buf = b""
        self.s.setblocking(True)

    def send(self, data):
        try:
            self.s.sendall(data)
            return True
        except OSError as e:
            say("send failed:", e)
            return False

    def pump(self, seconds, out=None):
        """Reads for seconds; complete frames go to out (a list)."""
        end = time.monotonic() + seconds
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return True
            r, _, _ = select.select([self.s], [], [], left)
            if not r:
                continue
            try:
                data = self.s.recv(1 << 16)
            except OSError as e:
                say("recv failed:", e)
                return False
            if not data:
                say("peer closed")
                return False
            self.buf += data
            self.frames(out)

    def frames(self, out):
        # the peer's 8-byte header first
        if not hasattr(self, "hdr"):
            if len(self.buf) < 8:
                return
            self.hdr, self.buf = self.buf[:8], self.buf[8:]
        while len(self.buf) >= 9:
            n = struct.unpack(">Q", self.buf[1:9])[0]
            if len(self.buf) < 9 + n:
                return
            payload, self.buf = self.buf[9:9 + n], self.buf[9 + n:]
            if out is not None:
                out.append(payload)


def run_steps(conn, steps):
    ok = True
    for st in steps:
        kind, _, arg = st.partition(":")
        if kind == "hs":
            proto = int(arg) if arg else BUS0
            ok = conn.send(header(proto))
            if ok:
                conn.pump(0.2)
        elif kind == "junk":
            ok = conn.send(os.urandom(int(arg)))
        elif kind == "frame":
            ok = conn.send(frame(arg.encode()))
        elif kind == "file":
            with open(arg, "rb") as f:
                ok = conn.send(frame(f.read()))
        elif kind == "big":
            n = int(arg)
            body = b'{"v":1,"type":"report","pad":"' + b"x" * n + b'"}'
            ok = conn.send(frame(body[:n]))
        elif kind == "lie":
            ok = conn.send(b"\x01" + struct.pack(">Q", int(arg)) +
                           b"{" * 100)
        elif kind == "trunc":
            p = arg.encode()
            ok = conn.send(b"\x01" + struct.pack(">Q", len(p)) +
                           p[:len(p) // 2])
        elif kind == "sleep":
            ok = conn.pump(float(arg))
        elif kind == "read":
            out = []
            ok = conn.pump(float(arg), out)
            for p in out:
                sys.stdout.write(p.decode("utf-8", "replace") + "\n")
            sys.stdout.flush()
        elif kind == "close":
            break
        else:
            say("unknown step", st)
            sys.exit(2)
        say("%s -> %s" % (st[:40], "ok" if ok else "peer gone"))
        if not ok:
            break
    try:
        conn.s.close()
    except OSError:
        pass
    return ok


def main():
    args = sys.argv[1:]
    rounds = 1
    if len(args) >= 2 and args[0] == "--rounds":
        rounds = int(args[1])
        args = args[2:]
    if len(args) < 2 or args[0] not in ("dial", "listen"):
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    mode, path, steps = args[0], args[1], args[2:]
    random.seed()
    allok = True
    if mode == "dial":
        for _ in range(rounds):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(path)
            allok = run_steps(Conn(s), steps) and allok
    else:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        ls = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        ls.bind(path)
        os.chmod(path, 0o600)
        ls.listen(16)
        say("listening on", path)
        for _ in range(rounds):
            r, _, _ = select.select([ls], [], [], 20)
            if not r:
                say("nobody connected within 20 s")
                sys.exit(3)
            s, _ = ls.accept()
            say("accepted a connection")
            allok = run_steps(Conn(s), steps) and allok
        ls.close()
        os.unlink(path)
    sys.exit(0 if allok else 1)


if __name__ == "__main__":
    main()
