"""Client for the portal's DNS zone: RFC 2136 dynamic updates and AXFR, signed with TSIG (dnspython).

A/AAAA/CNAME records are managed per name (replace_records, delete_name, read_zone); TXT records, used for
ACME DNS-01 challenges (``_acme-challenge.vi<N>.<label>.<zone>``), have their own set_txt/delete_txt.
"""
import ipaddress
from contextlib import contextmanager

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.ANY.TXT
import dns.tsig
import dns.update
import dns.xfr
import dns.zone

MANAGED_TYPES = ("A", "AAAA", "CNAME")
LOOKUP_TYPES = (*MANAGED_TYPES, "TXT")
# Short TTL for TXT records: an ACME challenge token is replaced at every attempt.
TXT_TTL = 60
# TXT values: printable ASCII only (ACME tokens are base64url), split into 255-byte character-strings.
TXT_MAX_LENGTH = 2048
_TXT_CHUNK = 255

_TSIG_ERRORS = {
    dns.tsig.PeerBadKey: "BADKEY",
    dns.tsig.PeerBadSignature: "BADSIG",
    dns.tsig.PeerBadTime: "BADTIME",
    dns.tsig.PeerBadTruncation: "BADTRUNC",
}


class DnsError(Exception):
    """A DNS operation failed. ``str()`` is the technical account (dnspython's words); ``french`` what people
    read."""

    @property
    def french(self):
        return "l'échange avec le serveur DNS de la zone a échoué"


class DnsUnavailable(DnsError):
    """The DNS server could not be reached (timeout, connection refused…): retry later."""

    @property
    def french(self):
        return "le serveur DNS de la zone ne répond pas"


class DnsRejected(DnsError):
    """The DNS server answered with an error; ``rcode`` holds its text (``NOTAUTH``, ``REFUSED``…)."""

    def __init__(self, message, rcode=None):
        super().__init__(message)
        self.rcode = rcode

    @property
    def french(self):
        return f"le serveur DNS de la zone a refusé l'opération ({self.rcode or 'erreur'})"


def _absolute_name(text):
    """Parse a domain name given without trailing dot as absolute; ValueError if invalid."""
    if not isinstance(text, str) or not text.strip(". "):
        raise ValueError(f"invalid domain name: {text!r}")
    try:
        return dns.name.from_text(text.strip())
    except dns.exception.DNSException as exc:
        raise ValueError(f"invalid domain name {text!r}: {exc}") from exc


def _name_text(name):
    return name.to_text(omit_final_dot=True).lower()


def _canonical(rdtype, value):
    """Canonical text of an A/AAAA address or a CNAME target (absolute, lowercase, no trailing dot)."""
    if rdtype in ("A", "AAAA") and (not isinstance(value, str) or "%" in value):
        raise ValueError(f"invalid {rdtype} address: {value!r}")
    if rdtype == "A":
        return str(ipaddress.IPv4Address(value))
    if rdtype == "AAAA":
        return ipaddress.IPv6Address(value).compressed
    if rdtype == "CNAME":
        return _name_text(value if isinstance(value, dns.name.Name) else _absolute_name(value))
    raise ValueError(f"unsupported record type {rdtype!r} (expected one of {', '.join(MANAGED_TYPES)})")


def _rdata_value(rdtype, rdata):
    if rdtype == "TXT":
        return b"".join(rdata.strings).decode("ascii", errors="replace")
    return _canonical(rdtype, rdata.target if rdtype == "CNAME" else rdata.address)


def _txt_rdata(value):
    """A TXT rdata holding ``value`` (printable ASCII), split into 255-byte character-strings."""
    if not isinstance(value, str) or not value or len(value) > TXT_MAX_LENGTH:
        raise ValueError(f"invalid TXT value: {value!r}")
    if not all(" " <= char <= "~" for char in value):
        raise ValueError(f"a TXT value must be printable ASCII: {value!r}")
    raw = value.encode("ascii")
    chunks = [raw[start:start + _TXT_CHUNK] for start in range(0, len(raw), _TXT_CHUNK)]
    return dns.rdtypes.ANY.TXT.TXT(dns.rdataclass.IN, dns.rdatatype.TXT, chunks)


class ZoneClient:
    """A/AAAA/CNAME records (and TXT, for ACME challenges) of one zone on its primary server."""

    def __init__(self, *, server, port, zone, key_name, secret, algorithm, timeout, ttl):
        if not key_name or not secret:
            raise ValueError("a TSIG key name and secret are required")
        self.server = server
        self.port = int(port)
        self.origin = _absolute_name(zone)
        self.zone = _name_text(self.origin)
        self.timeout = float(timeout)
        self.ttl = int(ttl)
        try:
            self._key = dns.tsig.Key(key_name, secret, algorithm)
            dns.tsig.get_context(self._key)
        except (ValueError, NotImplementedError, dns.exception.DNSException) as exc:
            raise ValueError(f"invalid TSIG key {key_name!r}: {exc}") from exc
        self._keyring = {self._key.name: self._key}

    @classmethod
    def from_settings(cls):
        """Build the client from the DNS_* and FQDN_ZONE Django settings."""
        from django.conf import settings
        from django.core.exceptions import ImproperlyConfigured

        key_name = getattr(settings, "DNS_TSIG_KEY_NAME", None)
        secret = getattr(settings, "DNS_TSIG_SECRET", None)
        if not key_name or not secret:
            raise ImproperlyConfigured("DNS_TSIG_KEY_NAME and DNS_TSIG_SECRET must be set to update the DNS zone")
        try:
            return cls(
                server=getattr(settings, "DNS_SERVER", "127.0.0.1"),
                port=getattr(settings, "DNS_PORT", 53),
                zone=settings.FQDN_ZONE,
                key_name=key_name,
                secret=secret,
                algorithm=getattr(settings, "DNS_TSIG_ALGORITHM", "hmac-sha256"),
                timeout=getattr(settings, "DNS_TIMEOUT", 5),
                ttl=getattr(settings, "DNS_TTL", 300),
            )
        except ValueError as exc:
            raise ImproperlyConfigured(f"invalid DNS settings: {exc}") from exc

    def __repr__(self):
        return f"<ZoneClient {self.zone} @ {self.server}:{self.port} key={self._key.name}>"

    def _record_name(self, name):
        """The dns.name of ``name``, which must lie strictly below the zone apex."""
        parsed = _absolute_name(name)
        if parsed == self.origin or not parsed.is_subdomain(self.origin):
            raise ValueError(f"{name!r} is not a name below the zone {self.zone}")
        return parsed

    def _update(self):
        return dns.update.UpdateMessage(self.origin, keyring=self._keyring, keyname=self._key.name,
                                        keyalgorithm=self._key.algorithm)

    def _send_update(self, update, action):
        with self._errors(action):
            response = dns.query.tcp(update, self.server, timeout=self.timeout, port=self.port)
        self._check_rcode(response, action)

    def replace_records(self, name, records):
        """Make ``records`` [(rdtype, value)…] the only A/AAAA/CNAME records of ``name``, in one update."""
        target = self._record_name(name)
        rdatas = []
        for rdtype, value in records:
            rdtype = str(rdtype).upper()
            rdatas.append((rdtype, _canonical(rdtype, value)))
        types = {rdtype for rdtype, _ in rdatas}
        if "CNAME" in types and len(rdatas) > 1:
            raise ValueError(f"a CNAME must be the only record of {name!r}")
        update = self._update()
        for rdtype in MANAGED_TYPES:
            update.delete(target, rdtype)
        for rdtype, value in rdatas:
            update.add(target, self.ttl, rdtype, value + "." if rdtype == "CNAME" else value)
        self._send_update(update, f"update of {_name_text(target)}")

    def delete_name(self, name):
        """Delete the A, AAAA and CNAME records of ``name`` (its other types are kept)."""
        target = self._record_name(name)
        update = self._update()
        for rdtype in MANAGED_TYPES:
            update.delete(target, rdtype)
        self._send_update(update, f"deletion of {_name_text(target)}")

    def set_txt(self, name, values, *, ttl=TXT_TTL):
        """Make ``values`` (strings) the only TXT records of ``name``, in one signed update (TTL 60 s).

        Other record types of ``name`` are kept; an empty list deletes the TXT records.
        """
        target = self._record_name(name)
        if isinstance(values, str):
            raise TypeError("values must be a list of strings, not a string")
        ttl = int(ttl)
        if not 0 <= ttl <= 86400:
            raise ValueError(f"invalid TTL {ttl}")
        rdatas = [_txt_rdata(value) for value in dict.fromkeys(values)]
        update = self._update()
        update.delete(target, "TXT")
        for rdata in rdatas:
            update.add(target, ttl, rdata)
        self._send_update(update, f"TXT update of {_name_text(target)}")

    def delete_txt(self, name):
        """Delete the TXT records of ``name`` (its other types are kept); nothing to delete is fine."""
        target = self._record_name(name)
        update = self._update()
        update.delete(target, "TXT")
        self._send_update(update, f"TXT deletion of {_name_text(target)}")

    def read_zone(self):
        """Every A/AAAA/CNAME record of the zone except the apex, by a TSIG-signed AXFR."""
        zone = dns.zone.Zone(self.origin, relativize=False)
        query, _serial = dns.xfr.make_query(zone, keyring=self._keyring, keyname=self._key.name,
                                            keyalgorithm=self._key.algorithm)
        with self._errors(f"transfer of {self.zone}"):
            dns.query.inbound_xfr(self.server, zone, query, port=self.port, timeout=self.timeout)
        records = {}
        for rdtype in MANAGED_TYPES:
            for name, _ttl, rdata in zone.iterate_rdatas(rdtype):
                if name == self.origin:
                    continue
                records.setdefault(_name_text(name), set()).add((rdtype, _rdata_value(rdtype, rdata)))
        return {name: frozenset(values) for name, values in records.items()}

    def lookup(self, name, rdtype):
        """Canonical values of ``name``'s ``rdtype`` records, asked directly (no recursion) to the server.

        ``rdtype`` is A, AAAA, CNAME or TXT; a TXT record's value is its character-strings joined, as text.
        """
        rdtype = str(rdtype).upper()
        if rdtype not in LOOKUP_TYPES:
            raise ValueError(f"unsupported record type {rdtype!r}")
        qname = _absolute_name(name)
        query = dns.message.make_query(qname, rdtype)
        query.flags &= ~dns.flags.RD
        with self._errors(f"lookup of {_name_text(qname)} {rdtype}"):
            response, _tcp = dns.query.udp_with_fallback(query, self.server, timeout=self.timeout, port=self.port)
        if response.rcode() == dns.rcode.NXDOMAIN:
            return []
        self._check_rcode(response, f"lookup of {_name_text(qname)} {rdtype}")
        rrset = response.get_rrset(response.answer, qname, dns.rdataclass.IN, dns.rdatatype.from_text(rdtype))
        return sorted(_rdata_value(rdtype, rdata) for rdata in rrset) if rrset else []

    def _check_rcode(self, response, action):
        rcode = response.rcode()
        if rcode != dns.rcode.NOERROR:
            text = dns.rcode.to_text(rcode)
            raise DnsRejected(f"{action} on {self.server}:{self.port} rejected: {text}", rcode=text)

    @contextmanager
    def _errors(self, action):
        """Translate dnspython and socket errors into DnsError subclasses."""
        where = f"{self.server}:{self.port}"
        try:
            yield
        except dns.exception.Timeout as exc:
            raise DnsUnavailable(f"{action}: no answer from {where} within {self.timeout:g} s") from exc
        except (OSError, EOFError) as exc:
            raise DnsUnavailable(f"{action}: {where} unreachable: {exc or type(exc).__name__}") from exc
        except dns.tsig.PeerError as exc:
            tsig_error = next((text for cls, text in _TSIG_ERRORS.items() if isinstance(exc, cls)), "TSIG error")
            raise DnsRejected(f"{action} on {where} rejected: NOTAUTH ({tsig_error}, key {_name_text(self._key.name)})",
                              rcode="NOTAUTH") from exc
        except dns.xfr.TransferError as exc:
            text = dns.rcode.to_text(exc.rcode)
            raise DnsRejected(f"{action} on {where} rejected: {text}", rcode=text) from exc
        except dns.exception.DNSException as exc:
            raise DnsError(f"{action} on {where} failed: {exc}") from exc
