"""Whitelist tests: the revocation requirement is explicit per test, whatever DEBUG the run uses.

``WHITELIST_SIGNER_REQUIRE_CRL`` defaults to ``not DEBUG``; the test certificates name a CRL on a closed port,
so a test that needs the strict behaviour sets it itself (see test_signer_watch).
"""
import pytest


@pytest.fixture(autouse=True)
def _revocation_not_required_by_default(settings):
    settings.WHITELIST_SIGNER_REQUIRE_CRL = False
