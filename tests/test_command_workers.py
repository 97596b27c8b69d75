"""`crm serve --role command --workers N`: several processes behind one port, one event store.

Each process has its own group commit and PostgreSQL orders their commits, so
nothing about a command's answer may depend on which process took it. These
tests start the real command (``python -m api.cli``), as an operator would.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from uuid import UUID

import httpx
import pytest

from api.command_workers import TcpConfig
from bench.server import free_port, stop_process
from commands.application import Crm
from commands.tenants import create_tenant
from domain.customer import Customer
from tests.streaming.conftest import wait_until

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.postgres


def _serve(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "api.cli", "serve", *args], cwd=ROOT,
                            env={**os.environ, "PYTHONPATH": str(ROOT), **env},
                            stdout=open(log, "ab"), stderr=subprocess.STDOUT)


def test_two_processes_answer_every_command_and_store_each_once(postgres_schema_url, tmp_path):
    crm = Crm(postgres_schema_url)
    tenant_id, key = create_tenant(crm, "Two Kilns")
    port, log = free_port(), tmp_path / "command.log"
    node = _serve(["--role", "command", "--workers", "2", "--port", str(port)],
                  {"CRM_EVENT_STORE": postgres_schema_url, "CRM_DATA_DIR": str(tmp_path / "data")},
                  log)
    url = f"http://127.0.0.1:{port}"
    try:
        # Both processes start: uvicorn names each one's pid as it starts (on a busy machine the
        # second can start seconds after the first already answers /health).
        wait_until(lambda: len(set(re.findall(r"Started server process \[(\d+)\]",
                                              log.read_text()))) == 2, 60, "both processes to start")
        wait_until(lambda: httpx.get(url + "/health", timeout=2).status_code == 200, 60,
                   "the command node to serve")
        headers = {"Authorization": f"Bearer {key}"}

        def register(i: int) -> httpx.Response:
            return httpx.post(url + "/v1/customers", headers=headers, timeout=30,
                              json={"name": f"Buyer {i}", "email": f"buyer{i}@example.com"})

        with ThreadPoolExecutor(16) as pool:
            answers = list(pool.map(register, range(120)))
        assert [a.status_code for a in answers] == [201] * 120, answers[0].text
        ids = {UUID(a.json()["id"]) for a in answers}
        assert len(ids) == 120
        stored = [crm.repository.get(i) for i in ids]
        assert all(isinstance(c, Customer) and str(c.tenant_id) == str(tenant_id) for c in stored)
        assert sorted(c.email for c in stored) == sorted(f"buyer{i}@example.com" for i in range(120))
        # Concurrent orders of one customer race for its versions across both processes: each
        # loser is retried by the server, so every order lands, each at a version of its own.
        first = answers[0].json()["id"]
        with ThreadPoolExecutor(16) as pool:
            orders = list(pool.map(lambda i: httpx.post(
                f"{url}/v1/customers/{first}/orders", headers=headers, timeout=30,
                json={"order_id": f"W-{i}", "amount": "5.00", "currency": "GBP",
                      "item_count": 1}), range(24)))
        assert [o.status_code for o in orders] == [201] * 24, [o.text for o in orders][:3]
        assert sorted(o.json()["version"] for o in orders) == list(range(2, 26))
        assert sorted(crm.repository.get(UUID(first)).order_ids) == sorted(f"W-{i}" for i in range(24))
    finally:
        assert stop_process(node, 30) in (0, -signal.SIGTERM)
        crm.close()


@pytest.mark.parametrize("role", ["all", "query"])
def test_workers_need_the_command_role(role, tmp_path):
    node = _serve(["--role", role, "--workers", "2", "--port", str(free_port())],
                  {"CRM_DATA_DIR": str(tmp_path / "data")}, tmp_path / "node.log")
    assert node.wait(60) == 2
    assert "--workers needs --role command" in (tmp_path / "node.log").read_text()


def test_the_shared_socket_gives_connections_tcp_nodelay():
    """Without it every keep-alive response waits for the client's delayed ACK (~40 ms)."""
    config = TcpConfig("api.app:command_node", factory=True, host="127.0.0.1", port=free_port(),
                       workers=2)
    listener = config.bind_socket()
    seen: list[int] = []

    class Report(asyncio.Protocol):
        def connection_made(self, transport):
            sock = transport.get_extra_info("socket")
            seen.append(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            transport.close()

    async def accept_one() -> None:
        server = await asyncio.get_running_loop().create_server(Report, sock=listener)
        async with server:
            _, writer = await asyncio.open_connection(*listener.getsockname())
            for _ in range(100):
                if seen:
                    break
                await asyncio.sleep(0.01)
            writer.close()

    asyncio.run(accept_one())
    assert listener.proto == socket.IPPROTO_TCP
    assert seen and seen[0] != 0
