"""What a DRIMbox must have before it enters the trust space (integration, reintegration).

``operators`` reads no other app (DESIGN §2): the certificates app registers its checks here when it
starts, and the integration request shows them as a checklist and refuses to go on while one fails.
"""
from dataclasses import dataclass


@dataclass(frozen=True)
class CheckItem:
    label: str
    ok: bool
    detail: str


_CHECKS = []


def register(check):
    """``check(drimbox) -> list[CheckItem]``; registered once, at app start."""
    if check not in _CHECKS:
        _CHECKS.append(check)
    return check


def checklist(drimbox):
    return [item for check in _CHECKS for item in check(drimbox)]


def failures(drimbox):
    return [item for item in checklist(drimbox) if not item.ok]
