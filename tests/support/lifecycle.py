"""Builders for DRIMbox lifecycle tests: orders, declarations, approvals, all through the services."""
import functools
import itertools

from django.core.files.uploadedfile import SimpleUploadedFile

from demo.documents import demo_pdf, with_luhn
from operators import services as operator_services
from operators.models import AttachmentKind, Membership, RequestKind, Role
from tests.support import pki

_seeds = itertools.count(1)


def finess(seed, department="75"):
    return with_luhn(f"{department}{seed:06d}")


def siren(seed):
    return with_luhn(f"{seed:08d}")


def cgi_upload():
    return SimpleUploadedFile("cgi-signees.pdf", demo_pdf("Conditions Générales d'Intégration"), "application/pdf")


def signed_order_upload(title="Bon de commande SONS-IMG-DB-va2 signé"):
    return SimpleUploadedFile("bon-de-commande.pdf", demo_pdf(title), "application/pdf")


def am_number(seed):
    """A physician's AM number (9 digits, a department first) distinct for each seed."""
    return f"21{seed % 10_000_000:07d}"


def client_fields(seed, *, siren_value=None, sites=None, ams=None, **extra):
    """The fields of an eligible client: 2023 activity, a RIS Vague 2 order, its FINESS and AM numbers."""
    return {"client_siren": siren_value or siren(40000000 + seed), "client_name": f"Centre d'imagerie {seed}",
            "activity_2023": True, "finess_geographiques": sites if sites is not None else [finess(seed)],
            "am_numbers": ams if ams is not None else [am_number(seed)], "ris_wave": "vague_2",
            "ris_order_reference": f"RIS-{seed}", **extra}


def make_order(operator, user, seed=None, *, structure_siren=None, pacs=None, sites=None, ams=None, signed=True,
               **client_extra):
    """A complete order (funds a declaration of its client on its PACS) unless told otherwise."""
    seed = seed or next(_seeds) + 500
    return operator_services.create_financing_order(
        acting_user=user, operator=operator, reference=f"BC-{seed:05d}",
        pacs_identifiers=[pacs or f"PACS-{seed}"],
        client=client_fields(seed, siren_value=structure_siren, sites=sites, ams=ams, **client_extra),
        signed_order=signed_order_upload() if signed else None,
    )


def declaration_data(seed=None, *, order=None, db="192.0.2.10", vi="192.0.2.11"):
    """Data of a funded declaration when ``order`` is given (structure and PACS taken from it)."""
    seed = seed or next(_seeds) + 500
    data = {
        "structure_name": f"Centre d'imagerie {seed}",
        "structure_siren": order.clients.first().siren if order else siren(40000000 + seed),
        "structure_finess_geographique": order.finess_list[0] if order and order.finess_list else finess(seed),
        "pacs": order.pacs_list[0] if order else f"PACS-{seed}",
        "financing_order": str(order.pk) if order else "",
        "db_addresses": db,
        "vi_addresses": vi,
        "responsable_contact": "responsable@example.fr",
        "support_contact": "support@example.fr, 01 23 45 67 89",
    }
    return data


def submitted_declaration(operator, user, *, data=None, kind=RequestKind.DECLARATION, drimbox=None):
    if data is None:
        data = declaration_data(order=make_order(operator, user))
    req = operator_services.create_request(acting_user=user, operator=operator, kind=kind, drimbox=drimbox, data=data)
    operator_services.add_attachment(req, acting_user=user, kind=AttachmentKind.CGI, uploaded_file=cgi_upload())
    return operator_services.submit_request(req, acting_user=user)


def approve(req, ans, **kwargs):
    req.refresh_from_db()
    if req.status == "soumise":
        operator_services.assign_request(req, acting_user=ans)
    return operator_services.approve_request(req, acting_user=ans, **kwargs)


def declared_drimbox(operator, user, ans, **kwargs):
    req = approve(submitted_declaration(operator, user, **kwargs), ans)
    return req.drimbox


@functools.lru_cache(maxsize=1)
def shared_pki():
    """The test IGC-Santé hierarchy the portal trusts during tests (tests/conftest.py points the settings at it)."""
    return pki.TestPKI()


def give_certificates(drimbox, technical=None):
    """A valid `db` certificate (uploaded) and a `vi` certificate (from a CSR, stored as the CA's answer)."""
    from certificates import services as cs

    technical = technical or Membership.objects.filter(
        operator=drimbox.operator, role=Role.TECHNICAL_ADMIN, ended_at__isnull=True).first().user
    issued = shared_pki().db_certificate(drimbox.db_fqdn, id_nat_struct=drimbox.operator.id_nat_struct)
    cs.upload_db_certificate(drimbox, acting_user=technical,
                             uploaded_file=SimpleUploadedFile("db.pem", issued.chain_pem))
    csr, key = pki.build_csr(drimbox.vi_fqdn)
    order = cs.request_vi_certificate(drimbox, acting_user=technical,
                                      uploaded_csr=SimpleUploadedFile("vi.csr", pki.csr_pem(csr)))
    vi = shared_pki().vi_certificate(drimbox.vi_fqdn, key=key)
    return cs.record_issued_vi_certificate(order, vi.chain_pem)


def active_drimbox(operator, user, ans, **kwargs):
    drimbox = declared_drimbox(operator, user, ans, **kwargs)
    give_certificates(drimbox)
    req = operator_services.create_request(acting_user=user, operator=operator, kind=RequestKind.INTEGRATION,
                                           drimbox=drimbox)
    approve(operator_services.submit_request(req, acting_user=user), ans)
    drimbox.refresh_from_db()
    return drimbox
