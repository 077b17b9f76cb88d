"""A real SMTP server for Whenly's mail tests (aiosmtpd, installed by scripts/setup.sh).

    smtp_server.py PORT DIR [--until-killed]

Listens on 127.0.0.1:PORT and writes every message it accepts to DIR/NNNNN.eml (atomically:
written aside, then renamed). Two switches, as files in DIR, let a test misbehave it:
  refuse  while it exists, RCPT TO is answered 451 (try again later): a transient failure;
  reject  while it exists, RCPT TO is answered 550 (no such mailbox): a permanent failure;
  stall   while it exists, a new connection is held before its EHLO is answered.
Prints "ready" once listening; exits when its stdin closes (the test that started it ended),
or with --until-killed (Playwright's web server) only when killed.
"""

import asyncio
import itertools
import os
import sys
import threading

from aiosmtpd.controller import Controller


class Mailbox:
    def __init__(self, directory):
        self.directory = directory
        self.numbers = itertools.count(1)

    def switch(self, name):
        return os.path.exists(os.path.join(self.directory, name))

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        while self.switch("stall"):
            await asyncio.sleep(0.05)
        session.host_name = hostname
        return responses

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.switch("refuse"):
            return "451 4.3.0 Try again later"
        if self.switch("reject"):
            return "550 5.1.1 No such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        number = next(self.numbers)
        final = os.path.join(self.directory, f"{number:05}.eml")
        aside = final + ".part"
        with open(aside, "wb") as file:
            file.write(envelope.original_content or envelope.content)
        os.rename(aside, final)
        return "250 Message accepted for delivery"


def main():
    port, directory = int(sys.argv[1]), sys.argv[2]
    os.makedirs(directory, exist_ok=True)
    controller = Controller(Mailbox(directory), hostname="127.0.0.1", port=port)
    controller.start()
    print("ready", flush=True)
    try:
        if "--until-killed" in sys.argv[3:]:
            threading.Event().wait()
        else:
            sys.stdin.read()
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
