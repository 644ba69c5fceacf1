"""The quarterly list of the certificates an operator administers (CSV and XLSX, DESIGN §6)."""
import csv
import io

from django.utils import timezone
from openpyxl import Workbook
from openpyxl.utils import get_column_letter

from trustspace.paris_time import paris_date

from .models import Certificate

HEADER = ["Identifiant DRIMbox", "Nom", "Type", "Structure de santé", "SIREN structure", "FINESS géographique",
          "Sujet", "Émetteur", "Numéro de série", "Valide du", "Expire le", "État"]
STATES = {"valide": "Valide", "expire": "Expiré", "remplace": "Remplacé", "revoque": "Révoqué"}


def rows(operator, *, drimbox_ids=None, now=None):
    """Every certificate the operator administers that is not superseded, expired for under a year included;
    ``drimbox_ids`` (a token limited to some DRIMboxes): those DRIMboxes' certificates only."""
    now = now or timezone.now()
    certificates = Certificate.objects.filter(operator=operator, superseded_at__isnull=True,
                                              not_after__gte=now - timezone.timedelta(days=365))
    if drimbox_ids is not None:
        certificates = certificates.filter(drimbox_id__in=drimbox_ids)
    certificates = certificates.select_related("drimbox", "drimbox__health_structure").order_by(
        "drimbox__identifiant", "kind")
    for c in certificates:
        structure = c.drimbox.health_structure
        yield [
            c.drimbox.identifiant, c.drimbox.db_fqdn if c.kind == "db" else c.drimbox.vi_fqdn, c.kind,
            structure.name, structure.siren, structure.finess_geographique, c.subject, c.issuer, c.serial,
            paris_date(c.not_before), paris_date(c.not_after),
            STATES[c.state],
        ]


def _safe(value):
    """Spreadsheet formula injection: a cell never starts with = + - @ (values come from certificates)."""
    text = str(value)
    return "'" + text if text[:1] in {"=", "+", "-", "@", "\t", "\r"} else value


def to_csv(operator, *, drimbox_ids=None):
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";")
    writer.writerow(HEADER)
    for row in rows(operator, drimbox_ids=drimbox_ids):
        writer.writerow([_safe(value) for value in row])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")  # BOM: Excel opens UTF-8 correctly


def to_xlsx(operator, *, drimbox_ids=None):
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "Certificats"
    sheet.append(HEADER)
    for row in rows(operator, drimbox_ids=drimbox_ids):
        sheet.append([_safe(value) for value in row])
    for index, _ in enumerate(HEADER, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = 24
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
