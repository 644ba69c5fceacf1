"""Authorization matrix of the certificates API, merged into ``tests/test_authorization_matrix.MATRIX``.

Same format: name -> (method, kwargs builder(w), data builder(w), {role: expectation}, [post-conditions]).
Objects belong to operator A: a DRIMbox declared through the services and given a `db` and a `vi`
certificate (``tests.support.lifecycle.give_certificates``), kept on the world ``w``. The matrix sends JSON
bodies: the `db` upload (multipart only) then gets 400 (no file) from a caller who may act, 403/404 before
the body is read from one who may not. The acme-dns endpoint authenticates by its own headers: without
them every caller gets 401, and /acme-dns/register always explains (403) that credentials are made in
the portal.
"""
from certificates.models import AcmeDnsCredential, Certificate, Revocation, ViOrder
from tests.support import pki
from tests.support.lifecycle import declared_drimbox, give_certificates

ROLES = ("anonymous", "other", "technical", "legal", "ans")
READ_A = {"anonymous": 401, "other": 404, "technical": 200, "legal": 200, "ans": 200}


def _technical_only(success):
    return {"anonymous": 401, "other": 404, "technical": success, "legal": 403, "ans": 403}


def _drimbox(w):
    if not hasattr(w, "certified_drimbox"):
        w.certified_drimbox = declared_drimbox(w.operator, w.legal, w.ans)
        give_certificates(w.certified_drimbox, w.technical)
    return {"identifiant": w.certified_drimbox.identifiant}  # a DRIMbox's API address is its public identifiant


def _with_certificates(w, kwargs):
    """``kwargs``, once operator A's certified DRIMbox exists (its certificates fill the inventory)."""
    _drimbox(w)
    return kwargs


def _db_certificate(w):
    _drimbox(w)
    return {"pk": Certificate.objects.get(drimbox=w.certified_drimbox, kind="db").pk}


def _operator_with_certificates(w):
    _drimbox(w)  # the export then has rows: a token limited to another DRIMbox must not see them
    return {"pk": w.operator.pk}


def _csr(w):
    csr, _key = pki.build_csr(w.certified_drimbox.vi_fqdn)
    return {"csr": pki.csr_pem(csr).decode()}


def _count(model, expected_by_role, **lookup):
    def check_for(expected):
        return lambda w: model.objects.filter(**{key: value(w) for key, value in lookup.items()}).count() == expected
    return {role: check_for(expected_by_role.get(role, expected_by_role["default"])) for role in ROLES}


def _of_drimbox(w):
    return w.certified_drimbox


CERTIFICATES_API_MATRIX = {
    "api_drimbox_certificates": ("get", _drimbox, None, READ_A),
    "api_drimbox_certificates POST": ("post", _drimbox, lambda w: {}, _technical_only(400),
                                      _count(Certificate, {"default": 1}, drimbox=_of_drimbox, kind=lambda w: "db")),
    "api_vi_orders": ("get", _drimbox, None, READ_A),
    "api_vi_orders POST": ("post", _drimbox, _csr, _technical_only(201),
                           _count(ViOrder, {"default": 1, "technical": 2}, drimbox=_of_drimbox)),
    "api_vi_certificate": ("get", _drimbox, None, READ_A),
    "api_vi_market_certificates": ("post", _drimbox, lambda w: {}, _technical_only(400),
                                   _count(Certificate, {"default": 0}, drimbox=_of_drimbox, source=lambda w: "marche")),
    "api_drimbox_acme_dns": ("post", _drimbox, None, _technical_only(201),
                             _count(AcmeDnsCredential, {"default": 0, "technical": 1}, drimbox=_of_drimbox)),
    "api_certificate": ("get", _db_certificate, None, READ_A),
    "api_certificate_revoke": ("post", _db_certificate, lambda w: {"reason": "remplacement"}, _technical_only(201),
                               _count(Revocation, {"default": 0, "technical": 1},
                                      certificate__drimbox=_of_drimbox)),
    "api_certificate_export": ("get", _operator_with_certificates, None, READ_A),
    # The inventory: operator A's certificates (its certified DRIMbox), all of the caller's (« own »: B's legal
    # representative gets a list without anything of A).
    "api_operator_certificates": ("get", lambda w: _with_certificates(w, {"pk": w.operator.pk}), None, READ_A),
    "api_certificates": ("get", lambda w: _with_certificates(w, {}), None,
                         {"anonymous": 401, "other": "own", "technical": 200, "legal": 200, "ans": 200}),
    "api_acme_dns_update": ("post", None, lambda w: {"subdomain": "x", "txt": "a" * 43}, {role: 401 for role in ROLES}),
    "api_acme_dns_register": ("post", None, None, {role: 403 for role in ROLES}),
    "api_acme_dns_health": ("get", None, None, {role: 200 for role in ROLES}),
}
