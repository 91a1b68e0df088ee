"""Free loopback ports, for the peers and processes tests and the bench start."""

import socket


def free_port() -> int:
    """A port nothing listens on now: for a server started next, or a URL that is refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
