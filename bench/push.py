#!/usr/bin/env python3
"""bench/push.py PORT MIB: send MIB MiB to 127.0.0.1:PORT, half-close, wait
for the server's EOF (so every byte went through), exit 0. For the publish
scenario of bench/run.sh."""
import socket
import sys

port, mib = int(sys.argv[1]), int(sys.argv[2])
buf = b"\0" * (1 << 20)
s = socket.create_connection(("127.0.0.1", port), timeout=60)
for _ in range(mib):
    s.sendall(buf)
s.shutdown(socket.SHUT_WR)
while s.recv(65536):
    pass
s.close()
