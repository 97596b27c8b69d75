"""Documents attached to customers: content-addressed files under the data directory, and
their metadata as the customer's events.

The content is written (once per distinct content: its name is its SHA-256)
before the event is saved, so an event never points at a missing file.
Removing a document records that it was removed; the content stays, because
other documents may share it and the history says it existed.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from uuid import UUID, uuid4

from commands.application import Crm, Idempotency, Outcome
from commands.errors import NotFound
from domain.base import DomainError, Meta
from domain.customer import Customer

# Accepted types, and how their content starts (a file whose bytes say otherwise is refused).
TYPES: dict[str, tuple[bytes, ...]] = {
    "application/pdf": (b"%PDF-",),
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/gif": (b"GIF87a", b"GIF89a"),
    "image/webp": (b"RIFF",),
    "text/plain": (),
    "text/csv": (),
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": (b"PK\x03\x04",),
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": (b"PK\x03\x04",),
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": (b"PK\x03\x04",),
}
DEFAULT_MAX_BYTES = 10 * 1024 * 1024


def max_document_bytes() -> int:
    return int(os.environ.get("CRM_MAX_DOCUMENT_BYTES") or DEFAULT_MAX_BYTES)


def content_path(data_dir: Path, sha256: str) -> Path:
    return Path(data_dir) / "documents" / sha256[:2] / sha256


def _check(content: bytes, content_type: str) -> str:
    kind = (content_type or "").split(";")[0].strip().lower()
    if kind not in TYPES:
        raise DomainError(f"files of type {kind or 'unknown'!r} are not accepted; accepted: "
                          f"{', '.join(sorted(TYPES))}", "Content-Type")
    if not content:
        raise DomainError("the file is empty", "file")
    if len(content) > max_document_bytes():
        raise DomainError(f"a document is at most {max_document_bytes()} bytes", "file")
    signatures = TYPES[kind]
    if signatures and not content.startswith(signatures):
        raise DomainError(f"the content is not a {kind} file", "file")
    if kind.startswith("text/"):
        try:
            content.decode("utf-8")
        except UnicodeDecodeError:
            raise DomainError("a text file must be UTF-8", "file") from None
    return kind


def store_content(data_dir: Path, content: bytes) -> str:
    """Writes the content under its SHA-256 (atomically; once) and returns the hash."""
    sha256 = hashlib.sha256(content).hexdigest()
    path = content_path(data_dir, sha256)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, delete=False) as temporary:
            temporary.write(content)
            temporary.flush()
            os.fsync(temporary.fileno())
        os.replace(temporary.name, path)
    return sha256


def attach(crm: Crm, meta: Meta, data_dir: Path, customer_id: UUID, filename: str,
           content_type: str, content: bytes, expected_version: int | None = None,
           idem: Idempotency | None = None) -> tuple[Outcome, UUID]:
    kind = _check(content, content_type)
    crm.load(Customer, customer_id, meta.tenant_id)  # nothing is written for a stranger's id
    sha256 = store_content(data_dir, content)
    document_id = uuid4()
    outcome = crm.change(Customer, customer_id, meta,
                         lambda c: c.attach_document(meta, document_id, filename, kind,
                                                     len(content), sha256),
                         expected_version, idem)
    return outcome, document_id


def remove(crm: Crm, meta: Meta, customer_id: UUID, document_id: UUID,
           expected_version: int | None = None, idem: Idempotency | None = None) -> Outcome:
    def act(customer: Customer) -> None:
        if document_id not in customer.documents:
            raise NotFound(f"no document {document_id}")
        customer.remove_document(meta, document_id)
    return crm.change(Customer, customer_id, meta, act, expected_version, idem)
