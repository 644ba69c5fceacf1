"""The conformance kit the portal publishes for DRIMbox vendors (issue 15, item 4).

The test builds the kit as the portal serves it, then for every list of its manifest checks that our verifier gives
the manifest's verdict (code and French reason) under the manifest's parameters, with the files of the ZIP only,
and that ``xmlsec1 --verify`` refuses the lists whose defect is cryptographic and accepts the valid one.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import shutil
import stat
import subprocess
from concurrent.futures import ThreadPoolExecutor
from io import StringIO
from pathlib import Path

import pytest
from cryptography import x509
from django.core.management import CommandError, call_command
from django.urls import reverse

from tests.conftest import require_or_skip
from whitelist import conformance, signers
from whitelist import verify as wl

# The defects xmlsec1 must refuse (signed content, signature value, signer's trust) and what it says about each.
XMLSEC1_REFUSALS = {
    "01-entree-modifiee": "data and digest do not match",
    "02-entree-ajoutee-apres-signature": "data and digest do not match",
    "04-signature-supprimee": 'failed to find default node with name="Signature"',
    "05-valeur-de-signature-alteree": "signature verification failed",
    "06-proprietes-signees-modifiees": "data and digest do not match",
    "08-signataire-non-reconnu": "certificate verification failed",
    "09-signataire-expire": "certificate has expired",
}


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def kit(media):
    return conformance.current_kit()


@pytest.fixture
def unpacked(kit):
    return conformance.read_kit(kit.data)


def _options(document, files, case):
    parameters = document["parametres"]
    options = {
        "anchors": [files[name] for name in parameters["ancres"]],
        "intermediates": [files[name] for name in parameters["intermediaires"]],
        "crls": [files[name] for name in parameters["lcr"]],
        "signer_cn": parameters["signataire_cn"],
        "signer_ou": parameters["signataire_ou"],
        "unique_identifiant": parameters["identifiant_unique"],
    }
    if case["derniere_date_de_generation_acceptee"]:
        options["not_before_generation"] = case["derniere_date_de_generation_acceptee"]
    return options


def _slug(case):
    return Path(case["fichier"]).stem


def test_our_verifier_gives_every_list_the_manifest_verdict(unpacked):
    document, files = unpacked
    assert [_slug(case) for case in document["cas"]] == [case.slug for case in conformance.CASES]
    verdicts = {}
    for case in document["cas"]:
        data = files[case["fichier"]]
        assert hashlib.sha256(data).hexdigest() == case["sha256"]
        try:
            wl.verify(data, **_options(document, files, case))
        except wl.VerificationError as exc:
            verdicts[_slug(case)] = ("refuse", exc.reason_code)
            assert case["motif"] in exc.message, (case["fichier"], exc.message)
        else:
            verdicts[_slug(case)] = ("accepte", None)
    assert verdicts == {_slug(case): (case["verdict"], case["code"]) for case in document["cas"]}
    assert verdicts["00-valide"] == ("accepte", None)
    assert sum(verdict == "refuse" for verdict, _code in verdicts.values()) == len(conformance.CASES) - 1


def test_xmlsec1_refuses_the_cryptographic_defects_and_accepts_the_valid_list(unpacked, tmp_path):
    binary = shutil.which("xmlsec1")
    require_or_skip(binary, "xmlsec1 (Debian) is not installed")
    document, files = unpacked
    for name, data in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(data)
    answers = {}
    for case in document["cas"]:
        command = document["commande_xmlsec1"].replace("<fichier>", case["fichier"]).split()
        assert command[0] == "xmlsec1"
        done = subprocess.run([binary, *command[1:]], cwd=tmp_path, capture_output=True, text=True, timeout=30,
                              check=False)
        answers[_slug(case)] = "accepte" if done.returncode == 0 else "refuse"
        if _slug(case) in XMLSEC1_REFUSALS:
            assert XMLSEC1_REFUSALS[_slug(case)] in done.stderr, (case["fichier"], done.stderr)
    assert answers == {_slug(case): case["xmlsec1"] for case in document["cas"]}
    assert answers["00-valide"] == "accepte"
    assert {slug for slug, answer in answers.items() if answer == "refuse"} == set(XMLSEC1_REFUSALS)


def test_kit_contents(unpacked):
    document, files = unpacked
    assert set(files) == {*conformance.FILES.values(), *(case["fichier"] for case in document["cas"])}
    assert not any(b"PRIVATE KEY" in data for data in files.values())
    root = x509.load_pem_x509_certificate(files[conformance.FILES["root"]])
    intermediate = x509.load_pem_x509_certificate(files[conformance.FILES["intermediate"]])
    assert root.subject == root.issuer and intermediate.issuer == root.subject
    assert document["ancres"][0]["sha256"] == conformance.fingerprint(root)
    readme = files[conformance.FILES["readme"]].decode()
    for case in document["cas"]:
        assert case["fichier"] in readme
        if case["verdict"] == "refuse":
            assert case["code"] and case["motif"] and f"`{case['code']}`" in readme
    assert "Procédure de vérification qu'une DRIMbox doit suivre" in readme
    assert "ne jamais l'installer" in document["avertissement"]
    generated = wl.parse_instant(document["genere_le"])
    assert wl.parse_instant(document["valide_jusqu_au"]) - generated > dt.timedelta(days=365)


def test_kit_is_signed_by_its_own_test_hierarchy_never_the_portal_signer(settings, signer_p12, unpacked):
    document, files = unpacked
    production, chain = signers.public_certificate()
    kit_root = x509.load_pem_x509_certificate(files[conformance.FILES["root"]])
    valid = wl.verify(files["listes/00-valide.xml"], **_options(document, files, document["cas"][0]))
    assert valid.signer != production and valid.chain[-1] == kit_root
    assert kit_root not in [production, *chain]
    with pytest.raises(wl.VerificationError) as info:  # the portal's trust does not accept the kit
        wl.verify(files["listes/00-valide.xml"], anchors=chain[-1:], check_crl=False)
    assert info.value.reason_code == "untrusted_chain"


def test_kit_is_cached_then_renewed_with_the_same_anchors(media):
    first = conformance.current_kit()
    hierarchy = Path(media) / conformance.KIT_DIRECTORY_NAME / "hierarchie.json"
    assert stat.S_IMODE(hierarchy.stat().st_mode) == 0o600
    hierarchy_mtime = hierarchy.stat().st_mtime_ns
    assert conformance.current_kit().sha256 == first.sha256
    later = first.generated_at + conformance.KIT_MAX_AGE + dt.timedelta(hours=1)
    renewed = conformance.current_kit(now=later)
    assert renewed.sha256 != first.sha256 and renewed.generated_at == later
    assert renewed.manifest["ancres"] == first.manifest["ancres"]
    assert hierarchy.stat().st_mtime_ns == hierarchy_mtime
    assert conformance.current_kit(now=later + dt.timedelta(days=1)).sha256 == renewed.sha256


def test_concurrent_first_requests_build_one_kit(media):
    with ThreadPoolExecutor(max_workers=4) as pool:
        kits = list(pool.map(lambda _n: conformance.current_kit(), range(4)))
    assert len({kit.sha256 for kit in kits}) == 1
    assert kits[0].data == (Path(media) / conformance.KIT_DIRECTORY_NAME / conformance.ZIP_NAME).read_bytes()


def test_public_page(client, kit):
    response = client.get(reverse("whitelist_conformance_kit"))
    assert response.status_code == 200
    body = response.content.decode()
    assert "Kit de conformité des DRIMbox" in body and kit.sha256 in body
    assert reverse("whitelist_conformance_kit_zip") in body
    for case in kit.manifest["cas"]:
        assert f'data-case="{case["fichier"]}" data-verdict="{case["verdict"]}"' in body
    assert "<code>DateDeGeneration</code>" in body  # the procedure's code spans, the rest escaped
    hierarchy = conformance.KitHierarchy.from_json((conformance.kit_directory() / "hierarchie.json").read_bytes())
    assert conformance.fingerprint(hierarchy.root) in body.replace(":<wbr>", ":")


def test_zip_download_and_conditional_get(client, kit):
    url = reverse("whitelist_conformance_kit_zip")
    response = client.get(url)
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    assert response.content == kit.data and response["ETag"] == kit.etag
    assert response["Content-Disposition"] == f'attachment; filename="{conformance.ZIP_NAME}"'
    assert client.get(url, HTTP_IF_NONE_MATCH=kit.etag).status_code == 304
    assert client.get(url, HTTP_IF_NONE_MATCH='"autre"').status_code == 200
    assert client.head(url).status_code == 200
    assert client.post(url).status_code == 405


def test_command_writes_the_served_kit(media, tmp_path, capsys):
    target = tmp_path / "kit.zip"
    call_command("whitelist_conformance_kit", "--output", str(target))
    kit = conformance.current_kit()
    assert target.read_bytes() == kit.data
    out = capsys.readouterr().out
    assert f"{len(conformance.CASES)} listes dont {len(conformance.CASES) - 1} à refuser" in out and kit.sha256 in out
    call_command("whitelist_conformance_kit", "--renew")
    assert conformance.current_kit().sha256 != kit.sha256


def test_the_documented_command_gives_the_manifest_verdicts(unpacked, tmp_path):
    """The portal's page shows ``whitelist_verify`` with these arguments: it answers as the manifest says."""
    document, files = unpacked
    for name, data in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(data)
    base = ["--unique-identifiant", "--anchor", str(tmp_path / conformance.FILES["root"]), "--intermediate",
            str(tmp_path / conformance.FILES["intermediate"]), "--crl", str(tmp_path / conformance.FILES["crl"])]
    for case in document["cas"]:
        arguments = [str(tmp_path / case["fichier"]), *base]
        if case["derniere_date_de_generation_acceptee"]:
            arguments += ["--not-before", case["derniere_date_de_generation_acceptee"]]
        if case["verdict"] == "accepte":
            out = StringIO()
            call_command("whitelist_verify", *arguments, stdout=out)
            assert out.getvalue().strip() == "OK 3"
            continue
        with pytest.raises(CommandError) as info:
            call_command("whitelist_verify", *arguments)
        assert str(info.value).startswith(f"REFUS {case['code']} : ") and case["motif"] in str(info.value)
