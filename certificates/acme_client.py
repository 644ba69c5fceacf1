"""The portal's ACME client (RFC 8555) for the DRIMboxes' ``vi`` certificates, on certbot's ``acme`` package.

The portal owns the DNS zone, so it answers DNS-01 itself: for the single DNS name of an operator's CSR it
publishes ``_acme-challenge.<name>`` TXT through the zone client (RFC 2136), waits until the authoritative
server answers it, lets the CA validate, finalizes the order and always removes the TXT record.

No Django here: callers build an :class:`AcmeSettings` and pass a zone client (anything with ``set_txt``,
``delete_txt`` and ``lookup(name, "TXT")``, e.g. :class:`trustspace.dnszone.ZoneClient`). Every failure of
the public functions is an :class:`AcmeError` with a French message for the administrator; a rate limit
sets ``rate_limited`` and carries the CA's ``Retry-After`` in seconds.

The account key is RSA 2048 (JWS ``RS256``), the algorithm every ACME CA accepts.

Revocation reasons (RFC 5280 CRLReason, as the CA/Browser Forum rules ask subscribers to use them):

- operator switch (bascule) → ``SUPERSEDED`` (4): the DRIMbox keeps its ``vi`` name and gets a new
  certificate from the new operator's CSR, which replaces the old operator's one;
- withdrawal (retrait) → ``CESSATION_OF_OPERATION`` (5): the name is kept reserved but no longer served;
- private key compromised or suspected (the key is on the DRIMbox) → ``KEY_COMPROMISE`` (1);
- anything else → ``UNSPECIFIED`` (0).
"""
import datetime
import email.utils
import enum
import logging
import math
import time
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import urlsplit

import josepy
import requests
from acme import challenges, crypto_util, errors, messages
from acme.client import ClientNetwork, ClientV2
from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

logger = logging.getLogger(__name__)

ACCOUNT_KEY_SIZE = 2048
_PROBLEM = "urn:ietf:params:acme:error:"


class RevocationReason(enum.IntEnum):
    """RFC 5280 reason codes the portal sends when revoking a ``vi`` certificate."""

    UNSPECIFIED = 0
    KEY_COMPROMISE = 1
    SUPERSEDED = 4
    CESSATION_OF_OPERATION = 5


REASON_OPERATOR_SWITCH = RevocationReason.SUPERSEDED
REASON_WITHDRAWAL = RevocationReason.CESSATION_OF_OPERATION
REASON_KEY_COMPROMISE = RevocationReason.KEY_COMPROMISE


class AcmeError(Exception):
    """An ACME operation failed; ``str(error)`` is a French message for the administrator.

    ``retry_after``: seconds the CA asked to wait (``Retry-After``), or None; ``rate_limited``: the CA's rate
    limit was hit; ``code``: the ACME problem type without its URN prefix (``rateLimited``, ``dns``…) or None;
    ``detail``: the CA's own text (English, kept apart from the message: the pages fold it in a technical
    detail); ``leftover_txt``: challenge names whose TXT removal failed; ``permanent``: trying again cannot
    succeed (the CA does not know the certificate, the certificate or the reason cannot be read).
    """

    def __init__(self, message, retry_after=None, rate_limited=False, *, code=None, detail=None,
                 leftover_txt=(), permanent=False):
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after
        self.rate_limited = rate_limited
        self.code = code
        self.detail = detail
        self.leftover_txt = tuple(leftover_txt)
        self.permanent = permanent


@dataclass(frozen=True)
class AcmeSettings:
    """How to reach the ACME CA. ``ca_bundle``: PEM file trusted for the CA's HTTPS (None: system store).

    TLS verification cannot be turned off. Timeouts are in seconds: ``network_timeout`` per HTTP request,
    ``order_timeout`` for validation plus issuance, ``propagation_timeout`` for the TXT record to appear on
    the authoritative server (polled every ``propagation_interval``).
    """

    directory_url: str
    contact_email: str | None = None
    ca_bundle: str | None = None
    network_timeout: float = 30.0
    order_timeout: float = 180.0
    propagation_timeout: float = 120.0
    propagation_interval: float = 1.0
    user_agent: str = "trustspace-portal (mesimagesmedicales.fr)"

    def __post_init__(self):
        if urlsplit(self.directory_url or "").scheme != "https" or not urlsplit(self.directory_url).hostname:
            raise ValueError(f"the ACME directory must be an https:// URL: {self.directory_url!r}")
        if self.ca_bundle is not None and not Path(self.ca_bundle).is_file():
            raise ValueError(f"ACME CA bundle not found: {self.ca_bundle!r}")
        if self.contact_email is not None and "@" not in self.contact_email:
            raise ValueError(f"invalid ACME contact e-mail: {self.contact_email!r}")
        for field in ("network_timeout", "order_timeout", "propagation_timeout", "propagation_interval"):
            if not getattr(self, field) > 0:
                raise ValueError(f"{field} must be positive")


@dataclass(frozen=True)
class IssuedCertificate:
    """A certificate from the CA: full chain and leaf (PEM text), validity (UTC), serial (lowercase hex)."""

    chain_pem: str
    leaf_pem: str
    not_before: datetime.datetime
    not_after: datetime.datetime
    serial: str
    order_uri: str
    name: str = ""
    leftover_txt: tuple[str, ...] = ()


# ---------------------------------------------------------------- account key


def new_account_key() -> josepy.JWKRSA:
    """A new RSA 2048 account key."""
    return josepy.JWKRSA(key=rsa.generate_private_key(public_exponent=65537, key_size=ACCOUNT_KEY_SIZE))


def key_to_pem(key: josepy.JWKRSA, password: bytes | None = None) -> bytes:
    """PKCS#8 PEM of the account key, encrypted with ``password`` if given."""
    encryption = (serialization.BestAvailableEncryption(password) if password
                  else serialization.NoEncryption())
    return key.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)


def key_from_pem(pem: bytes, password: bytes | None = None) -> josepy.JWKRSA:
    """The account key from its PEM; AcmeError if unreadable, encrypted with another password or not RSA."""
    try:
        private_key = serialization.load_pem_private_key(pem, password=password)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise AcmeError("Clé du compte ACME illisible (PEM invalide ou mot de passe incorrect).") from exc
    if not isinstance(private_key, rsa.RSAPrivateKey) or private_key.key_size < ACCOUNT_KEY_SIZE:
        raise AcmeError("La clé du compte ACME doit être une clé RSA d'au moins 2048 bits.")
    return josepy.JWKRSA(key=private_key)


# ---------------------------------------------------------------- errors

# Every problem type of RFC 8555 §6.7, in French; the CA's own text is kept apart (``AcmeError.detail``).
_PROBLEM_MESSAGES = {
    "accountDoesNotExist": "compte ACME inconnu de l'autorité de certification",
    "alreadyRevoked": "certificat déjà révoqué",
    "badCSR": "demande de certificat (CSR) refusée par l'autorité de certification",
    "badNonce": "jeton anti-rejeu refusé par l'autorité de certification",
    "badPublicKey": "clé publique de la demande de certificat refusée par l'autorité de certification",
    "badRevocationReason": "motif de révocation refusé par l'autorité de certification",
    "badSignatureAlgorithm": "algorithme de signature refusé par l'autorité de certification",
    "caa": "un enregistrement CAA interdit à cette autorité de certification d'émettre pour ce nom",
    "compound": "plusieurs erreurs signalées par l'autorité de certification",
    "connection": "l'autorité de certification n'a pas pu joindre le serveur de validation",
    "dns": "l'autorité de certification n'a pas pu interroger le DNS",
    "externalAccountRequired": "l'autorité de certification exige une liaison de compte externe (EAB)",
    "incorrectResponse": "l'enregistrement TXT du défi DNS-01 ne correspond pas à la valeur attendue",
    "invalidContact": "adresse de contact du compte ACME refusée par l'autorité de certification",
    "malformed": "requête ACME refusée comme mal formée",
    "orderNotReady": "la commande de certificat n'est pas prête",
    "rateLimited": "limite de requêtes de l'autorité de certification atteinte",
    "rejectedIdentifier": "l'autorité de certification refuse d'émettre pour ce nom",
    "serverInternal": "erreur interne de l'autorité de certification",
    "tls": "l'autorité de certification n'a pas pu établir de connexion TLS pendant la validation",
    "unauthorized": "l'autorité de certification refuse l'opération pour ce compte",
    "unsupportedContact": "type d'adresse de contact non pris en charge par l'autorité de certification",
    "unsupportedIdentifier": "type de nom non pris en charge par l'autorité de certification",
    "userActionRequired": "une action manuelle est requise sur le compte ACME (conditions d'utilisation ?)",
}
# CA texts precise enough to say more than their problem type (lowercase start of the CA's detail).
_KNOWN_DETAILS = {
    # Pebble (malformed): a certificate it did not issue, or issued before it restarted (it keeps nothing).
    "unable to find specified certificate": "l'autorité de certification ne connaît pas ce certificat (elle ne "
                                            "l'a pas émis, ou ne l'a pas conservé)",
    "certificate has already been revoked": "certificat déjà révoqué",
    # Boulder (Let's Encrypt): a certificate from another CA.
    "certificate from unrecognized issuer": "l'autorité de certification ne connaît pas ce certificat (il a été "
                                            "émis par une autre autorité)",
}
# CA texts saying the certificate is unknown to it: asking again gives the same answer.
_UNKNOWN_CERTIFICATE = ("unable to find specified certificate", "certificate from unrecognized issuer")


# In a failed challenge, "unauthorized" (Boulder, Pebble) means the TXT record held no matching token.
_CHALLENGE_MESSAGES = {
    "unauthorized": "l'enregistrement TXT ne contient pas la valeur attendue par l'autorité de certification",
    "incorrectResponse": "l'enregistrement TXT ne contient pas la valeur attendue par l'autorité de certification",
}


def _retry_after_seconds(response):
    """The ``Retry-After`` of ``response`` in whole seconds from now (delay or HTTP date), or None."""
    value = response.headers.get("Retry-After") if response is not None else None
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return int(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.UTC)
    return max(0, math.ceil((when - datetime.datetime.now(datetime.UTC)).total_seconds()))


def _problem_error(action, problem, retry_after=None, wording=None):
    """AcmeError for an RFC 7807 problem document from the CA (``wording`` overrides the default texts)."""
    code = problem.code or (problem.typ or "").removeprefix(_PROBLEM) or None
    detail = problem.detail or ""
    for sub in getattr(problem, "subproblems", None) or ():
        if sub.detail:
            detail = f"{detail} ; {sub.detail}" if detail else sub.detail
    rate_limited = code == "rateLimited"
    known = next((text for start, text in _KNOWN_DETAILS.items() if detail.lower().startswith(start)), None)
    text = (known or (wording or {}).get(code) or _PROBLEM_MESSAGES.get(code)
            or "erreur de l'autorité de certification")
    message = f"{action} : {text}"
    if rate_limited or retry_after:
        message += f" ; nouvel essai possible dans {retry_after} s" if retry_after else " ; réessayer plus tard"
    permanent = detail.lower().startswith(_UNKNOWN_CERTIFICATE) or code == "badRevocationReason"
    return AcmeError(message + ".", retry_after, rate_limited, code=code, detail=detail or None,
                     permanent=permanent)


def _failed_challenge_error(action, authzr):
    name = authzr.body.identifier.value
    problem = next((challb.error for challb in authzr.body.challenges if challb.error is not None), None)
    if problem is None:
        return AcmeError(f"{action} : l'autorisation de {name} a été refusée (statut "
                         f"{authzr.body.status.name}).", code="unauthorized")
    return _problem_error(f"{action} : échec du défi DNS-01 pour {name}", problem, wording=_CHALLENGE_MESSAGES)


class _Network(ClientNetwork):
    """ClientNetwork that remembers the last HTTP response, to read ``Retry-After`` of a problem document."""

    last_response = None

    def _send_request(self, method, url, *args, **kwargs):
        self.last_response = None
        response = super()._send_request(method, url, *args, **kwargs)
        self.last_response = response
        return response


@contextmanager
def _translated(action, net=None):
    """Turn whatever goes wrong inside into an AcmeError whose message starts with ``action``."""
    try:
        yield
    except AcmeError:
        raise
    except messages.Error as exc:
        raise _problem_error(action, exc, _retry_after_seconds(getattr(net, "last_response", None))) from exc
    except errors.IssuanceError as exc:
        raise _problem_error(action, exc.error) from exc
    except errors.ValidationError as exc:
        raise _failed_challenge_error(action, exc.failed_authzrs[0]) from exc
    except errors.TimeoutError as exc:
        raise AcmeError(f"{action} : délai dépassé en attendant l'autorité de certification.") from exc
    except errors.ConflictError as exc:
        raise AcmeError(f"{action} : conflit signalé par l'autorité de certification.") from exc
    except requests.exceptions.SSLError as exc:
        raise AcmeError(f"{action} : le certificat TLS de l'autorité de certification n'est pas reconnu "
                        "(vérifier le fichier d'autorités configuré).") from exc
    except requests.exceptions.Timeout as exc:
        raise AcmeError(f"{action} : l'autorité de certification ne répond pas (délai dépassé).") from exc
    except requests.exceptions.RequestException as exc:
        raise AcmeError(f"{action} : l'autorité de certification est injoignable.") from exc
    except errors.ClientError as exc:
        response = exc.args[0] if exc.args and isinstance(exc.args[0], requests.Response) else None
        status = f" (HTTP {response.status_code})" if response is not None else ""
        raise AcmeError(f"{action} : réponse inattendue de l'autorité de certification{status}.",
                        _retry_after_seconds(response)) from exc
    except (errors.Error, josepy.errors.Error, ValueError, KeyError, TypeError) as exc:
        logger.warning("%s: unexpected ACME response: %r", action, exc)
        raise AcmeError(f"{action} : réponse invalide de l'autorité de certification.") from exc
    except Exception as exc:  # the contract: no raw exception escapes to the portal's tasks and views
        logger.exception("%s: unexpected error", action)
        raise AcmeError(f"{action} : erreur inattendue ({type(exc).__name__}).") from exc


# ---------------------------------------------------------------- session


class _Session:
    """A connection to the CA for one account key: directory fetched, account found or registered."""

    def __init__(self, settings, account_key):
        self.settings = settings
        self.net = _Network(account_key, alg=josepy.RS256, verify_ssl=settings.ca_bundle or True,
                            user_agent=settings.user_agent, timeout=settings.network_timeout)
        self.client = None
        self.account_uri = None

    def open(self):
        self.client = ClientV2(ClientV2.get_directory(self.settings.directory_url, self.net), self.net)
        return self

    def close(self):
        self.net.session.close()

    def register(self):
        """Create the account (terms agreed) or find the existing one for this key; its URI."""
        contact = (f"mailto:{self.settings.contact_email}",) if self.settings.contact_email else ()
        registration = messages.NewRegistration(contact=contact, terms_of_service_agreed=True)
        try:
            regr = self.client.new_account(registration)
        except errors.ConflictError as exc:  # 200 + Location: the key already has an account
            regr = messages.RegistrationResource(body=messages.Registration(), uri=exc.location)
            self.net.account = regr
        if not regr.uri:
            raise AcmeError("Compte ACME : l'autorité de certification n'a pas donné l'adresse du compte.")
        self.account_uri = regr.uri
        return regr.uri

    def post_as_get(self, url):
        return self.net.post(url, None, new_nonce_url=self.client.directory["newNonce"])


@contextmanager
def _session(settings, account_key, action):
    session = _Session(settings, account_key)
    with _translated(action, session.net):
        try:
            yield session.open()
        finally:
            session.close()


def register_account(settings: AcmeSettings, key: josepy.JWKRSA) -> str:
    """Register the account of ``key`` (terms of service agreed) and return its URI; an existing key gives
    its existing account."""
    with _session(settings, key, "Inscription du compte ACME") as session:
        return session.register()


# ---------------------------------------------------------------- issuance


def _single_dns_name(csr_pem):
    """The CSR (parsed) and its only DNS name, lowercase; AcmeError otherwise."""
    try:
        csr = x509.load_pem_x509_csr(csr_pem if isinstance(csr_pem, bytes) else str(csr_pem).encode())
        names, addresses = crypto_util.get_identifiers_from_x509(csr.subject, csr.extensions)
        signed = csr.is_signature_valid
    except (ValueError, TypeError, UnsupportedAlgorithm, x509.DuplicateExtension,
            x509.UnsupportedGeneralNameType) as exc:
        raise AcmeError("Demande de certificat (CSR) illisible : un CSR au format PEM est attendu.") from exc
    if not signed:
        raise AcmeError("La signature de la demande de certificat (CSR) est invalide.")
    names = sorted({name.lower().rstrip(".") for name in names})
    if addresses or len(names) != 1:
        raise AcmeError("La demande de certificat (CSR) doit contenir exactement un nom DNS "
                        f"(trouvé : {', '.join([*names, *map(str, addresses)]) or 'aucun'}).")
    if "*" in names[0]:
        raise AcmeError(f"Nom générique (wildcard) refusé : {names[0]}.")
    return csr, names[0]


def _check_in_zone(name, dns):
    zone = getattr(dns, "zone", None)
    if isinstance(zone, str) and zone:
        zone = zone.lower().rstrip(".")
        if not name.endswith("." + zone):
            raise AcmeError(f"Le nom {name} n'est pas dans la zone {zone} gérée par le portail : "
                            "le portail ne peut pas répondre au défi DNS-01.")


@contextmanager
def _dns_step(what):
    """Turn a failure of the zone client into an AcmeError (the zone client's own text as detail)."""
    try:
        yield
    except AcmeError:
        raise
    except Exception as exc:
        # A zone client's DnsError says it in French (``french``); anything else is only in the detail.
        why = getattr(exc, "french", None) or "erreur du serveur DNS de la zone"
        raise AcmeError(f"{what} impossible : {why}.", code="dnsUpdate", detail=str(exc) or type(exc).__name__) from exc


def _sleep_until_next_poll(response, interval, deadline):
    """Sleep ``Retry-After`` (if given) or ``interval``, never past ``deadline``; False if no time is left."""
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        return False
    retry_after = _retry_after_seconds(response)
    time.sleep(min(remaining, retry_after if retry_after is not None else interval))
    return True


def _wait_for_txt(dns, challenge_name, value, settings, check):
    """Poll the authoritative server (or ``check``) until ``value`` is published at ``challenge_name``."""
    deadline = time.monotonic() + settings.propagation_timeout
    last_error = None
    while True:
        try:
            if check(challenge_name, value) if check else value in dns.lookup(challenge_name, "TXT"):
                return
            last_error = None
        except Exception as exc:  # noqa: BLE001 -- any lookup failure is retried until the deadline
            last_error = exc
        if time.monotonic() + settings.propagation_interval > deadline:
            break
        time.sleep(settings.propagation_interval)
    reason = f" (dernière erreur : {last_error})" if last_error else ""
    raise AcmeError(f"L'enregistrement TXT {challenge_name} n'est pas visible sur le serveur DNS faisant "
                    f"autorité après {settings.propagation_timeout:g} s{reason}.", code="propagation")


def _pick_dns01(authzr):
    for challb in authzr.body.challenges:
        if isinstance(challb.chall, challenges.DNS01):
            return challb
    offered = ", ".join(challb.chall.typ for challb in authzr.body.challenges)
    raise AcmeError(f"L'autorité de certification ne propose pas de défi DNS-01 pour "
                    f"{authzr.body.identifier.value} (proposés : {offered or 'aucun'}).")


def _poll_authorization(session, authzr, deadline, action):
    interval = 0.1
    while True:
        authzr, response = session.client.poll(authzr)
        status = authzr.body.status
        if status == messages.STATUS_VALID:
            return authzr
        if status not in (messages.STATUS_PENDING, messages.STATUS_PROCESSING):
            raise _failed_challenge_error(action, authzr)
        if not _sleep_until_next_poll(response, interval, deadline):
            raise AcmeError(f"{action} : délai dépassé en attendant la validation du défi DNS-01 pour "
                            f"{authzr.body.identifier.value}.")
        interval = min(interval * 2, 2.0)


def _finalize(session, orderr, deadline, action):
    """Finalize the order with its CSR and poll it until valid; the certificate chain (PEM text)."""
    orderr = session.client.begin_finalization(orderr)
    interval = 0.1
    while True:
        body = orderr.body
        if body.status == messages.STATUS_VALID and body.certificate:
            return session.post_as_get(body.certificate).text
        if body.status == messages.STATUS_INVALID:
            if body.error is not None:
                raise _problem_error(action, body.error)
            raise AcmeError(f"{action} : la commande a été invalidée par l'autorité de certification.")
        response = session.net.last_response
        if not _sleep_until_next_poll(response, interval, deadline):
            raise AcmeError(f"{action} : délai dépassé en attendant l'émission du certificat.")
        interval = min(interval * 2, 2.0)
        response = session.post_as_get(orderr.uri)
        orderr = orderr.update(body=messages.Order.from_json(response.json()))


def _parse_chain(chain_pem, csr, name, order_uri, action):
    try:
        certificates = x509.load_pem_x509_certificates(chain_pem.encode())
    except ValueError as exc:
        raise AcmeError(f"{action} : chaîne de certificats illisible reçue de l'autorité.") from exc
    leaf = certificates[0]
    try:
        sans = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        leaf_names = [n.lower() for n in sans.get_values_for_type(x509.DNSName)]
    except x509.ExtensionNotFound:
        leaf_names = []
    if leaf_names != [name] or leaf.public_key() != csr.public_key():
        raise AcmeError(f"{action} : le certificat reçu ne correspond pas à la demande (nom ou clé publique).")
    return IssuedCertificate(
        chain_pem=chain_pem,
        leaf_pem=leaf.public_bytes(serialization.Encoding.PEM).decode(),
        not_before=leaf.not_valid_before_utc,
        not_after=leaf.not_valid_after_utc,
        serial=format(leaf.serial_number, "x"),
        order_uri=order_uri,
        name=name,
    )


def issue_certificate(settings: AcmeSettings, account_key: josepy.JWKRSA, csr_pem: bytes, *, dns,
                      wait_for_propagation=True) -> IssuedCertificate:
    """Obtain a certificate for the single DNS name of ``csr_pem``, answering DNS-01 through ``dns``.

    ``dns`` publishes and removes the TXT record (``set_txt``, ``delete_txt``) and is polled with
    ``lookup(name, "TXT")`` until the token is visible (``settings.propagation_timeout``). Pass
    ``wait_for_propagation=False`` to skip the wait, or a callable ``(challenge_name, value) -> bool`` to
    check elsewhere (e.g. every authoritative server). The TXT record is always removed at the end; a name
    whose removal failed is listed in ``leftover_txt`` (of the result or of the AcmeError).
    """
    csr, name = _single_dns_name(csr_pem)
    _check_in_zone(name, dns)
    action = f"Émission du certificat de {name}"
    check = wait_for_propagation if callable(wait_for_propagation) else None
    published = []
    leftover = []
    try:
        with _session(settings, account_key, action) as session:
            session.register()
            deadline = time.monotonic() + settings.order_timeout
            orderr = session.client.new_order(csr.public_bytes(serialization.Encoding.PEM))
            pending = [a for a in orderr.authorizations if a.body.status != messages.STATUS_VALID]
            answers = []
            for authzr in pending:
                if authzr.body.status != messages.STATUS_PENDING:
                    raise _failed_challenge_error(action, authzr)
                challb = _pick_dns01(authzr)
                value = challb.chall.validation(account_key)
                response = challb.chall.response(account_key)
                challenge_name = challb.chall.validation_domain_name(authzr.body.identifier.value)
                published.append(challenge_name)
                with _dns_step(f"Publication de l'enregistrement TXT {challenge_name}"):
                    dns.set_txt(challenge_name, [value])
                answers.append((authzr, challb, response, challenge_name, value))
            if wait_for_propagation:
                for _authzr, _challb, _response, challenge_name, value in answers:
                    _wait_for_txt(dns, challenge_name, value, settings, check)
            for _authzr, challb, response, _name, _value in answers:
                session.client.answer_challenge(challb, response)
            for authzr, *_rest in answers:
                _poll_authorization(session, authzr, deadline, action)
            chain_pem = _finalize(session, orderr, deadline, action)
            issued = _parse_chain(chain_pem, csr, name, orderr.uri, action)
    except AcmeError as exc:
        leftover = _cleanup(dns, published)
        exc.leftover_txt = tuple(leftover)
        raise
    except BaseException:  # KeyboardInterrupt, task time limit…: still remove the token
        _cleanup(dns, published)
        raise
    leftover = _cleanup(dns, published)
    if leftover:
        issued = replace(issued, leftover_txt=tuple(leftover))
    logger.info("ACME: issued %s serial %s (order %s)", name, issued.serial, issued.order_uri)
    return issued


def _cleanup(dns, names):
    """Remove the TXT records at ``names``; the names whose removal failed (logged, never raised)."""
    leftover = []
    for challenge_name in dict.fromkeys(names):
        try:
            dns.delete_txt(challenge_name)
        except Exception as exc:  # noqa: BLE001 -- cleanup must never hide the outcome of the issuance
            logger.warning("ACME: could not remove TXT %s: %s", challenge_name, exc)
            leftover.append(challenge_name)
    return leftover


# ---------------------------------------------------------------- revocation and renewal


def revoke_certificate(settings: AcmeSettings, account_key: josepy.JWKRSA, cert_pem, reason: int) -> bool:
    """Revoke ``cert_pem`` (issued to this account) with an RFC 5280 ``reason`` (see RevocationReason).

    True when revoked now, False when the CA says it already was (``alreadyRevoked``): the call is
    idempotent for a revocation task that retries.
    """
    try:
        reason = RevocationReason(reason)
    except ValueError as exc:
        raise AcmeError(f"Motif de révocation non pris en charge : {reason!r} (attendu : "
                        f"{', '.join(str(int(r)) for r in RevocationReason)}).", permanent=True) from exc
    try:
        certificate = x509.load_pem_x509_certificates(
            cert_pem if isinstance(cert_pem, bytes) else str(cert_pem).encode())[0]
    except (ValueError, TypeError) as exc:
        raise AcmeError("Certificat à révoquer illisible : un certificat PEM est attendu.", permanent=True) from exc
    action = f"Révocation du certificat n° {certificate.serial_number:x}"
    try:
        with _session(settings, account_key, action) as session:
            session.register()
            session.client.revoke(certificate, int(reason))
    except AcmeError as exc:
        if exc.code == "alreadyRevoked":
            return False
        raise
    logger.info("ACME: revoked serial %x, reason %s", certificate.serial_number, reason.name)
    return True


def renewal_due(not_before: datetime.datetime, not_after: datetime.datetime, now: datetime.datetime,
                fraction: float = 1 / 3) -> bool:
    """Whether to renew: True once no more than ``fraction`` of the lifetime is left (or it has expired)."""
    if not 0 < fraction < 1:
        raise ValueError("fraction must be between 0 and 1")
    if not_after <= not_before:
        raise ValueError("not_after must be later than not_before")
    return now >= not_after - (not_after - not_before) * fraction
