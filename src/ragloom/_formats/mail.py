r"""E-mail (standard library `email`): `.eml` messages and `.mbox` archives.

Each message is a section: its headers (From, To, Date, Subject) then the plain-text
body (HTML bodies reduced to text), with `sender`, `date`, `subject` and, when present,
`attachments` (their file names: listed, not parsed) in the metadata. An mbox gives one
section per message (`message`, from 1), so no chunk runs across two messages. Ingestion
stores each message of an mbox as a source of its own (`mbox_messages`, `load_mbox_message`).

Example:
    >>> from pathlib import Path
    >>> raw = b"From: a@example.com\nSubject: Hi\n\nSee you at noon."
    >>> text, meta = load_eml(raw, LoadContext(Path("m.eml")))[0]
    >>> meta["subject"], text.splitlines()[-1]
    ('Hi', 'See you at noon.')

"""

from __future__ import annotations

import email
import email.policy
import hashlib
import mailbox
import os
import tempfile
from email.message import EmailMessage
from typing import Any

from ragloom._formats._base import LoadContext, LoadError, Section

__all__ = ["load_eml", "load_mbox", "load_mbox_message", "mbox_messages"]


def _body(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    try:
        content = part.get_content()
    except (LookupError, ValueError, AssertionError):  # unknown charset, bad encoding
        payload = part.get_payload(decode=True)
        content = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
    if part.get_content_subtype() == "html":
        from bs4 import BeautifulSoup

        content = BeautifulSoup(content, "html.parser").get_text("\n")
    lines = (line.rstrip() for line in str(content).splitlines())
    return "\n".join(lines).strip()


def _section(message: EmailMessage) -> Section:
    meta: dict[str, Any] = {}
    head = []
    for header, key in (("From", "sender"), ("To", None), ("Date", "date"),
                        ("Subject", "subject")):
        value = message.get(header)
        if value:
            value = " ".join(str(value).split())
            head.append(f"{header}: {value}")
            if key:
                meta[key] = value
    names = [part.get_filename() or "(unnamed)" for part in message.iter_attachments()]
    if names:
        meta["attachments"] = names
        head.append("Attachments: " + ", ".join(names))
    if "subject" in meta:
        meta["location"] = f"“{meta['subject']}”"
    return "\n".join(head) + "\n\n" + _body(message), meta


def load_eml(data: bytes, context: LoadContext) -> list[Section]:
    """One e-mail message: headers and body as a section."""
    message = email.message_from_bytes(data, policy=email.policy.default)
    if not isinstance(message, EmailMessage) or not message.keys():
        raise LoadError("not an e-mail message (no headers found)")
    context.pages += 1
    return [_section(message)]


def _raw_messages(data: bytes) -> list[bytes]:
    if not data.startswith(b"From "):
        raise LoadError("not an mbox archive (it must start with a 'From ' line)")
    # mailbox reads from a path; the bytes are already in memory, so a private copy.
    handle, name = tempfile.mkstemp(suffix=".mbox")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
        box = mailbox.mbox(name, factory=None, create=False)
        try:
            return [box.get_bytes(key) for key in box.iterkeys()]
        finally:
            box.close()
    finally:
        os.unlink(name)


def _parse(raw: bytes) -> EmailMessage:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def load_mbox(data: bytes, context: LoadContext) -> list[Section]:
    """An mbox archive: one section per message, numbered from 1."""
    sections: list[Section] = []
    for number, raw in enumerate(_raw_messages(data), start=1):
        text, meta = _section(_parse(raw))
        label = f"message {number}"
        if "subject" in meta:
            label += f": {meta['subject']}"
        sections.append((text, {**meta, "message": number, "location": label}))
    context.pages += len(sections)
    return sections


def mbox_messages(data: bytes) -> list[tuple[str, bytes]]:
    r"""An mbox archive's messages as (key, bytes), in archive order, exact copies dropped.

    The key is a hash of the Message-ID (of the message's bytes when it has none, or
    when another message of the archive has the same one): stable while the message
    is, so each message can be stored, updated and pruned on its own.

    Example:
        >>> box = b"From a\nMessage-ID: <1@x>\nSubject: A\n\nOne.\n"
        >>> [(len(key), raw.startswith(b"Message-ID")) for key, raw in mbox_messages(box)]
        [(16, True)]

    """
    found: dict[str, bytes] = {}
    for raw in _raw_messages(data):
        message_id = " ".join(str(_parse(raw).get("Message-ID") or "").split())
        key = hashlib.sha256(message_id.encode()).hexdigest()[:16] if message_id else ""
        if not key or key in found:
            key = hashlib.sha256(raw).hexdigest()[:16]
        found.setdefault(key, raw)  # the very same bytes twice: one message
    return list(found.items())


def load_mbox_message(data: bytes, context: LoadContext, number: int) -> list[Section]:
    """One message of an mbox archive (its `number` from 1) as a section.

    Cited by subject, sender and date: `“Audit” from cy@example.com, Tue, 01 Oct 2024 …`.
    """
    text, meta = _section(_parse(data))
    location = str(meta.get("location") or f"message {number}")
    location += f" from {meta['sender']}" if "sender" in meta else ""
    location += f", {meta['date']}" if "date" in meta else ""
    context.pages += 1
    return [(text, {**meta, "message": number, "location": location})]
