"""The configuration file of the demo's Pebble, the ACME CA ``./scripts/run`` starts: its ports come from the
environment (``PEBBLE_PORT``, ``PEBBLE_MANAGEMENT_PORT``, ``PEBBLE_HTTP_PORT``, ``PEBBLE_TLS_PORT``), so that two
instances of the demo on one host do not collide. Without Django: ``python -m demo.pebble_config DIR`` prints it.

Pebble listens on ``listenAddress`` (the ACME directory) and ``managementListenAddress``; ``httpPort`` and
``tlsPort`` are the ports its validation authority dials for http-01 and tls-alpn-01 challenges.
"""
import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path

PORTS = ("PEBBLE_PORT", "PEBBLE_MANAGEMENT_PORT", "PEBBLE_HTTP_PORT", "PEBBLE_TLS_PORT")
VALIDITY_SECONDS = 7776000  # 90 days, as Let's Encrypt


def port(environ: Mapping[str, str], name: str) -> int:
    value = environ.get(name, "")
    if not value.isdigit() or not 0 < int(value) < 65536:
        raise SystemExit(f"{name} doit être un numéro de port (1 à 65535), pas « {value} ».")
    return int(value)


def config(pebble_dir: Path, environ: Mapping[str, str]) -> dict:
    ports = {name: port(environ, name) for name in PORTS}
    return {"pebble": {
        "listenAddress": f"127.0.0.1:{ports['PEBBLE_PORT']}",
        "managementListenAddress": f"127.0.0.1:{ports['PEBBLE_MANAGEMENT_PORT']}",
        "certificate": str(Path(pebble_dir) / "cert.pem"), "privateKey": str(Path(pebble_dir) / "key.pem"),
        "httpPort": ports["PEBBLE_HTTP_PORT"], "tlsPort": ports["PEBBLE_TLS_PORT"],
        "ocspResponderURL": "", "externalAccountBindingRequired": False,
        "certificateValidityPeriod": VALIDITY_SECONDS,
    }}


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit("usage : python -m demo.pebble_config DOSSIER")
    print(json.dumps(config(Path(sys.argv[1]), os.environ), indent=1))
