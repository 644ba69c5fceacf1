"""Authorization matrix of the whitelist API (ANS only), merged into ``tests/test_authorization_matrix.MATRIX``.

Same format: name -> (method, kwargs builder(w), data builder(w), {role: expectation}, [post-conditions]).
Objects are built through the services and kept on the world ``w`` (each builder makes its object once):
a version prepared by a second ANS administrator (so that ``w.ans`` may approve it: four eyes), a version
published by ``w.ans`` with the tests' signer, and a request imported from an issue-like object. No signer is
configured in this world: approving answers the service's structured 409 (« aucun signataire »), GitHub is not
configured either (republishing: 409).
"""
from django.test import override_settings

from tests.conftest import user_maker
from tests.matrix_whitelist import _github_request, _request_status
from tests.support.lifecycle import shared_pki
from tests.whitelist.signing import org_sign_certificate, with_full_chain
from whitelist import services as whitelist_services
from whitelist.models import WhitelistVersion, WhitelistVersionStatus
from whitelist.signers import Pkcs12Signer

ROLES = ("anonymous", "other", "technical", "legal", "ans")


def _ans_only(success):
    return {"anonymous": 401, "other": 403, "technical": 403, "legal": 403, "ans": success}


def _second_ans(w):
    if not hasattr(w, "second_ans"):
        w.second_ans = user_maker()("ans-matrice", is_ans_admin=True)
    return w.second_ans


def _prepared(w):
    """A version prepared by another ANS administrator than ``w.ans``."""
    if not hasattr(w, "api_prepared_version"):
        w.api_prepared_version = whitelist_services.prepare_version(acting_user=_second_ans(w))
    return {"number": w.api_prepared_version.number}


def _published(w):
    """A version prepared by the second ANS administrator, approved by ``w.ans``, signed by the tests' signer."""
    if not hasattr(w, "api_published_version"):
        issued = with_full_chain(org_sign_certificate(shared_pki()))
        signer = Pkcs12Signer(key=issued.key, cert=issued.cert, chain=issued.chain)
        version = whitelist_services.prepare_version(acting_user=_second_ans(w))
        with override_settings(WHITELIST_SIGNER_REQUIRE_CRL=False):  # the tests' CRL is on a closed port
            w.api_published_version = whitelist_services.approve_and_publish(version, acting_user=w.ans,
                                                                            signer=signer)
    return {"number": w.api_published_version.number}


def _status_of_prepared(expected_for_ans):
    def check_for(role):
        expected = expected_for_ans if role == "ans" else WhitelistVersionStatus.PREPARED
        return lambda w: WhitelistVersion.objects.get(pk=w.api_prepared_version.pk).status == expected
    return {role: check_for(role) for role in ROLES}


def _version_count(for_ans):
    return {role: (lambda w, expected=(for_ans if role == "ans" else 0): WhitelistVersion.objects.count() == expected)
            for role in ROLES}


WHITELIST_API_MATRIX = {
    "api_whitelist_versions": ("get", None, None, _ans_only(200)),
    "api_whitelist_versions POST": ("post", None, lambda w: {"comment": "Matrice"}, _ans_only(201),
                                    _version_count(1)),
    "api_whitelist_version": ("get", _prepared, None, _ans_only(200)),
    # Four eyes respected (prepared by another administrator); refused for want of a signer, nothing changes.
    "api_whitelist_version_approve": ("post", _prepared, None, _ans_only(409),
                                      _status_of_prepared(WhitelistVersionStatus.PREPARED)),
    "api_whitelist_version_abandon": ("post", _prepared, lambda w: {"reason": "Matrice"}, _ans_only(200),
                                      _status_of_prepared(WhitelistVersionStatus.ABANDONED)),
    "api_whitelist_version_github_republish": ("post", _published, None, _ans_only(409)),
    "api_whitelist_version_document": ("get", _published, None, _ans_only(200)),
    "api_whitelist_version_diff": ("get", _prepared, None, _ans_only(200)),
    "api_whitelist_github_requests": ("get", None, None, _ans_only(200)),
    "api_whitelist_github_request": ("get", _github_request, None, _ans_only(200)),
    "api_whitelist_github_request_accept": ("post", _github_request,
                                            lambda w: {"no_link_reason": "Modification faite par l'ANS."},
                                            _ans_only(200), _request_status("acceptee")),
    "api_whitelist_github_request_refuse": ("post", _github_request, lambda w: {"reason": "Doublon"},
                                            _ans_only(200), _request_status("refusee")),
}
