"""The CRL cache keeps only authentic, current CRLs: a forged or future-dated one is refused and the reason kept."""
from datetime import timedelta

import pytest

from certificates import services
from certificates.models import CrlCache
from tests.certificates.test_services import CRL_PATH, crl, db_issued  # noqa: F401
from tests.support import pki
from tests.support.lifecycle import declared_drimbox, shared_pki

pytestmark = pytest.mark.django_db


def test_a_forged_or_future_crl_is_never_cached(world, crl):  # noqa: F811
    drimbox = declared_drimbox(world.operator, world.legal, world.ans)
    issued = db_issued(drimbox)
    url = crl.url(CRL_PATH)
    impostor = pki.TestPKI(slot_base=7)  # same names, other keys
    crl.set_crl(CRL_PATH, impostor.crl(this_update=pki.utcnow()))
    cache = services.fetch_crl(url)
    assert cache.der is None and "non signée" in cache.last_error
    crl.set_crl(CRL_PATH, shared_pki().crl(this_update=pki.utcnow() + timedelta(days=3650),
                                           next_update=pki.utcnow() + timedelta(days=3660)))
    cache = services.fetch_crl(url)
    assert cache.der is None and "futur" in cache.last_error
    crl.set_crl(CRL_PATH, shared_pki().crl(revoked=[issued], this_update=pki.utcnow()))
    assert services.fetch_crl(url).der is not None
    assert CrlCache.objects.get(url=url).this_update is not None
