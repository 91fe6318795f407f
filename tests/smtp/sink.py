#!/usr/bin/env python3
"""A real SMTP server for Kakari's mail tests (aiosmtpd), with the failures a mail
server shows in the field, chosen on the command line:

  --reject TEXT        answer 550 to recipients containing TEXT (a permanent refusal)
  --defer-first TEXT   answer 451 to the first RCPT of each recipient containing TEXT
  --defer-all          answer 421 to every RCPT (a broken server: transient)
  --drop-every N       acknowledge every Nth message, then drop the connection
  --delay SECONDS      wait this long before acknowledging each message
  --hang               accept connections and never say a word

Each accepted message is appended to OUT (JSON lines: envelope, Message-ID, decoded
subject, body text, time). The first line on stdout is the port.
"""
import argparse
import asyncio
import email
import email.header
import email.policy
import json
import socket
import sys
import time


def decoded(value):
    parts = email.header.decode_header(value or "")
    return "".join(
        p.decode(c or "ascii") if isinstance(p, bytes) else p for p, c in parts
    )


class Handler:
    def __init__(self, args):
        self.args = args
        self.seen_rcpt = set()
        self.accepted = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        a = self.args
        if a.defer_all:
            return "421 4.3.2 service not available, try later"
        if a.reject and a.reject in address:
            return "550 5.1.1 <%s>: mailbox unavailable" % address
        if a.defer_first and a.defer_first in address and address not in self.seen_rcpt:
            self.seen_rcpt.add(address)
            return "451 4.7.1 greylisted, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.args.delay:
            await asyncio.sleep(self.args.delay)
        raw = envelope.content
        msg = email.message_from_bytes(raw, policy=email.policy.compat32)
        body = msg.get_payload(decode=True) or b""
        charset = msg.get_content_charset() or "utf-8"
        self.accepted += 1
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "message_id": msg.get("Message-ID"),
            "subject_raw": msg.get("Subject"),
            "subject": decoded(msg.get("Subject")),
            "from": decoded(msg.get("From")),
            "to": msg.get("To"),
            "content_type": msg.get("Content-Type"),
            "body": body.decode(charset, errors="replace"),
            "at": time.time(),
        }
        with open(self.args.out, "a", encoding="utf-8") as f:
            f.write(json.dumps(record, ensure_ascii=False) + "\n")
        if self.args.drop_every and self.accepted % self.args.drop_every == 0:
            # The acknowledgement is written first (close() flushes it); then the line
            # goes dead before the client can start another message. (A later close
            # could cut a message whose body the server already took, whose
            # acknowledgement is then lost: a duplicate no client can avoid.)
            asyncio.get_running_loop().call_soon(server.transport.close)
        return "250 2.0.0 OK queued as %d" % self.accepted


async def hang(sock):
    async def silent(reader, writer):
        await asyncio.sleep(3600)

    server = await asyncio.start_server(silent, sock=sock)
    async with server:
        await server.serve_forever()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--out", required=True)
    p.add_argument("--reject")
    p.add_argument("--defer-first")
    p.add_argument("--defer-all", action="store_true")
    p.add_argument("--drop-every", type=int, default=0)
    p.add_argument("--delay", type=float, default=0.0)
    p.add_argument("--hang", action="store_true")
    args = p.parse_args()

    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    print(sock.getsockname()[1], flush=True)

    if args.hang:
        asyncio.run(hang(sock))
        return

    from aiosmtpd.smtp import SMTP

    handler = Handler(args)

    async def serve():
        loop = asyncio.get_running_loop()
        server = await loop.create_server(
            lambda: SMTP(handler, enable_SMTPUTF8=True, decode_data=False), sock=sock
        )
        async with server:
            await server.serve_forever()

    asyncio.run(serve())


if __name__ == "__main__":
    sys.exit(main())
