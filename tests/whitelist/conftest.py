"""Whitelist tests: shared fixtures, and the revocation requirement explicit per test whatever DEBUG the run uses.

``WHITELIST_SIGNER_REQUIRE_CRL`` defaults to ``not DEBUG``; the test certificates name a CRL on a closed port,
so a test that needs the strict behaviour sets it itself (see test_signer_watch).
"""
import pytest

from tests.support.lifecycle import active_drimbox
from tests.whitelist.signing import signer_p12  # noqa: F401  (fixture)


@pytest.fixture(autouse=True)
def _revocation_not_required_by_default(settings):
    settings.WHITELIST_SIGNER_REQUIRE_CRL = False


@pytest.fixture
def ans2(make_user):
    """The second ANS administrator, who approves what ``world.ans`` prepared (four eyes)."""
    return make_user("ans2", is_ans_admin=True)


@pytest.fixture
def box(world):
    """An active DRIMbox of operator A with current `db` and `vi` certificates."""
    return active_drimbox(world.operator, world.legal, world.ans)
