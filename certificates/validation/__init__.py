"""Certificate validation for the DRIM-M trust space (DESIGN §4 and §6). Pure Python + ``cryptography``:
this package must never import Django (the portal's services wrap it).

- ``uploads``: ``parse_certificate_upload`` and ``parse_csr_upload`` accept PEM or DER and raise only
  ``CertificateInputError`` (a French message for end users), whatever the bytes; private keys are refused.
- ``crl``: ``parse_crl`` (same contract) and ``crl_verdict`` (a certificate against a CRL).
- ``chain``: ``build_chain``, by hand, so that each rule is reported alone, in French.
- ``rules``: ``check_db_certificate``, ``check_vi_csr``, ``check_vi_certificate`` → ``RuleResult`` lists.
- ``market``: ``check_vi_market_certificate`` (a `vi` certificate from any public CA, uploaded) and ``level_of``.
- ``describe``: ``describe_certificate``, what the pages show.
- ``common``: limits, error and result types, formatting, field readers.

The ``except Exception`` clauses (``noqa: BLE001``) are deliberate: hostile or corrupt input must end
as a ``CertificateInputError`` or as an undecided rule, never as a 500.
"""
from .chain import ChainResult, build_chain
from .common import RULE_LABELS, CertificateInputError, RuleResult, fingerprint
from .crl import CrlStatus, CrlVerdict, crl_verdict, parse_crl
from .describe import describe_certificate
from .market import RevocationAnswer, check_vi_market_certificate, level_of
from .rules import check_db_certificate, check_vi_certificate, check_vi_csr
from .uploads import parse_certificate_upload, parse_csr_upload

__all__ = [
    "RULE_LABELS",
    "CertificateInputError",
    "ChainResult",
    "CrlStatus",
    "CrlVerdict",
    "RevocationAnswer",
    "RuleResult",
    "build_chain",
    "check_db_certificate",
    "check_vi_certificate",
    "check_vi_csr",
    "check_vi_market_certificate",
    "crl_verdict",
    "describe_certificate",
    "fingerprint",
    "level_of",
    "parse_certificate_upload",
    "parse_crl",
    "parse_csr_upload",
]
