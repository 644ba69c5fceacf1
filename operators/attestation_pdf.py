"""The attestation de délégation as a PDF (fpdf2), from the attestation's own snapshot.

Names of operators and structures are any Unicode (« Cœur », « — »): the PDF embeds DejaVu Sans
(shipped in ``operators/fonts`` with its licence) rather than a core font limited to Latin-1.
"""
from pathlib import Path

from django.utils import timezone
from fpdf import FPDF

BLUE_FRANCE = (0, 0, 145)
FONTS = Path(__file__).resolve().parent / "fonts"
FONT = "dejavu"


def _line(pdf, label, value):
    pdf.set_font(FONT, "B", 10)
    pdf.cell(62, 7, label)
    pdf.set_font(FONT, "", 10)
    pdf.multi_cell(0, 7, value, new_x="LMARGIN", new_y="NEXT")


def render_attestation(attestation, *, check_url):
    """PDF bytes; ``check_url`` is the public page where anyone checks the reference code."""
    issued = timezone.localtime(attestation.issued_at)
    pdf = FPDF(format="A4")
    pdf.add_font(FONT, "", FONTS / "DejaVuSans.ttf")
    pdf.add_font(FONT, "B", FONTS / "DejaVuSans-Bold.ttf")
    pdf.set_title(f"Attestation de délégation {attestation.code}")
    pdf.set_author("Agence du Numérique en Santé")
    pdf.set_creation_date(attestation.issued_at)
    pdf.add_page()
    pdf.set_text_color(*BLUE_FRANCE)
    pdf.set_font(FONT, "B", 11)
    pdf.cell(0, 6, "RÉPUBLIQUE FRANÇAISE", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FONT, "", 10)
    pdf.cell(0, 6, "Agence du Numérique en Santé — Espace de Confiance DRIM-M", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(8)
    pdf.set_font(FONT, "B", 18)
    pdf.cell(0, 10, "Attestation de délégation", new_x="LMARGIN", new_y="NEXT")
    pdf.set_text_color(0, 0, 0)
    pdf.ln(4)
    pdf.set_font(FONT, "", 10)
    pdf.multi_cell(0, 6, (
        f"L'Agence du Numérique en Santé atteste que la DRIMbox d'identifiant {attestation.identifiant} est "
        f"déclarée dans l'Espace de Confiance DRIM-M par l'opérateur {attestation.operator_name} pour le compte "
        f"de la structure de santé {attestation.structure_name}, et que les noms de domaine ci-dessous lui sont "
        "délégués."
    ), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    _line(pdf, "Opérateur", f"{attestation.operator_name} (SIREN {attestation.operator_siren})")
    structure = f"{attestation.structure_name} (SIREN {attestation.structure_siren}"
    structure += f", FINESS géographique {attestation.structure_finess})" if attestation.structure_finess else ")"
    _line(pdf, "Structure de santé", structure)
    _line(pdf, "Identifiant de la DRIMbox", str(attestation.identifiant))
    _line(pdf, "Nom db (WADO-RS)", attestation.db_fqdn)
    _line(pdf, "Nom vi (visionneuse)", attestation.vi_fqdn or "sans visionneuse")
    _line(pdf, "Date de délivrance", issued.strftime("%d/%m/%Y à %H:%M"))
    _line(pdf, "Demande", attestation.request.reference)
    pdf.ln(6)
    pdf.set_font(FONT, "B", 12)
    pdf.cell(0, 8, f"Code de vérification : {attestation.code}", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FONT, "", 9)
    pdf.multi_cell(0, 5, (
        f"Toute personne peut vérifier l'authenticité de cette attestation en saisissant ce code sur {check_url}"
    ), new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())
