"""The Atom 1.0 index of current CAP alerts and the publishing of both to a directory.

Aggregators (WMO Alert Hub, Google Public Alerts) poll the index and fetch each CAP file from
its ``alternate`` link. ``publish`` writes ``cap/<identifier>.xml`` files and then
``cap/index.atom``, each atomically (a temporary file in the same directory, fsync, then
``os.replace``), so a reader sees the old or the new file, never part of one, and the index never
points at a file not yet written. Earlier CAP files are kept: Updates and Cancels reference them.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from lxml import etree

from floodwatch.core.errors import InputError
from floodwatch.warnings.cap import CAP_NS, XML_DECLARATION, CapAlert, safe_parser, validate

ATOM_NS = "http://www.w3.org/2005/Atom"
CAP_MEDIA_TYPE = "application/cap+xml"
CAP_DIR = "cap"
INDEX_NAME = "index.atom"
# Letters, digits, '.', '_', ':' and '-' (WMO OID identifiers such as 2.49.0.1.704…, urn:oid:…),
# starting with a letter or digit, never '..'; at most 200 characters (the database column).
_SAFE_IDENTIFIER = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,199}")


@dataclass(frozen=True)
class AtomEntry:
    """One current alert in the index: ``id`` is a stable URI (usually ``cap_url``)."""

    id: str
    title: str
    updated: datetime
    summary: str
    cap_url: str
    author: str
    published: datetime | None = None

    def __post_init__(self) -> None:
        for name in ("id", "title", "cap_url", "author"):
            if not getattr(self, name):
                raise InputError(f"Atom entry needs a non-empty {name}")
        for name in ("updated", "published"):
            _atom_time(getattr(self, name))


def _atom_time(value: datetime | None) -> str:
    if value is None:
        return ""
    if value.utcoffset() is None:
        raise InputError(f"Atom times must be timezone-aware, got {value!r}")
    return value.replace(microsecond=0).isoformat()


def entry_for_alert(alert: CapAlert, cap_url: str) -> AtomEntry:
    """The index entry of a CAP alert: the first info block's headline (vi-VN when present)."""
    if not alert.infos:
        raise InputError(f"CAP {alert.identifier} has no info block to summarise")
    info = alert.infos[0]
    return AtomEntry(id=cap_url, title=info.headline or info.event, updated=alert.sent,
                     summary=info.description, cap_url=cap_url,
                     author=info.sender_name or alert.sender, published=alert.sent)


def _text(parent: etree._Element, tag: str, text: str) -> etree._Element:
    element = etree.SubElement(parent, f"{{{ATOM_NS}}}{tag}")
    try:
        element.text = text
    except ValueError as exc:
        raise InputError(f"Atom {tag} holds characters XML cannot carry: {exc}") from exc
    return element


def _link(parent: etree._Element, rel: str, href: str, media_type: str) -> None:
    try:
        etree.SubElement(parent, f"{{{ATOM_NS}}}link", rel=rel, type=media_type, href=href)
    except ValueError as exc:
        raise InputError(f"Atom link {href!r} holds characters XML cannot carry") from exc


def _author(parent: etree._Element, name: str) -> None:
    _text(etree.SubElement(parent, f"{{{ATOM_NS}}}author"), "name", name)


def atom_index(entries: Sequence[AtomEntry], *, feed_id: str, title: str, updated: datetime,
               self_url: str, author: str = "floodwatch") -> bytes:
    """An Atom 1.0 feed (UTF-8) with one entry per current alert, newest first.

    ``author`` names the feed's author, required by Atom when the feed has no entries.
    """
    feed = etree.Element(f"{{{ATOM_NS}}}feed", nsmap={None: ATOM_NS})
    _text(feed, "id", feed_id)
    _text(feed, "title", title)
    _text(feed, "updated", _atom_time(updated))
    _author(feed, author)
    _link(feed, "self", self_url, "application/atom+xml")
    for entry in sorted(entries, key=lambda e: e.updated, reverse=True):
        element = etree.SubElement(feed, f"{{{ATOM_NS}}}entry")
        _text(element, "id", entry.id)
        _text(element, "title", entry.title)
        _text(element, "updated", _atom_time(entry.updated))
        if entry.published is not None:
            _text(element, "published", _atom_time(entry.published))
        _author(element, entry.author)
        _text(element, "summary", entry.summary)
        _link(element, "alternate", entry.cap_url, CAP_MEDIA_TYPE)
    return XML_DECLARATION + etree.tostring(feed, encoding="UTF-8", pretty_print=True)


def cap_filename(identifier: str) -> str:
    """``<identifier>.xml``; refuses (InputError) path separators, '..' and other characters."""
    if not _SAFE_IDENTIFIER.fullmatch(identifier) or ".." in identifier:
        raise InputError(f"CAP identifier {identifier!r} cannot be a file name: use letters, "
                         "digits, '.', '_', ':' and '-' (no '..', no path separators)")
    return f"{identifier}.xml"


def _document_identifier(document: bytes) -> str:
    root = etree.fromstring(document, safe_parser())
    return root.findtext(f"{{{CAP_NS}}}identifier") or ""


def write_atomic(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Write ``data`` to ``path`` so readers see the old or the new content, never a part."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)  # mkstemp creates 0600; the web server must read the file
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _fsync_dir(directory: Path) -> None:
    with contextlib.suppress(OSError):  # not every platform can open a directory
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def publish(publish_dir: Path, documents: Mapping[str, bytes], index: bytes) -> list[Path]:
    """Write each CAP document to ``cap/<identifier>.xml``, then ``cap/index.atom``.

    Everything is checked before anything is written: each identifier is a safe file name and
    matches the document's ``<identifier>``, each document passes the CAP 1.2 schema and the
    index is well-formed XML. Returns the paths written, the index last.
    """
    names = {identifier: cap_filename(identifier) for identifier in documents}
    for identifier, document in documents.items():
        validate(document)
        found = _document_identifier(document)
        if found != identifier:
            raise InputError(f"CAP document given as {identifier!r} has identifier {found!r}")
    try:
        root = etree.fromstring(index, safe_parser())
    except etree.XMLSyntaxError as exc:
        raise InputError(f"Atom index is not well-formed XML: {exc}") from exc
    if root.tag != f"{{{ATOM_NS}}}feed":
        raise InputError(f"Atom index root must be an Atom feed, got {root.tag}")
    cap_dir = Path(publish_dir) / CAP_DIR
    cap_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for identifier, document in documents.items():
        path = cap_dir / names[identifier]
        write_atomic(path, document)
        written.append(path)
    write_atomic(cap_dir / INDEX_NAME, index)
    written.append(cap_dir / INDEX_NAME)
    _fsync_dir(cap_dir)
    return written
