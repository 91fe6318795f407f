#!/usr/bin/env python3
"""The yardstick for Kakari's delivery benchmark: Python's smtplib sends COUNT copies
of MESSAGE (an .eml file, such as one Kakari wrote) to HOST:PORT over CONNECTIONS
connections (one thread each, one reused connection per thread) and prints the rate.

  smtplib-send.py HOST PORT CONNECTIONS COUNT MESSAGE
"""
import smtplib
import sys
import threading
import time

host, port, connections, count, path = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
message = open(path, "rb").read()
per = [count // connections + (1 if i < count % connections else 0) for i in range(connections)]


def send(n):
    s = smtplib.SMTP(host, port)
    for i in range(n):
        s.sendmail("iryo@pref.example.jp", ["clinic%d@example.jp" % i], message)
    s.quit()


threads = [threading.Thread(target=send, args=(n,)) for n in per]
start = time.time()
for t in threads:
    t.start()
for t in threads:
    t.join()
elapsed = time.time() - start
print("smtplib: %d messages over %d connections in %.2f s: %.0f messages/s" % (count, connections, elapsed, count / elapsed))
