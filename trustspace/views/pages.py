"""The site's information pages, linked from every footer (the DSFR's mandatory links): legal notice, personal
data, the accessibility statement (RGAA, « partiellement conforme ») and the site map of what the visitor can
reach. Public: 200 for everyone."""
from django.conf import settings
from django.shortcuts import render

from ..access import PUBLIC, access
from ..navigation import sitemap_sections

# « Données traitées » on the personal-data page (django-dsfr's table: caption, header, rows of text).
PROCESSED_DATA = {
    "caption": "Données personnelles traitées par le portail",
    "header": ["Catégorie", "Données", "Origine"],
    "content": [
        ["Identité de connexion", "Identifiant iSC, nom, prénom, adresse électronique",
         "Industriels Santé Connect (iSC), à chaque connexion"],
        ["Habilitations", "Rôle auprès d'un opérateur (représentant légal, administrateur technique, mandataire), "
         "référence de carte, mandat déposé, dates de début et de fin", "L'opérateur et la personne concernée"],
        ["Contacts de l'opérateur", "Adresse électronique et téléphone de contact, contact du support, boîte générique "
         "technique", "L'opérateur"],
        ["Documents déposés", "Contrat d'adhésion signé, bons de commande, procès-verbaux de VA et autres pièces "
         "jointes", "L'opérateur"],
        ["Journal d'audit", "Auteur, date et contenu de chaque action (création, modification, décision)",
         "Le portail"],
        ["Envois", "Destinataires et contenu des courriels de notification", "Le portail"],
        ["Journaux techniques", "Adresse IP (compteurs temporaires de limitation des tentatives) et identifiant de "
         "requête (diagnostic)", "Le navigateur ou le client de l'API"],
    ],
    "extra_classes": "fr-table--multiline",
}

# Facts only ANS can state (its address, the publication director, the host): shown as such, never invented.
TO_COMPLETE = "[à compléter par l'ANS]"


@access(PUBLIC)
def legal_notice(request):
    return render(request, "trustspace/legal_notice.html", {"title": "Mentions légales", "to_complete": TO_COMPLETE})


@access(PUBLIC)
def personal_data(request):
    return render(request, "trustspace/personal_data.html", {
        "title": "Données personnelles", "to_complete": TO_COMPLETE, "processed_data": PROCESSED_DATA,
        "session_hours": settings.SESSION_COOKIE_AGE // 3600,
        "weather_history_days": settings.WEATHER_HISTORY_DAYS,
        "outbox_keep_sent_days": settings.OUTBOX_KEEP_SENT_DAYS})


@access(PUBLIC)
def accessibility(request):
    return render(request, "trustspace/accessibility.html", {
        "title": "Déclaration d'accessibilité", "to_complete": TO_COMPLETE})


@access(PUBLIC)
def sitemap(request):
    return render(request, "trustspace/sitemap.html", {"title": "Plan du site", "sections": sitemap_sections(request)})
