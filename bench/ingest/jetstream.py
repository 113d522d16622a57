"""JetStream publish with the same payloads: a minimal NATS protocol client (plain text
over TCP) that publishes each line with a reply inbox and waits for the stream's ack
(PubAck), keeping 'window' publishes in flight. Prints acknowledged messages/s."""
import socket
import sys
import time

port, subject, body_file, seconds, window = int(sys.argv[1]), sys.argv[2], sys.argv[3], float(sys.argv[4]), int(sys.argv[5])
lines = [l for l in open(body_file, "rb").read().split(b"\n") if l]
s = socket.create_connection(("127.0.0.1", port))
f = s.makefile("rb")
f.readline()  # INFO
s.sendall(b'CONNECT {"verbose":false,"pedantic":false,"headers":false}\r\nSUB _INBOX.b.* 1\r\nPING\r\n')
while f.readline().strip() != b"PONG":
    pass
sent = acked = 0
end = time.time() + seconds
t0 = time.time()
while time.time() < end:
    buf = []
    for _ in range(window):
        p = lines[sent % len(lines)]
        buf.append(b"PUB %s _INBOX.b.%d %d\r\n%s\r\n" % (subject.encode(), sent, len(p), p))
        sent += 1
    s.sendall(b"".join(buf))
    while acked < sent:
        line = f.readline()
        if line.startswith(b"MSG"):
            n = int(line.split()[-1])
            payload = f.read(n + 2)
            if b'"error"' in payload:
                sys.exit("jetstream error: %r" % payload)
            acked += 1
        elif line.startswith(b"PING"):
            s.sendall(b"PONG\r\n")
        elif line.startswith(b"-ERR"):
            sys.exit("nats error: %r" % line)
dt = time.time() - t0
print("%.0f" % (acked / dt))
