"""A real IMAP server in this process for tests: pymap's in-memory (dict) backend, served on
a loopback port from its own event loop in a thread.

pymap keeps only the system flags; ``keywords=True`` makes it keep keywords of a client's own
too (PERMANENTFLAGS with ``\\*``), as Dovecot, Gmail and most servers do."""

import asyncio
import threading
from argparse import Namespace
from collections.abc import Iterator
from contextlib import AsyncExitStack, contextmanager
from dataclasses import dataclass
from unittest import mock

from pymap.backend.dict import DictBackend
from pymap.backend.dict.mailbox import MailboxData
from pymap.imap import IMAPService
from pymap.parsing.specials.flag import Recent, Wildcard, get_system_flags

from tests.support.ports import free_port

USER, PASSWORD = "coach", "imap password"


@dataclass(frozen=True)
class ImapServer:
    host: str
    port: int

    @property
    def url(self) -> str:
        return f"imap://{USER}:{PASSWORD.replace(' ', '%20')}@{self.host}:{self.port}/INBOX"


@contextmanager
def running_imap_server(keywords: bool = False) -> Iterator[ImapServer]:
    if not keywords:
        with _serving() as server:
            yield server
        return
    kept = (get_system_flags() - {Recent}) | {Wildcard}
    with mock.patch.object(MailboxData, "permanent_flags", property(lambda _: kept)), \
            _serving() as server:
        yield server


@contextmanager
def _serving() -> Iterator[ImapServer]:
    server = ImapServer("127.0.0.1", free_port())
    args = Namespace(host=[server.host], port=str(server.port), tls=False, cert=None, key=None,
                     debug=False, passlib_cfg=None, proxy_protocol=None, inherited_sockets=None,
                     demo_data=False, demo_user=USER, demo_password=PASSWORD)
    loop = asyncio.new_event_loop()
    ready, stop = threading.Event(), asyncio.Event()

    async def serve() -> None:
        backend, config = await DictBackend.init(args)
        config.apply_context()
        async with AsyncExitStack() as stack:
            await backend.start(stack)
            await IMAPService(backend, config).start(stack)
            ready.set()
            await stop.wait()

    thread = threading.Thread(target=loop.run_until_complete, args=(serve(),), daemon=True)
    thread.start()
    try:
        assert ready.wait(10), "pymap did not start within 10 s"
        yield server
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(10)
        loop.close()
