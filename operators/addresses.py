"""The addresses an operator gives for a DRIMbox name: A/AAAA addresses or one CNAME target (DESIGN §4, issue 3).

The registry writes them to the zone; in production only public (globally routable) addresses are
accepted, so that a DRIMbox name never points inside a private network.
"""
import ipaddress
import re

from django.conf import settings

from trustspace.errors import InvalidData

HOSTNAME_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
MAX_ADDRESSES = 8


def require_public_addresses():
    return getattr(settings, "DNS_REQUIRE_PUBLIC_ADDRESSES", not settings.DEBUG)


def _tokens(text):
    return [token for token in re.split(r"[\s,;]+", (text or "").strip()) if token]


def _is_hostname(value):
    labels = value.rstrip(".").split(".")
    return (
        len(value) <= 253 and len(labels) >= 2 and all(HOSTNAME_LABEL.match(label) for label in labels)
        and not labels[-1].isdigit()
    )


def parse_addresses(text, *, label, required=True, public_only=None):
    """``text`` → list of ``(rdtype, value)``; raises :class:`InvalidData` with a French message.

    ``label`` names the field in messages (« adresse db »).
    """
    public_only = require_public_addresses() if public_only is None else public_only
    tokens = _tokens(text)
    if not tokens:
        if required:
            raise InvalidData(f"Indiquez l'{label} : une ou plusieurs adresses IP, ou un nom d'hôte (CNAME).")
        return []
    if len(tokens) > MAX_ADDRESSES:
        raise InvalidData(f"L'{label} compte trop de valeurs (au plus {MAX_ADDRESSES}).")
    records, hostnames = [], []
    for token in tokens:
        if "%" in token:
            raise InvalidData(f"« {token} » porte une zone d'interface (%…) : indiquez l'adresse seule ({label}).")
        try:
            address = ipaddress.ip_address(token)
        except ValueError:
            hostname = token.lower().rstrip(".")
            if not _is_hostname(hostname):
                raise InvalidData(f"« {token} » n'est ni une adresse IP ni un nom d'hôte valide ({label}).") from None
            hostnames.append(hostname)
            continue
        if public_only and not address.is_global:
            raise InvalidData(
                f"L'adresse {address} ({label}) n'est pas publique : seules des adresses routables sur "
                "Internet sont acceptées."
            )
        records.append(("A" if address.version == 4 else "AAAA", str(address)))
    if hostnames and (records or len(hostnames) > 1):
        raise InvalidData(f"L'{label} doit être soit des adresses IP, soit un seul nom d'hôte (CNAME), pas un mélange.")
    if hostnames:
        zone = settings.FQDN_ZONE
        if hostnames[0] == zone or hostnames[0].endswith("." + zone):
            raise InvalidData(f"L'{label} ne peut pas désigner un nom de la zone {zone}.")
        return [("CNAME", hostnames[0])]
    return sorted(set(records))
