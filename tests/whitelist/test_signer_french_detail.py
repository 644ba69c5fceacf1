"""Whitelist signer errors on ANS pages (issue 16, item 7): a French message, the library's or service's own
English words (python-pkcs11, lxml) kept apart as the technical detail, folded under « Détail technique »."""
from html import unescape

import pkcs11
import pkcs11.exceptions as p11
import pytest
from django.urls import reverse

from trustspace.technical_detail import split_detail
from whitelist import pkcs11_signer, signers, xades


def test_a_token_error_reads_in_french_with_the_library_words_as_detail():
    with pytest.raises(signers.SignerError) as raised, pkcs11_signer._pkcs11_errors("jeton-ans", "cle"):
        raise p11.DeviceRemoved("The token has been removed from its slot")
    error = raised.value
    assert error.message == "Erreur du jeton PKCS#11 « jeton-ans » (DeviceRemoved)." and error.code == "signer_pkcs11"
    assert "removed" not in error.message and error.detail == "The token has been removed from its slot"
    assert split_detail(error.text) == (error.message, error.detail)


def test_an_unloadable_module_reads_in_french(tmp_path, monkeypatch):
    module = tmp_path / "libpkcs11.so"
    module.write_bytes(b"not a shared object")

    def refuse(path):
        raise pkcs11.PKCS11Error(f"{path}: invalid ELF header")

    monkeypatch.setattr(pkcs11, "lib", refuse)
    with pytest.raises(signers.SignerError) as raised:
        pkcs11_signer.load_library(str(module))
    assert raised.value.message == f"Module PKCS#11 inutilisable : {module}."
    assert raised.value.detail.endswith("invalid ELF header")


def test_a_failed_signature_keeps_the_parser_words_apart():
    with pytest.raises(xades.SigningError) as raised:
        xades.sign(b"<DrimWhitelist><unclosed></DrimWhitelist>", lambda data: b"", None)
    error = signers.signing_failed(raised.value, " par le jeton PKCS#11")
    assert error.message == "La signature de la liste blanche par le jeton PKCS#11 a échoué : XML mal formé."
    assert error.detail and error.detail not in error.message  # lxml's English words, as it wrote them


@pytest.mark.django_db
def test_the_ans_page_folds_the_library_words_in_the_technical_detail(world, client, monkeypatch):
    def unusable():
        raise signers.SignerError("Module PKCS#11 inutilisable : /opt/hsm/libpkcs11.so.",
                                  detail="libpkcs11.so: cannot open shared object file: No such file or directory")

    monkeypatch.setattr(signers, "public_certificate", unusable)
    client.force_login(world.ans)
    page = unescape(client.get(reverse("ans_whitelist")).content.decode())
    assert "Signataire de la liste blanche indisponible : Module PKCS#11 inutilisable : /opt/hsm/libpkcs11.so." in page
    folded = page.index("<summary>Détail technique</summary>")
    assert page.index("cannot open shared object file") > folded
    assert page.count("cannot open shared object file") == 1
