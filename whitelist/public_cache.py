"""In-process cache of published whitelist files, for the public endpoint every DRIMbox polls.

A published version never changes (its signed bytes, SHA-256 and publication time are immutable), so a
worker may keep them in memory keyed by version number. Each request then costs one index-only query
(« which number is current? ») — the row itself holds 6 MB of XML twice, which SQLite would walk through
to read its small columns — and the body is sent from memory, with a gzip copy compressed once per
version for clients that accept it (the decoded bytes are the exact signed bytes).

The answer to « which version is current? » is itself remembered for ``WHITELIST_PUBLIC_CURRENT_SECONDS``
(default 2 s): thousands of DRIMboxes polling then cost no query at all, and a new version reaches every
worker within that delay (at once in the worker that published it, which calls ``forget_current``).
"""
from __future__ import annotations

import gzip
import threading
import time
from dataclasses import dataclass

from django.conf import settings

from .models import WhitelistVersion, WhitelistVersionStatus

_MAX_VERSIONS = 4  # the current one and a few recent ones (downloads of /versions/<n>.xml)
_lock = threading.Lock()
_files: dict[int, PublishedFile] = {}


@dataclass(frozen=True)
class PublishedFile:
    number: int
    sha256: str
    published_at: object
    body: bytes
    gzip_body: bytes

    @property
    def etag(self):
        return f'"{self.sha256}"'

    @property
    def gzip_etag(self):
        return f'"{self.sha256}-gzip"'


def _published():
    return WhitelistVersion.objects.filter(status=WhitelistVersionStatus.PUBLISHED)


_current = {"until": 0.0, "value": None}


def current():
    """(number, sha256) of the current published version, or None — read from the covering index, at most
    once per ``WHITELIST_PUBLIC_CURRENT_SECONDS`` per worker."""
    now = time.monotonic()
    if now < _current["until"]:
        return _current["value"]
    value = _published().order_by("-number").values_list("number", "sha256").first()
    _current.update(value=value, until=now + getattr(settings, "WHITELIST_PUBLIC_CURRENT_SECONDS", 2))
    return value


def forget_current():
    _current["until"] = 0.0


def published(number):
    """(number, sha256) of published version ``number``, or None."""
    return _published().filter(number=number).values_list("number", "sha256").first()


def get(number: int, sha256: str) -> PublishedFile:
    """The published file ``number``, loaded once per worker; keyed by its SHA-256 too, so that a cached
    file is never served for another database's version of the same number."""
    cached = _files.get(number)
    if cached is not None and cached.sha256 == sha256:
        return cached
    sha256, published_at, body = (WhitelistVersion.objects.filter(number=number)
                                  .values_list("sha256", "published_at", "signed_xml").get())
    body = bytes(body)
    loaded = PublishedFile(number=number, sha256=sha256, published_at=published_at, body=body,
                           gzip_body=gzip.compress(body, compresslevel=6, mtime=0))
    with _lock:
        _files[number] = loaded
        for stale in sorted(_files)[:-_MAX_VERSIONS]:
            del _files[stale]
    return loaded


def clear():
    forget_current()
    with _lock:
        _files.clear()
