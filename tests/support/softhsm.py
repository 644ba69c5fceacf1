"""A private SoftHSM2 token for tests (Debian ``softhsm2``), driven by ``softhsm2-util`` and python-pkcs11.

    hsm = SoftHsm(directory)                  # its own softhsm2.conf and token directory
    hsm.init_token("drimm-test", pin="1234", so_pin="5678")
    public_key = hsm.generate_rsa_key("signer", key_id=b"\\x01")   # generated on the token, never exported
    hsm.store_certificate(cert, label="signer", key_id=b"\\x01")

SoftHSM2 reads ``SOFTHSM2_CONF`` when the library is initialised, and python-pkcs11 loads a library once
per process: ``activate()`` points the environment at this token directory and re-initialises the library,
so one ``SoftHsm`` (session scoped) serves the whole test run.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding

from whitelist.pkcs11_signer import find_module

__all__ = ["SoftHsm", "softhsm_available", "softhsm_module"]


def softhsm_module() -> str | None:
    module = find_module("")
    return module if module and os.path.exists(module) else None


def softhsm_available() -> bool:
    return bool(shutil.which("softhsm2-util")) and softhsm_module() is not None


class SoftHsm:
    def __init__(self, directory: Path):
        self.directory = Path(directory)
        self.tokens = self.directory / "tokens"
        self.tokens.mkdir(parents=True, exist_ok=True)
        self.conf = self.directory / "softhsm2.conf"
        self.conf.write_text(f"directories.tokendir = {self.tokens}\nobjectstore.backend = file\n"
                             "log.level = ERROR\nslots.removable = false\n")
        self.module = softhsm_module()
        self.pins: dict[str, str] = {}

    def _env(self):
        return {**os.environ, "SOFTHSM2_CONF": str(self.conf)}

    def init_token(self, label: str, *, pin: str, so_pin: str) -> None:
        done = subprocess.run(["softhsm2-util", "--init-token", "--free", "--label", label, "--pin", pin,
                               "--so-pin", so_pin], env=self._env(), capture_output=True, text=True, timeout=60,
                              check=False)
        if done.returncode != 0:
            raise RuntimeError(f"softhsm2-util --init-token failed: {done.stderr or done.stdout}")
        self.pins[label] = pin
        self.activate()

    def activate(self):
        """Point this process's SoftHSM2 at our token directory (re-initialising the loaded library)."""
        import pkcs11

        os.environ["SOFTHSM2_CONF"] = str(self.conf)
        lib = pkcs11.lib(self.module)
        lib.reinitialize()
        return lib

    def _session(self, token_label: str):
        import pkcs11

        token = pkcs11.lib(self.module).get_token(token_label=token_label)
        return token.open(user_pin=self.pins[token_label], rw=True)

    def generate_rsa_key(self, token_label: str, label: str, *, key_id: bytes, bits: int = 2048
                         ) -> rsa.RSAPublicKey:
        """An RSA key pair generated on the token (private part sensitive, not extractable); its public key."""
        from pkcs11 import Attribute, KeyType

        with self._session(token_label) as session:
            public, _private = session.generate_keypair(
                KeyType.RSA, bits, label=label, id=key_id, store=True,
                private_template={Attribute.SENSITIVE: True, Attribute.EXTRACTABLE: False,
                                  Attribute.SIGN: True},
                public_template={Attribute.VERIFY: True})
            modulus = int.from_bytes(bytes(public[Attribute.MODULUS]), "big")
            exponent = int.from_bytes(bytes(public[Attribute.PUBLIC_EXPONENT]), "big")
        return rsa.RSAPublicNumbers(exponent, modulus).public_key()

    def private_key_attributes(self, token_label: str, label: str) -> dict:
        from pkcs11 import Attribute, ObjectClass

        with self._session(token_label) as session:
            key = session.get_key(object_class=ObjectClass.PRIVATE_KEY, label=label)
            return {"sensitive": bool(key[Attribute.SENSITIVE]), "extractable": bool(key[Attribute.EXTRACTABLE])}

    def store_certificate(self, token_label: str, cert: x509.Certificate, *, label: str, key_id: bytes = b"") -> None:
        from pkcs11 import Attribute, CertificateType, ObjectClass

        template = {Attribute.CLASS: ObjectClass.CERTIFICATE, Attribute.CERTIFICATE_TYPE: CertificateType.X_509,
                    Attribute.TOKEN: True, Attribute.LABEL: label, Attribute.SUBJECT: cert.subject.public_bytes(),
                    Attribute.VALUE: cert.public_bytes(Encoding.DER)}
        if key_id:
            template[Attribute.ID] = key_id
        with self._session(token_label) as session:
            session.create_object(template)
