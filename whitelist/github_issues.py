"""Operators' requests filed as GitHub issues (issue form), read from the issue text (DESIGN §7).

It parses the issue-form body (``### <label>`` sections; ``_No response_`` is empty; labels ``Nom``,
``Description``, ``DNCertificatOperateur`` matched case-insensitively, also inside a longer label) and takes the
kind from the title prefix (``[Update]: ``, ``[Add]``, ``[Delete]``). Pull requests, which the issues endpoint
also returns, are recognised and skipped. ``whitelist.services.intake`` polls the repository, records each issue
once and answers it with the texts below.

Issue text is anyone's input. Title and body lose their control and invisible characters (U+0000 would make
PostgreSQL refuse the row; tab and line breaks are kept in the body; ANS sees a note of what was removed), a body
over ``WHITELIST_GITHUB_INTAKE_MAX_BODY_BYTES`` is not read, and parsing splits lines and scans them with str
methods (linear time, no backtracking regex).

Anyone with a GitHub account can open an issue naming any DN: the matched DRIMbox is only « the DRIMbox of
the DN given », and GitHub's ``author_association`` is stored and shown to ANS.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from django.conf import settings
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from github import GithubException

from certificates.models import Certificate
from operators.models import Drimbox
from trustspace.paris_time import paris_datetime
from trustspace.text import (
    describe_character,
    find_forbidden_character,
    remove_forbidden_characters,
)

from .models import GitHubIssueKind, GitHubIssueStatus

logger = logging.getLogger(__name__)

PERMANENT_STATUSES = (403, 404, 410)
NO_RESPONSE = "_no response_"
KIND_PREFIXES = (("[update]", GitHubIssueKind.UPDATE), ("[add]", GitHubIssueKind.ADD),
                 ("[delete]", GitHubIssueKind.DELETE))
FIELDS = (("nom", "Nom"), ("description", "Description"), ("dn_certificat_operateur", "DNCertificatOperateur"))
TITLE_READ_CHARS = 2000  # GitHub caps titles at 256 characters: anything longer is cut before it is cleaned
STORED_BODY_CHARS = 20000
LONGEST_FQDN = 253


# --- parsing ----------------------------------------------------------------------------------------
# Issue text is anyone's input: it is cleaned, size-checked, split into lines and scanned with str methods
# only, never given to a backtracking regex (the former section regex took ~20 s on 64 KiB of spaces).


def kind_of(title: str) -> str:
    lowered = (title or "").strip().lower()
    for prefix, kind in KIND_PREFIXES:
        if lowered.startswith(prefix):
            return kind
    return GitHubIssueKind.UNKNOWN


def _heading_label(line: str) -> str | None:
    """The label of a ``### label`` line (closing spaces and ``#`` dropped), or ``None`` for any other line."""
    if not line.startswith("###") or line[3:4] not in (" ", "\t"):
        return None
    return line[3:].strip(" \t").rstrip(" \t#").strip()


def _section_value(lines: list[str]) -> str:
    value = "\n".join(lines).strip()
    return "" if len(value) == len(NO_RESPONSE) and value.lower() == NO_RESPONSE else value


def sections(body: str) -> list[tuple[str, str]]:
    """(label, value) of each ``### label`` section of a rendered issue form, in order: one pass over the lines."""
    found, label, lines = [], None, []
    for line in (body or "").replace("\r\n", "\n").split("\n"):
        heading = _heading_label(line)
        if heading is None:
            if label is not None:
                lines.append(line)
            continue
        if label is not None:
            found.append((label, _section_value(lines)))
        label, lines = heading, []
    if label is not None:
        found.append((label, _section_value(lines)))
    return found


def _is_word_character(ch: str) -> bool:
    return ch.isalnum() or ch == "_"


def _holds_word(text: str, word: str) -> bool:
    """Whether ``word`` occurs in ``text`` not glued to a letter, digit or ``_`` (as ``(?<!\\w)word(?!\\w)``)."""
    start = text.find(word)
    while start != -1:
        end = start + len(word)
        if ((start == 0 or not _is_word_character(text[start - 1]))
                and (end == len(text) or not _is_word_character(text[end]))):
            return True
        start = text.find(word, start + 1)
    return False


def form_fields(body: str) -> dict[str, str] | None:
    """``{"nom", "description", "dn_certificat_operateur"}`` from the form, or ``None`` if it is not one.

    A label matches its field case-insensitively, exactly, else as a word inside a longer label."""
    found = [(label.casefold(), value) for label, value in sections(body)]
    values = {}
    for name, field_id in FIELDS:
        wanted = field_id.casefold()
        value = next((value for label, value in found if label == wanted), None)
        if value is None:
            value = next((value for label, value in found if _holds_word(label, wanted)), None)
        values[name] = value
    if all(value is None for value in values.values()):
        return None
    return {name: (value or "") for name, value in values.items()}


def _rdns(dn: str) -> list[str]:
    """The ``type=value`` parts of a DN: split at its commas, except escaped ones (``\\,``)."""
    parts, pending = [], []
    for piece in dn.split(","):
        pending.append(piece)
        if (len(piece) - len(piece.rstrip("\\"))) % 2 == 0:  # an odd run of backslashes escapes the comma
            parts.append(",".join(pending))
            pending = []
    if pending:
        parts.append(",".join(pending))
    return parts


def common_name(dn: str) -> str:
    """The value of the DN's first non-empty CN, unescaped."""
    for rdn in _rdns(dn or ""):
        attribute, equals, value = rdn.partition("=")
        if equals and attribute.strip().casefold() == "cn" and (value := value.strip().replace("\\", "")):
            return value
    return ""


def _normal_dn(dn):
    """The DN without spaces around its ``,`` and ``=``, casefolded (to compare two spellings)."""
    return ",".join("=".join(part.strip() for part in rdn.split("="))
                    for rdn in (dn or "").strip().split(",")).casefold()


def matching_drimbox(dn: str):
    """The DRIMbox whose registry `db` FQDN is the DN's CN (or the field itself, when it holds only the `db`
    FQDN), or whose certificate has this subject."""
    cn = named_fqdn(dn)
    if not cn or len(cn) > LONGEST_FQDN:  # no FQDN is longer: not worth a query with a huge pattern
        return None
    drimbox = Drimbox.objects.filter(db_fqdn__iexact=cn).first()
    if drimbox is not None:
        return drimbox
    wanted = _normal_dn(dn)
    for certificate in Certificate.objects.filter(subject__icontains=cn).select_related("drimbox")[:50]:
        if _normal_dn(certificate.subject) == wanted:
            return certificate.drimbox
    return None


def named_fqdn(value: str) -> str:
    """The `db` FQDN the field names: the CN of a DN, or the field itself when it holds only an FQDN."""
    value = (value or "").strip()
    if "=" in value:
        return common_name(value)
    fqdn = value.rstrip(".")
    return fqdn if "." in fqdn and not any(ch.isspace() or ch in ",;/" for ch in fqdn) else ""


def invalid_reason(kind, fields) -> str:
    if fields is None:
        return ("Le texte de l'issue n'est pas celui du formulaire : les sections Nom, Description et "
                "DNCertificatOperateur sont absentes.")
    problems = []
    if kind == GitHubIssueKind.UNKNOWN:
        problems.append("le titre ne commence pas par [Add], [Update]: ou [Delete]")
    if not fields["nom"]:
        problems.append("le champ Nom est vide")
    if not fields["dn_certificat_operateur"]:
        problems.append("le champ DNCertificatOperateur est vide")
    elif not named_fqdn(fields["dn_certificat_operateur"]):
        problems.append("le DNCertificatOperateur ne contient ni CN ni FQDN db")
    if not problems:
        return ""
    text = " ; ".join(problems)
    return text[0].upper() + text[1:] + "."


# --- reading an issue ------------------------------------------------------------------------------


def max_body_bytes() -> int:
    return int(getattr(settings, "WHITELIST_GITHUB_INTAKE_MAX_BODY_BYTES", 65536))


def clean_text(text: str, *, multiline: bool) -> tuple[str, str]:
    """``text`` without control, invisible and bidi characters (tab and line breaks kept when ``multiline``):
    PostgreSQL refuses U+0000 and the text is shown to ANS and quoted on GitHub. Also the French note of what was
    removed (empty when nothing was)."""
    probe = text.replace("\n", "").replace("\r", "").replace("\t", "") if multiline else text
    if probe.isprintable():  # C speed: false for every character find_forbidden_character refuses
        return text, ""
    cleaned = remove_forbidden_characters(text, multiline=multiline)
    removed = len(text) - len(cleaned)
    if not removed:
        return text, ""
    first = describe_character(find_forbidden_character(text, multiline=multiline))
    plural = "s" if removed > 1 else ""
    return cleaned, (f"{removed} caractère{plural} de contrôle ou invisible{plural} retiré{plural} "
                     f"(le premier : {first})")


@dataclass(frozen=True)
class ParsedIssue:
    title: str  # cleaned
    body: str  # cleaned (only its beginning when the text is too long to be read)
    kind: str
    fields: dict[str, str] | None
    invalid_reason: str
    quarantine_reason: str  # set when the text is not read at all
    note: str  # what cleaning removed, for ANS


def _size(count: int) -> str:
    return f"{count:,}".replace(",", " ")


def parse_issue(title, body, *, max_bytes=None) -> ParsedIssue:
    """Clean, size-check and parse an issue's title and body; linear in their length."""
    limit = max_body_bytes() if max_bytes is None else max_bytes
    title, title_note = clean_text(str(title or "")[:TITLE_READ_CHARS], multiline=False)
    body = str(body or "")
    kind = kind_of(title)
    size = len(body.encode("utf-8", "surrogatepass"))  # lone surrogates (JSON \ud800) are counted, then removed
    too_long = size > limit
    body, body_note = clean_text(body[:STORED_BODY_CHARS] if too_long else body, multiline=True)
    notes = [f"titre : {title_note}" if title_note else "", f"texte : {body_note}" if body_note else ""]
    note = " ; ".join(note for note in notes if note)
    note = f"{note[0].upper()}{note[1:]}." if note else ""
    if too_long:
        reason = (f"Texte de l'issue trop long ({_size(size)} octets, au plus {_size(limit)}) : il n'a pas été lu.")
        return ParsedIssue(title, body, kind, None, "", reason, note)
    fields = form_fields(body)
    return ParsedIssue(title, body, kind, fields, invalid_reason(kind, fields), "", note)


def issue_details(issue):
    """The issue's GitHub metadata, cleaned and cut to the columns."""
    user = getattr(issue, "user", None)
    created = getattr(issue, "created_at", None)
    return {
        "author_login": clean_text(str(getattr(user, "login", "") or "")[:100], multiline=False)[0],
        "html_url": clean_text(str(issue.html_url or "")[:500], multiline=False)[0],
        "author_association": clean_text(str(getattr(issue, "author_association", "") or "")[:40], multiline=False)[0],
        "github_created_at": created if isinstance(created, datetime) else timezone.now(),
    }


def is_pull_request(issue):
    # The issues endpoint also lists pull requests; their html_url names /pull/ (as their `pull_request` key).
    # PyGithub's `issue.pull_request` is not used: for a plain issue the key is absent from the list payload, and
    # reading the attribute then makes PyGithub fetch the whole issue again (one request per issue).
    return "/pull/" in (issue.html_url or "")


def intake_label():
    return (getattr(settings, "WHITELIST_GITHUB_INTAKE_LABEL", "") or "").strip()


def intake_since():
    """``WHITELIST_GITHUB_INTAKE_SINCE`` as an aware datetime, or ``None`` (unset or unreadable, logged)."""
    value = (getattr(settings, "WHITELIST_GITHUB_INTAKE_SINCE", "") or "").strip()
    if not value:
        return None
    moment = parse_datetime(value)
    if moment is None and (day := parse_date(value)) is not None:
        moment = datetime(day.year, day.month, day.day)
    if moment is None:
        logger.warning("WHITELIST_GITHUB_INTAKE_SINCE=%r is not an ISO date: ignored", value)
        return None
    return moment if timezone.is_aware(moment) else moment.replace(tzinfo=UTC)


# --- comments on the issue ------------------------------------------------------------------------


def receipt_text(request):
    if request.status == GitHubIssueStatus.QUARANTINED:
        return (f"Demande reçue par le portail de l'Espace de Confiance DRIM-M sous la référence "
                f"{request.reference}, mais elle n'a pas pu être importée : {request.quarantine_reason} Elle est "
                "mise en quarantaine et signalée à l'ANS. Merci d'ouvrir une nouvelle issue avec le formulaire "
                "(titre [Add], [Update]: ou [Delete], champs Nom, Description et DNCertificatOperateur, texte court), "
                "ou de faire la démarche dans le portail.")
    if request.status == GitHubIssueStatus.INVALID:
        return (f"Demande reçue par le portail de l'Espace de Confiance DRIM-M sous la référence "
                f"{request.reference}, mais elle ne peut pas être examinée : {request.invalid_reason} "
                "Merci d'ouvrir une nouvelle issue avec le formulaire (titre [Add], [Update]: ou [Delete], champs "
                "Nom, Description et DNCertificatOperateur), ou de faire la démarche dans le portail.")
    return (f"Demande reçue par le portail de l'Espace de Confiance DRIM-M sous la référence {request.reference} ; "
            "elle sera examinée par l'ANS.")


def decision_text(request):
    comment = f"\n\nCommentaire de l'ANS : {request.decision_comment}" if request.decision_comment else ""
    if request.status == GitHubIssueStatus.ACCEPTED and request.portal_request_id:
        return (f"La demande {request.reference} a été acceptée par l'ANS. Elle est traitée dans le portail de "
                "l'Espace de Confiance DRIM-M, source de vérité de la liste blanche, par la demande "
                f"{request.portal_request.reference} : cette issue sera fermée quand la version de la liste blanche "
                f"qui applique la modification sera publiée.{comment}")
    if request.status == GitHubIssueStatus.ACCEPTED:
        return (f"La demande {request.reference} a été acceptée par l'ANS, sans demande dans le portail de "
                f"l'Espace de Confiance DRIM-M : {request.no_link_reason}{comment}")
    return f"La demande {request.reference} a été refusée par l'ANS.{comment}"


def applied_text(request):
    version = request.applied_version
    return (f"La modification demandée ({request.reference}, demande {request.portal_request.reference} du portail) "
            f"est publiée dans la version {version.number} de la liste blanche DRIM-M, publiée le "
            f"{paris_datetime(version.published_at)}. L'issue est fermée.")


def permanent_comment_failure(exc):
    status = exc.status if isinstance(exc, GithubException) else None
    if status not in PERMANENT_STATUSES:
        return None
    why = {403: "accès refusé (403) : issue verrouillée ou jeton sans droit d'écrire",
           404: "issue introuvable (404) : supprimée, transférée ou dépôt inaccessible",
           410: "issue supprimée (410)"}[status]
    return f"GitHub refuse le commentaire : {why}. Plus de nouvel essai automatique : répondez sur GitHub à la main."


def portal_link(request):
    """Where ANS acts in the portal for an accepted request (the DRIMbox, else the review queue)."""
    if request.drimbox_id:
        return reverse("drimbox_detail", kwargs={"pk": request.drimbox_id})
    return reverse("ans_review_queue")
