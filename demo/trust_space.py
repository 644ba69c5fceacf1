"""The demo trust space: operators with people in every role, health structures, DRIMboxes, the first signed
whitelist, and 90 days of weather for the active DRIMboxes (``demo.weather_history``; ``manage.py
demo_drimboxes`` then serves them live).

Everything is written through the apps' services, so the demo has a full audit trail.
"""
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile

from operators import services
from operators.models import ContractVersion, DrimboxStatus, Operator, Role

from .accounts import logins_text
from .documents import demo_pdf, with_luhn
from .latency_history import seed_latency
from .services import create_demo_person
from .weather_history import seed_weather

OPERATORS = [
    {"key": "emedia", "name": "E-MEDIA", "siren8": "41225371", "city": "Dijon", "postal_code": "21000",
     "contract": True, "support": "support@e-media.example.fr, 03 80 00 00 00"},
    {"key": "radionum", "name": "Radiologie Numérique SAS", "siren8": "52311984", "city": "Lyon",
     "postal_code": "69003", "contract": True, "support": "assistance@radionum.example.fr, 04 72 00 00 00"},
    {"key": "imaco", "name": "Imagerie Connect", "siren8": "80042917", "city": "Rennes", "postal_code": "35000",
     "contract": False, "support": ""},
]
PENDING_OPERATOR = {"key": "nouvel", "name": "Nouvelle Imagerie SAS", "siren8": "90512837", "city": "Nantes",
                    "postal_code": "44000"}


def apply_for_operator(user, spec, *, card):
    """The application an operator's legal representative files (legal entity, card, signed contract)."""
    siren = with_luhn(spec["siren8"])
    siret = with_luhn(siren + "0001")
    return services.apply_for_operator(
        acting_user=user, contract_accepted=True,
        contract_document=SimpleUploadedFile("contrat.pdf", demo_pdf(f"Contrat d'adhésion signé {spec['name']}"),
                                             "application/pdf"),
        data={"name": spec["name"], "siren": siren, "siret": siret, "id_nat_struct": "3" + siret,
              "address_line": "1 rue de la République", "postal_code": spec["postal_code"], "city": spec["city"],
              "contact_email": f"contact@{spec['key']}.example.fr", "contact_phone": "01 23 45 67 89",
              "representative_name": user.display_name, "representative_function": "Présidente",
              "legal_rep_card": card})


STRUCTURES = [
    ("Centre d'imagerie médicale du Parc", "21", "emedia"),
    ("Cabinet de radiologie Saint-Michel", "69", "radionum"),
    ("Clinique des Lilas — imagerie", "69", "radionum"),
    ("Groupe hospitalier Bretagne Sud", "35", "radionum"),
]
DRIMBOXES = [  # (order of declaration, structure index, operator key, PACS, status reached)
    (1, 0, "emedia", "PACS Carestream Vue", DrimboxStatus.ACTIVE),
    (2, 0, "emedia", "PACS Carestream Vue (site 2)", DrimboxStatus.INTEGRATING),
    (3, 1, "radionum", "PACS Philips IntelliSpace", DrimboxStatus.ACTIVE),
    (4, 2, "radionum", "PACS Fujifilm Synapse", DrimboxStatus.DECLARED),
    (5, 3, "radionum", "PACS Agfa Enterprise Imaging", DrimboxStatus.WITHDRAWN),
]


def is_loaded() -> bool:
    return get_user_model().objects.filter(username="ans.admin").exists()


def load_trust_space() -> str:
    """Load the whole demo; returns the French summary line the command prints."""
    User = get_user_model()
    person = create_demo_person
    ans = person("ans.admin", "Alice", "Administratrice", is_ans_admin=True, is_staff=True, is_superuser=True)
    reviewer = person("ans.relecteur", "Bruno", "Relecteur", is_ans_admin=True)
    # The operators joined under the first version of the contract; the version in force came later
    # (Imagerie Connect has not accepted it yet).
    services.publish_contract_version(
        acting_user=ans, version="2025-09", title="Contrat d'adhésion à l'Espace de Confiance DRIM-M",
        body=CONTRACT_TEXT)
    operators = {}
    for number, spec in enumerate(OPERATORS):
        legal = person(f"rl.{spec['key']}", "Claire", f"Représentante {spec['name']}")
        # Onboarding as in production: the application, then ANS's review and approval.
        application = apply_for_operator(legal, spec, card=with_luhn(f"80000000{number}"))
        services.assign_request(application, acting_user=ans)
        operators[spec["key"]] = services.approve_request(application, acting_user=ans).operator
    current = services.publish_contract_version(
        acting_user=ans, version="2026-01", title="Contrat d'adhésion à l'Espace de Confiance DRIM-M",
        body=CONTRACT_TEXT,
    )
    for number, spec in enumerate(OPERATORS):
        operator, legal = operators[spec["key"]], User.objects.get(username=f"rl.{spec['key']}")
        if not spec["contract"]:
            continue
        services.accept_contract(operator, acting_user=legal, contract_version=current)
        for role, username, first in [(Role.MANDATAIRE, f"mandataire.{spec['key']}", "Marc"),
                                      (Role.TECHNICAL_ADMIN, f"at.{spec['key']}", "Théo")]:
            member = person(username, first, f"{Role(role).label} {spec['name']}")
            mandate = (SimpleUploadedFile("mandat.pdf", demo_pdf(f"Mandat {spec['name']}"), "application/pdf")
                       if role == Role.MANDATAIRE else None)
            _invitation, token = services.invite_person(operator, acting_user=legal, email=member.email, role=role,
                                                        mandate_document=mandate)
            # A technical administrator gives the reference of its CPA card when accepting.
            card = with_luhn(f"81000000{number}") if role == Role.TECHNICAL_ADMIN else ""
            services.accept_invitation(token, acting_user=member, card_reference=card)
        technical = User.objects.get(username=f"at.{spec['key']}")
        services.update_support_contact(operator, acting_user=technical, support_contact=spec["support"])
    services.invite_person(operators["radionum"], acting_user=User.objects.get(username="rl.radionum"),
                           email="nouvel.admin@radionum.example.fr", role=Role.TECHNICAL_ADMIN)
    # An application waiting for ANS in the review queue: its applicant has no operator rights yet.
    applicant = person("rl.nouvel", "Nadia", "Demandeuse Nouvelle Imagerie")
    apply_for_operator(applicant, PENDING_OPERATOR, card=with_luhn("800000009"))

    counts = load_drimboxes(ans, operators)
    # The first signed whitelist: prepared by one ANS administrator, approved by another (four eyes).
    from whitelist import services as whitelist_services

    version = whitelist_services.prepare_version(acting_user=ans, comment="Première liste de démonstration")
    whitelist_services.approve_and_publish(version, acting_user=reviewer)
    weather = seed_weather(technical_admin)
    seed_latency()
    return (f"Jeu de démonstration chargé : {Operator.objects.count()} opérateurs, {counts['drimboxes']} DRIMbox, "
            f"{counts['open']} demandes à instruire et 1 demande d'adhésion, "
            f"contrat {ContractVersion.current().version}, météo sur "
            f"{weather['days']} jours ({weather['transitions']} transitions, {weather['incidents']} incidents).")


def technical_admin(operator: Operator):
    """The demo's technical administrator of ``operator`` (the one who acknowledges incidents)."""
    key = next(spec["key"] for spec in OPERATORS if spec["name"] == operator.name)
    return get_user_model().objects.get(username=f"at.{key}")


def load_drimboxes(ans, operators: dict[str, Operator]) -> dict[str, int]:
    """Every DRIMbox goes through the real journey: order, declaration, review, integration…"""
    from operators.models import AttachmentKind, RequestKind

    User = get_user_model()

    def cgi():
        return SimpleUploadedFile("cgi.pdf", demo_pdf("Conditions Générales d'Intégration"), "application/pdf")

    def signed_order_pdf(reference):
        return SimpleUploadedFile("bon-de-commande.pdf", demo_pdf(f"Bon de commande {reference} signe"),
                                  "application/pdf")

    def submit(req, user):
        if req.kind in (RequestKind.DECLARATION, RequestKind.SWITCH):
            services.add_attachment(req, acting_user=user, kind=AttachmentKind.CGI, uploaded_file=cgi())
        return services.submit_request(req, acting_user=user)

    def review_and_approve(req, **kwargs):
        services.assign_request(req, acting_user=ans)
        return services.approve_request(req, acting_user=ans, **kwargs)

    drimboxes = 0
    for index, (name, department, key) in enumerate(STRUCTURES):
        operator, legal = operators[key], User.objects.get(username=f"rl.{key}")
        siren = with_luhn(f"{26 + index:02d}{department}{index:04d}")
        finess_g = with_luhn(f"{department}01{index:04d}")
        pacs, reference = f"PACS-{department}-{index + 1:03d}", f"SONS-IMG-DB-va2-{2026}-{index + 1:04d}"
        order = services.create_financing_order(
            acting_user=legal, operator=operator, reference=reference, pacs_identifiers=[pacs],
            signed_order=signed_order_pdf(reference), client={
                "client_siren": siren, "client_name": name, "activity_2023": True, "finess_geographiques": [finess_g],
                "am_numbers": [f"{department}1{index:05d}{index % 10}"], "ris_wave": "vague_2",
                "ris_order_reference": f"RIS-V2-{department}-{index + 1:03d}"})
        for spec in [d for d in DRIMBOXES if d[1] == index]:
            _n, _s, _key, _pacs, status = spec
            data = {
                "structure_name": name, "structure_siren": siren, "structure_finess_geographique": finess_g,
                "structure_finess_juridique": with_luhn(f"{department}00{index:04d}"),
                "pacs": pacs, "financing_order": str(order.pk),
                "db_addresses": f"192.0.2.{10 + drimboxes}", "vi_addresses": f"198.51.100.{10 + drimboxes}",
                "responsable_contact": f"responsable@{key}.example.fr",
                "support_contact": operator.support_contact or f"support@{key}.example.fr",
            }
            declaration = submit(services.create_request(acting_user=legal, operator=operator,
                                                   kind=RequestKind.DECLARATION, data=data), legal)
            drimbox = review_and_approve(declaration).drimbox
            drimboxes += 1
            if status == DrimboxStatus.DECLARED:
                continue
            give_certificates(drimbox, User.objects.get(username=f"at.{key}"))
            integration = submit(services.create_request(acting_user=legal, operator=operator,
                                                   kind=RequestKind.INTEGRATION, drimbox=drimbox), legal)
            if status == DrimboxStatus.INTEGRATING:
                continue
            review_and_approve(integration)
            if status == DrimboxStatus.WITHDRAWN:
                review_and_approve(submit(services.create_request(
                    acting_user=legal, operator=operator, kind=RequestKind.WITHDRAWAL, drimbox=drimbox,
                    data={"reason": "Fermeture du site d'imagerie."}), legal))
    # A declaration waiting in the review queue, and one sent back to its operator; both of a DRIMbox without
    # viewer (« Sans visionneuse » on the review page, no vi address).
    emedia, rl_emedia = operators["emedia"], User.objects.get(username="rl.emedia")
    pending = {
        "structure_name": "Centre de radiologie des Halles", "structure_siren": with_luhn("30210099"),
        "structure_finess_geographique": with_luhn("21019999"), "pacs": "PACS-21-NOUVEAU",
        "db_addresses": "192.0.2.99", "has_viewer": "non", "vi_addresses": "",
        "support_contact": "support@emedia.example.fr",
    }
    submit(services.create_request(acting_user=rl_emedia, operator=emedia, kind=RequestKind.DECLARATION, data=pending),
           rl_emedia)
    returned = submit(services.create_request(acting_user=rl_emedia, operator=emedia, kind=RequestKind.DECLARATION,
                                        data={**pending, "pacs": "PACS-21-AUTRE", "structure_siren":
                                              with_luhn("30210098")}), rl_emedia)
    services.assign_request(returned, acting_user=ans)
    services.request_changes(returned, acting_user=ans, comment="Joignez le bon de commande de ce PACS : la DRIMbox "
                       "n'est pas financée en l'état.")
    return {"drimboxes": drimboxes, "open": 1}


def give_certificates(drimbox, technical) -> None:
    """The technical administrator uploads a `db` certificate and asks for a `vi` one, as in real life;
    the development hierarchy stands in for IGC-Santé and for the ACME CA."""
    from cryptography.hazmat.primitives.serialization import Encoding

    from certificates import devpki
    from certificates import services as certificate_services

    directory = settings.DEV_PKI_DIR
    # The keys are kept (DEV_PKI_DIR/demo-keys) so that `manage.py demo_drimboxes` presents these very
    # certificates to the weather prober.
    db_chain = devpki.issue_db_certificate(directory, fqdn=drimbox.db_fqdn,
                                           id_nat_struct=drimbox.operator.id_nat_struct,
                                           organization=drimbox.operator.name, keep_key=True)
    certificate_services.upload_db_certificate(drimbox, acting_user=technical,
                                               uploaded_file=SimpleUploadedFile("db.pem", db_chain))
    csr = devpki.new_csr(drimbox.vi_fqdn, keep_key_in=directory)
    order = certificate_services.request_vi_certificate(
        drimbox, acting_user=technical, uploaded_csr=SimpleUploadedFile("vi.csr", csr.public_bytes(Encoding.PEM)))
    certificate_services.record_issued_vi_certificate(order, devpki.issue_vi_certificate(directory, csr=csr))


LOGINS = logins_text()


CONTRACT_TEXT = (
    "Article 1 — Objet\n"
    "Le présent contrat fixe les conditions dans lesquelles l'opérateur adhère à l'Espace de Confiance "
    "DRIM-M, administré par l'Agence du Numérique en Santé (ANS).\n"
    "\n"
    "Article 2 — Engagements de l'opérateur\n"
    "L'opérateur désigne un représentant légal et au moins un administrateur technique, déclare chaque "
    "DRIMbox qu'il exploite, maintient des certificats valides et informe l'ANS de tout incident de "
    "sécurité.\n"
    "\n"
    "Article 3 — Engagements de l'ANS\n"
    "L'ANS attribue les noms de domaine, publie la liste blanche signée et la météo des DRIMbox.\n"
    "\n"
    "Article 4 — Durée\n"
    "Le contrat prend effet à son acceptation et vaut jusqu'à la publication d'une nouvelle version, qui "
    "doit être acceptée à son tour.\n"
)
