"""Whether a `crm` command on this machine talks to the running node or opens the files itself.

DuckDB lets one process at a time open a read-model file, so a command that finds the file
held knows a node is running and sends its work there, at the address `crm serve` left in
the data directory.
"""

from __future__ import annotations

import duckdb

from commands.settings import Settings

NODE_URL_FILE = "node-url"  # written by `crm serve`: the address it listens on
DEFAULT_URL = "http://127.0.0.1:8000"


def running_node_url(settings: Settings) -> str | None:
    """The running node's base URL, or None when no process holds the read-model file.

    The probe opens the file read-only: opened for writing, DuckDB would also fold a
    leftover write-ahead log into the file at close, in row groups of its default size
    rather than the node's (readmodels/store.py, ROW_GROUP_ROWS)."""
    path = settings.readmodel_path
    if not path.exists():
        return None
    try:
        duckdb.connect(str(path), read_only=True).close()
        return None
    except duckdb.IOException:  # locked: a running node owns it
        where = settings.data_dir / NODE_URL_FILE
        return where.read_text().strip() if where.exists() else DEFAULT_URL
