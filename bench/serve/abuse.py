#!/usr/bin/env python3
"""Connections a soak needs beside wrk's well-formed ones: slow clients and bodies cut short.

  slow:      SLOW connections at a time, each sending a request's headers one byte a second and
             holding on until the server closes it or HOLD seconds pass (then the client closes);
  truncated: a request whose Content-Length promises more than it sends, then the socket is closed;
  reset:     connect and close at once, and connect then send half a request line.
Runs for SECONDS, prints one JSON summary line (ABUSE_JSON ...). Standard library only.
usage: abuse.py PORT KEY SECONDS [SLOW] [HOLD]
"""
import json
import socket
import sys
import threading
import time

port, key, seconds = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])
slow_count = int(sys.argv[4]) if len(sys.argv) > 4 else 20
hold = float(sys.argv[5]) if len(sys.argv) > 5 else 120.0
deadline = time.monotonic() + seconds
lock = threading.Lock()
stats = {"slow_opened": 0, "slow_closed_by_server": 0, "slow_closed_by_client": 0, "slow_longest_open_s": 0.0,
         "truncated_sent": 0, "truncated_answered": 0, "resets": 0, "connect_errors": 0}


def bump(name, by=1):
    with lock:
        stats[name] += by


def connect():
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def slow_client():
    head = (f"POST /api/v1/products/bottle/inspect HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: Bearer {key}\r\nContent-Type: image/png\r\nContent-Length: 100\r\n").encode()
    while time.monotonic() < deadline:
        try:
            s = connect()
        except OSError:
            bump("connect_errors"); time.sleep(1); continue
        bump("slow_opened")
        opened = time.monotonic()
        closed_by_server = False
        i = 0
        while time.monotonic() - opened < hold and time.monotonic() < deadline:
            try:
                s.send(head[i % len(head):i % len(head) + 1])
                i += 1
                s.settimeout(1.0)
                try:
                    if s.recv(4096) == b"":
                        closed_by_server = True
                        break
                except socket.timeout:
                    pass
            except OSError:
                closed_by_server = True
                break
        s.close()
        with lock:
            stats["slow_longest_open_s"] = max(stats["slow_longest_open_s"], round(time.monotonic() - opened, 1))
            stats["slow_closed_by_server" if closed_by_server else "slow_closed_by_client"] += 1


def truncated_client():
    while time.monotonic() < deadline:
        try:
            s = connect()
            s.sendall((f"POST /api/v1/products/bottle/inspect HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                       f"Authorization: Bearer {key}\r\nContent-Type: image/png\r\nContent-Length: 200000\r\n\r\n").encode()
                      + b"\x89PNG\r\n\x1a\n" + b"\0" * 5000)
            bump("truncated_sent")
            s.shutdown(socket.SHUT_WR)
            s.settimeout(5)
            try:
                if s.recv(4096):
                    bump("truncated_answered")
            except OSError:
                pass
            s.close()
        except OSError:
            bump("connect_errors")
        time.sleep(0.2)


def reset_client():
    while time.monotonic() < deadline:
        try:
            s = connect(); s.close()
            s = connect(); s.sendall(b"POST /api/v1/pro"); s.close()
            bump("resets", 2)
        except OSError:
            bump("connect_errors")
        time.sleep(0.2)


threads = [threading.Thread(target=slow_client) for _ in range(slow_count)]
threads += [threading.Thread(target=truncated_client), threading.Thread(target=reset_client)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print("ABUSE_JSON " + json.dumps(stats), flush=True)
