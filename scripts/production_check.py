"""Production check (scripts/production-check): the production shape on loopback, walked through and broken.

Starts, in a temporary directory: a private PostgreSQL cluster (restarted by a fault, never the machine's one), a
private redis-server, BIND 9 (the zone), Pebble (ACME), a loopback GitHub, an SMTP sink, the demo trust space
(``demo_trustspace``) and its DRIMboxes (``demo_drimboxes``); then the portal as deploy/ runs it — gunicorn with
DEBUG=0 behind the nginx site of deploy/nginx (TLS), a Celery worker on « celery », two probe workers (locations
« alpha » and « beta », ``probe.<location>``) and beat. Then, over HTTPS (API tokens, ANS sessions for the
whitelist pages):

* happy path: a declaration filed and approved (its name appears in BIND), a whitelist version prepared, approved
  by a second ANS administrator and published (the GitHub emulator receives it), an outage (``demo_drimboxes
  --stop db1``) seen by the probes of both locations;
* faults: Redis stopped during approvals (through the API and through the ANS pages, form POSTs with their CSRF
  token as a browser sends them), the worker killed (-9) in the middle of a publication's push, BIND down during an
  approval, GitHub answering 502 to a publication (retried by the GitHub sweep, every 10 s here), PostgreSQL
  stopped and started again;
* then the HTML pages of each audience (ANS review queue, whitelist, outbox; an operator's requests; the public
  weather) answer 200.

It asserts that every request whose action committed answered normally (2xx/3xx), that every e-mail reached the
SMTP sink exactly once (by Message-ID) and every publication reached GitHub exactly once, and that readiness
(/api/v1/health/ready) reported the outages it covers (database, broker, the killed worker) and /metrics the others
(DNS changes retrying, GitHub publication failed). Prints a summary; exits 1 on failure. A few minutes, most of it
the demo.
PRODUCTION_CHECK_KEEP=1 keeps the temporary directory (logs of every process).
"""
import base64
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from contextlib import ExitStack, contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
import requests  # noqa: E402
import urllib3  # noqa: E402
from cryptography.fernet import Fernet  # noqa: E402

from demo.documents import demo_pdf, with_luhn  # noqa: E402
from tests.deploy.local_services import (  # noqa: E402
    PostgresCluster,
    RedisServer,
    free_port,
    render_nginx,
    wait_for,
)
from tests.support.dns_server import BindServer, named_available  # noqa: E402
from tests.support.github_server import GitHubServer  # noqa: E402
from tests.support.pebble import PebbleServer, pebble_available  # noqa: E402
from tests.support.ports import free_port_block  # noqa: E402
from tests.support.processes import _die_with_parent  # noqa: E402
from tests.support.smtp_sink import SmtpSink  # noqa: E402

PYTHON = str(ROOT / ".venv" / "bin" / "python")
BIN = ROOT / ".venv" / "bin"
REPOSITORY = "ansforge/DRIM-M_DATA-check"
GITHUB_TOKEN = "production-check-token"  # noqa: S105 - the loopback GitHub emulator's token
LOCATIONS = ("alpha", "beta")
PROBE_INTERVAL = 3
EVENTUALLY = float(os.environ.get("PRODUCTION_CHECK_TIMEOUT", "150"))  # seconds for « eventually »
CHECK_TIMEOUT = 600  # each step


class Failure(Exception):
    pass


class Report:
    def __init__(self):
        self.rows = []  # (status, name, detail) with status OK / ÉCHEC / NOTE

    def add(self, status, name, detail=""):
        self.rows.append((status, name, detail))
        print(f"[{status}] {name}" + (f" — {detail}" if detail else ""), flush=True)

    def ok(self, name, detail=""):
        self.add("OK", name, detail)

    def fail(self, name, detail=""):
        self.add("ÉCHEC", name, detail)

    def note(self, name, detail=""):
        self.add("NOTE", name, detail)

    def check(self, condition, name, detail=""):
        (self.ok if condition else self.fail)(name, detail)
        return condition

    @property
    def failed(self):
        return [row for row in self.rows if row[0] == "ÉCHEC"]


class Service:
    """One long-running process of the portal (gunicorn, a Celery worker, beat, nginx…), logged to a file."""

    def __init__(self, name, command, env, logs):
        self.name, self.command, self.env = name, command, env
        self.log_path = Path(logs) / f"{name}.log"
        self.process = None

    def start(self):
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(self.command, cwd=ROOT, env=self.env, stdin=subprocess.DEVNULL,
                                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                                            preexec_fn=_die_with_parent)  # noqa: PLW1509
        return self

    def kill(self, sig=signal.SIGKILL):
        """Signal the whole process group (a prefork worker's children too)."""
        if self.process and self.process.poll() is None:
            try:
                os.killpg(self.process.pid, sig)
            except ProcessLookupError:
                pass
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()

    def stop(self):
        self.kill(signal.SIGTERM)

    @property
    def alive(self):
        return self.process is not None and self.process.poll() is None

    def tail(self, lines=30):
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def manage(env, *args, check=True, timeout=CHECK_TIMEOUT):
    result = subprocess.run([PYTHON, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=timeout)
    if check and result.returncode != 0:
        raise Failure(f"manage.py {' '.join(args)} : code {result.returncode}\n{result.stdout[-2000:]}"
                      f"\n{result.stderr[-3000:]}")
    return result


SETUP_SNIPPET = r"""
import json
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
from django.contrib.sessions.backends.db import SessionStore
from django.utils import timezone
from certificates.devpki import ensure_probe_client_certificate
from operators.models import Drimbox, Membership, Role
from trustspace.services import create_api_token
from weather.models import ProbeLocation

User = get_user_model()
out = {"sessions": {}, "tokens": {}, "boxes": []}


def open_session(user):
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "trustspace.oidc.IscAuthenticationBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    out["sessions"][user.username] = session.session_key


for username in ("ans.admin", "ans.relecteur"):
    user = User.objects.get(username=username)
    User.objects.filter(pk=user.pk).update(ans_rights_confirmed_at=timezone.now())
    open_session(User.objects.get(pk=user.pk))
out["tokens"]["ans.admin"] = create_api_token(acting_user=User.objects.get(username="ans.admin"), name="controle")[1]
for box in Drimbox.objects.filter(status="active").select_related("operator").order_by("identifiant"):
    legal = Membership.objects.filter(operator=box.operator, role=Role.LEGAL_REPRESENTATIVE,
                                      ended_at__isnull=True).order_by("pk").first().user
    if legal.username not in out["tokens"]:
        out["tokens"][legal.username] = create_api_token(acting_user=legal, name="controle")[1]
        open_session(legal)
    out["boxes"].append({"id": box.pk, "identifiant": box.identifiant, "db_fqdn": box.db_fqdn,
                         "operator": box.operator_id, "legal": legal.username})
out["probe_client"] = list(ensure_probe_client_certificate(settings.DEV_PKI_DIR))
out["inactive"] = [loc.name for loc in ProbeLocation.objects.filter(active=True)]
for name in %(locations)r:
    ProbeLocation.objects.get_or_create(name=name, defaults={"label": name.title(), "active": False})
print("SETUP:" + json.dumps(out))
"""


class ProductionCheck:
    def __init__(self, work, report, stack):
        self.work, self.report, self.stack = Path(work), report, stack
        self.logs = self.work / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.var = self.work / "var"
        self.services = {}
        self.requests_made = []  # (label, status) of every write the check made

    # --- infrastructure --------------------------------------------------------------------------------

    def start_infrastructure(self):
        self.pg = PostgresCluster(self.work / "postgres").start()
        self.stack.callback(self.pg.close)
        self.redis = RedisServer(self.work / "redis").start()
        self.stack.callback(self.redis.stop)
        if not named_available():
            raise Failure("BIND 9 (named, paquet Debian bind9) est requis")
        self.bind = BindServer(self.work / "bind", key_name="drimm-check").start()
        self.stack.callback(self.bind.stop)
        self.pebble = None
        if pebble_available():  # the ACME CA of `vi` certificates, validating DNS-01 against the BIND above
            self.pebble = PebbleServer(self.work / "pebble", f"{self.bind.host}:{self.bind.port}").start()
            self.stack.callback(self.pebble.stop)
        else:
            self.report.note("Pebble absent (paquet Debian pebble)", "ACME non configuré")
        github = GitHubServer(token=GITHUB_TOKEN)
        self.github = self.stack.enter_context(github)
        self.github.add_repo(REPOSITORY)
        self.smtp = SmtpSink().start()
        self.stack.callback(self.smtp.stop)
        self.env = self.production_env()

    def production_env(self):
        env = {key: value for key, value in os.environ.items()
               if not key.startswith(("DJANGO", "DATABASE", "REDIS", "CELERY", "VAR_DIR", "MEDIA_ROOT", "STATIC_ROOT"))}
        env.update({
            "DJANGO_SETTINGS_MODULE": "trustspace.settings", "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1",
            "DEBUG": "0", "SECRET_KEY": secrets.token_urlsafe(50), "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "DATABASE_URL": self.pg.url, "REDIS_URL": self.redis.url, "VAR_DIR": str(self.var),
            "STATIC_ROOT": str(self.var / "static"),
            "AUDIT_HMAC_KEYS": "check:" + base64.b64encode(secrets.token_bytes(32)).decode(),
            "ACME_ACCOUNT_KEY_SECRET": Fernet.generate_key().decode(),
            "EMAIL_HOST": "127.0.0.1", "EMAIL_PORT": str(self.smtp.port),
            "ADMIN_EMAILS": "exploitation@example.fr", "LOG_LEVEL": "INFO",
            "DNS_SERVER": self.bind.host, "DNS_PORT": str(self.bind.port), "DNS_TSIG_KEY_NAME": self.bind.key_name,
            "DNS_TSIG_SECRET": self.bind.secret, "FQDN_ZONE": self.bind.zone, "DNS_TIMEOUT": "2",
            "DNS_RETRY_BASE_SECONDS": "2", "DNS_RETRY_MAX_SECONDS": "10",
            "THROTTLE_NUM_PROXIES": "1",
            "WEATHER_PROBE_INTERVAL": str(PROBE_INTERVAL), "WEATHER_PROBE_TIMEOUT": "2",
            "WEATHER_PROBE_RETRIES": "0", "WEATHER_CONFIRMATION_FAILURES": "2",
            "OUTBOX_SWEEP_SECONDS": "5", "OUTBOX_RETRY_BASE_SECONDS": "2", "OUTBOX_RETRY_MAX_SECONDS": "10",
            # Short task limits so that an abandoned publication is resumed within the check (production: 300/900 s).
            "CELERY_TASK_TIME_LIMIT": "40", "CELERY_TASK_SOFT_TIME_LIMIT": "30",
            # Worker heartbeats every second: readiness names a killed worker within a few seconds.
            "WORKER_HEARTBEAT_SECONDS": "1", "HEALTH_WORKER_MAX_AGE_SECONDS": "6",
            "OUTBOX_ENCRYPTION_KEY": secrets.token_urlsafe(32),
            "WHITELIST_GITHUB_STALE_RUNNING_SECONDS": "45", "WHITELIST_GITHUB_SWEEP_SECONDS": "10",
            "WHITELIST_PUBLIC_CURRENT_SECONDS": "0",
        })
        if self.pebble:
            env.update({"ACME_DIRECTORY_URL": self.pebble.directory_url, "ACME_CA_BUNDLE": self.pebble.ca_bundle,
                        "ACME_CONTACT_EMAIL": "exploitation@example.fr"})
        return env

    def load_demo(self):
        """Migrations, then the demo trust space (DEBUG=1: the demo refuses production) in the same database."""
        manage(self.env, "migrate", "--noinput", "-v0")
        demo_env = dict(self.env, DEBUG="1", EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend")
        manage(demo_env, "demo_trustspace")
        out = manage(demo_env, "shell", "-c", SETUP_SNIPPET % {"locations": LOCATIONS}).stdout
        self.setup = json.loads(out.split("SETUP:", 1)[1].strip().splitlines()[0])
        pki = self.var / "pki"
        cert, key = self.setup["probe_client"]
        self.env.update({
            # The demo's DRIMboxes carry certificates of the development hierarchy: trusted here explicitly.
            "IGC_SANTE_ANCHORS": str(pki / "root.pem"), "IGC_SANTE_INTERMEDIATES": str(pki / "intermediate.pem"),
            "WHITELIST_SIGNER_P12": str(pki / "whitelist-signer.p12"), "WHITELIST_SIGNER_P12_PASSWORD": "drimm-demo",
            "WHITELIST_SIGNER_REQUIRE_CRL": "0",  # the development signer names no CRL
            "WEATHER_CLIENT_CERT": cert, "WEATHER_CLIENT_KEY": key, "WEATHER_VI_CA_BUNDLE": str(pki / "root.pem"),
            "WHITELIST_GITHUB_API_URL": self.github.base_url, "WHITELIST_GITHUB_TOKEN": GITHUB_TOKEN,
            "WHITELIST_GITHUB_REPOSITORY": REPOSITORY, "WHITELIST_GITHUB_MODE": "commit",
            "WHITELIST_GITHUB_SECONDS_BETWEEN_WRITES": "0", "WHITELIST_GITHUB_RETRY_BASE_SECONDS": "2",
            "WHITELIST_GITHUB_RETRY_MAX_SECONDS": "10", "WHITELIST_GITHUB_INTAKE_ENABLED": "0",
            "WHITELIST_GITHUB_TIMEOUT": "5",
        })
        for name in self.setup["inactive"]:
            manage(self.env, "weather_locations", "--deactivate", name, "--reason", "contrôle de production")
        for name in LOCATIONS:
            manage(self.env, "weather_locations", "--activate", name, "--reason", "contrôle de production")
        manage(self.env, "collectstatic", "--noinput", "-v0")
        self.report.ok("démo chargée", f"{len(self.setup['boxes'])} DRIMbox actives, lieux {', '.join(LOCATIONS)}")

    def start_portal(self):
        env = self.env
        drimbox_env = dict(env, DEBUG="1")
        state = self.var / "demo-drimboxes"
        # Consecutive ports (db then vi of each DRIMbox), kept across the outage's stop and start.
        self.service("drimboxes", [PYTHON, "manage.py", "demo_drimboxes", "--base-port", str(free_port_block(64))],
                     drimbox_env)
        if not wait_for(lambda: (state / "resolve.txt").exists() and (state / "resolve.txt").read_text().strip(),
                        60):
            raise Failure("demo_drimboxes n'a pas démarré :\n" + self.services["drimboxes"].tail())
        env["WEATHER_PROBE_RESOLVE"] = (state / "resolve.txt").read_text().strip()
        self.web_port = free_port()
        # As deploy/systemd/drimm-web.service: JSON access and error logs carrying the request id.
        self.service("web", [str(BIN / "gunicorn"), "trustspace.wsgi", "--config", "python:trustspace.gunicorn_conf",
                             "--bind", f"127.0.0.1:{self.web_port}",
                             "--workers", "2", "--worker-class", "gthread", "--threads", "4",
                             "--forwarded-allow-ips", "127.0.0.1", "--timeout", "60", "--no-control-socket"], env)
        self.service("worker", self.worker_command("celery", "worker@check"), env)
        self.service("reports", self.worker_command("reports", "reports@check"), env)  # large PERF layouts
        for location in LOCATIONS:
            self.service(f"probe-{location}", self.worker_command(f"probe.{location}", f"probe-{location}@check"),
                         dict(env, WEATHER_LOCATION=location))
        self.service("beat", [str(BIN / "celery"), "-A", "trustspace", "beat", "--loglevel", "INFO",
                              "--schedule", str(self.var / "celerybeat-schedule")], env)
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        if not os.path.exists(nginx):
            raise Failure("nginx (paquet Debian nginx-light) est requis")
        self.https_port = free_port()
        conf = render_nginx(self.work / "nginx", backend_port=self.web_port, http_port=free_port(),
                            https_port=self.https_port)
        self.ca = str(self.work / "nginx" / "tls-cert.pem")
        self.service("nginx", [nginx, "-p", str(self.work / "nginx"), "-c", str(conf)], env)
        self.base = f"https://127.0.0.1:{self.https_port}"
        env["CSRF_TRUSTED_ORIGINS"] = self.base  # the ANS pages' forms, posted through nginx
        self.services["web"].stop()
        self.services["web"].env = env
        self.services["web"].start()
        if not wait_for(lambda: self.ready()[0] == 200, 90, 1):
            status, body = self.ready()
            raise Failure(f"le portail n'est pas prêt ({status}) : {body}\n" + self.services["web"].tail())
        self.report.ok("portail prêt derrière nginx", f"{self.base}/api/v1/health/ready → 200")

    def worker_command(self, queue, name):
        return [str(BIN / "celery"), "-A", "trustspace", "worker", "-Q", queue, "-n", name, "--concurrency", "2",
                "--loglevel", "INFO", "--without-heartbeat", "--without-mingle", "--without-gossip"]

    def service(self, name, command, env):
        service = Service(name, command, env, self.logs)
        self.services[name] = service.start()
        self.stack.callback(service.stop)
        return service

    # --- HTTP ----------------------------------------------------------------------------------------------

    def http(self):
        session = requests.Session()
        session.trust_env = False  # REQUESTS_CA_BUNDLE would replace the check's CA
        session.verify = self.ca
        return session

    def ready(self):
        try:
            response = self.http().get(self.base + "/api/v1/health/ready", timeout=10)
            return response.status_code, response.text[:2000]
        except requests.RequestException as exc:
            return None, str(exc)

    def api(self, username, method, path, *, expect=(200, 201), label=None, **kwargs):
        session = self.http()
        session.headers["Authorization"] = f"Token {self.setup['tokens'][username]}"
        response = session.request(method, self.base + "/api/v1" + path, timeout=60, **kwargs)
        if method != "GET":
            self.requests_made.append((label or f"{method} {path}", response.status_code))
        if expect and response.status_code not in expect:
            raise Failure(f"{method} {path} → {response.status_code} : {response.text[:1500]}")
        return response

    def ans_page(self, username, method, path, data=None):
        """A page of the portal with the session made at set-up for ``username`` (ANS or an operator's legal
        representative); a POST first reads its form page (``_form_page``) and sends its hidden fields — the CSRF
        token among them — as a browser does."""
        session = self.http()
        session.cookies.set("sessionid", self.setup["sessions"][username], domain="127.0.0.1")
        if method == "GET":
            return session.get(self.base + path, timeout=60, allow_redirects=False)
        page = session.get(self.base + data.pop("_form_page"), timeout=60)
        fields = dict(re.findall(r'<input[^>]*type="hidden"[^>]*name="([^"]+)"[^>]*value="([^"]*)"', page.text))
        fields.update(data)
        response = session.post(self.base + path, data=fields, timeout=120, allow_redirects=False,
                                headers={"Referer": self.base + path})
        self.requests_made.append((f"POST {path}", response.status_code))
        if response.status_code not in (200, 302, 303):
            raise Failure(f"POST {path} → {response.status_code} : {response.text[:1500]}")
        return response

    def metric(self, name, labels=""):
        """A gauge of /metrics (through nginx, from 127.0.0.1 as Prometheus scrapes it); None when absent."""
        try:
            text = self.http().get(self.base + "/metrics", timeout=10).text
        except requests.RequestException:
            return None
        match = re.search(rf"^drimm_{name}{re.escape(labels)} ([0-9.e+-]+)$", text, re.MULTILINE)
        return float(match.group(1)) if match else None

    def sql(self, query, *params):
        with psycopg.connect(self.pg.url, connect_timeout=5) as conn:
            return conn.execute(query, params).fetchall()

    # --- the walk ------------------------------------------------------------------------------------------

    def declare_and_approve(self, seed, label, *, legal=None, via_pages=False):
        """A declaration by an operator's legal representative, approved by ANS (through the API, or through the
        request's page with ``via_pages``); returns the request as the API shows it."""
        box = self.setup["boxes"][0]
        legal = legal or box["legal"]
        operator = box["operator"]
        siren = with_luhn(f"{41300000 + seed:08d}")
        finess = with_luhn(f"75{seed:06d}")
        order = self.api(legal, "POST", f"/operators/{operator}/financing-orders/", json={
            "reference": f"BC-CHECK-{seed}", "pacs_identifiers": [f"PACS-CHECK-{seed}"], "client_siren": siren,
            "client_name": f"Centre d'imagerie du contrôle {seed}", "activity_2023": True,
            "finess_geographiques": [finess], "am_numbers": [f"75{seed:07d}"], "ris_wave": "vague_2",
            "ris_order_reference": f"RIS-CHECK-{seed}"}).json()
        self.api(legal, "POST", f"/financing-orders/{order['id']}/documents/", data={"kind": "bon_signe"},
                 files={"file": ("bon.pdf", demo_pdf("Bon de commande signé"), "application/pdf")})
        data = {"structure_name": f"Centre d'imagerie du contrôle {seed}", "structure_siren": siren,
                "structure_finess_geographique": finess, "pacs": f"PACS-CHECK-{seed}",
                "financing_order": str(order["id"]), "db_addresses": f"93.184.216.{seed % 200 + 10}",
                "vi_addresses": "", "responsable_contact": "responsable@example.fr",
                "support_contact": "support@example.fr"}
        request = self.api(legal, "POST", f"/operators/{operator}/requests/",
                           json={"kind": "declaration", "data": data}).json()
        url = f"/requests/{request['id']}/"
        self.api(legal, "POST", url + "attachments/", data={"kind": "cgi"},
                 files={"file": ("cgi.pdf", demo_pdf("Conditions Générales d'Intégration"), "application/pdf")})
        self.api(legal, "POST", url + "submit/")
        self.api("ans.admin", "POST", url + "assign/", json={})
        if via_pages:  # the ANS review page's « Approuver » form, as a browser posts it
            response = self.ans_page("ans.admin", "POST", f"/demandes/{request['id']}/approuver/",
                                     {"_form_page": f"/demandes/{request['id']}/", "comment": label})
            if response.status_code not in (302, 303):
                raise Failure(f"approbation par la page ({label}) : {response.status_code} {response.text[:500]}")
            return self.api("ans.admin", "GET", url).json()
        approved = self.api("ans.admin", "POST", url + "approve/", json={"comment": label},
                            label=f"approbation ({label})").json()
        if approved["status"] != "approuvee":
            raise Failure(f"demande {request['id']} : statut {approved['status']}")
        return approved

    def withdraw(self, box, label):
        url = self.api(box["legal"], "POST", f"/operators/{box['operator']}/requests/", json={
            "kind": "retrait", "drimbox": box["id"], "data": {"reason": f"Contrôle de production : {label}."}}).json()
        path = f"/requests/{url['id']}/"
        self.api(box["legal"], "POST", path + "submit/")
        self.api("ans.admin", "POST", path + "assign/", json={})
        return self.api("ans.admin", "POST", path + "approve/", json={}, label=f"retrait ({label})").json()

    def prepare_and_publish(self, label):
        """Prepared by ans.admin, approved and published by ans.relecteur (four eyes); returns the version number."""
        response = self.ans_page("ans.admin", "POST", "/ans/liste-blanche/preparer/",
                                 {"_form_page": "/ans/liste-blanche/", "comment": label})
        match = re.search(r"/ans/liste-blanche/(\d+)/", response.headers.get("Location", ""))
        if not match:
            raise Failure(f"préparation ({label}) : pas de version ({response.headers.get('Location')})")
        number = int(match.group(1))
        page = f"/ans/liste-blanche/{number}/"
        self.ans_page("ans.relecteur", "POST", page + "publier/", {"_form_page": page})
        status = self.sql("select status from whitelist_whitelistversion where number = %s", number)[0][0]
        if status != "publiee":
            raise Failure(f"version {number} ({label}) : statut {status}")
        return number

    def github_commits(self):
        repo = self.github.repos[REPOSITORY]
        with self.github.lock:
            head = repo.refs.get("refs/heads/main")
            count, seen = 0, set()
            todo = [head] if head else []
            while todo:
                sha = todo.pop()
                if sha in seen:
                    continue
                seen.add(sha)
                count += 1
                todo.extend(repo.get(sha, "commit")["parents"])
            return count

    def dns_has(self, fqdn):
        import dns.message
        import dns.query
        import dns.rdatatype

        query = dns.message.make_query(fqdn, dns.rdatatype.A)
        try:
            response = dns.query.udp(query, self.bind.host, port=self.bind.port, timeout=1)
        except Exception:  # noqa: BLE001 - BIND stopped: not there
            return False
        return bool(response.answer)

    def weather_status(self, identifiant):
        response = self.http().get(f"{self.base}/api/v1/weather/{identifiant}/", timeout=10)
        return response.json().get("status") if response.status_code == 200 else None

    def happy_path(self):
        self.start_commits = self.github_commits()
        approved = self.declare_and_approve(1, "parcours nominal")
        fqdn = approved["drimbox"]["db_fqdn"]
        self.report.check(wait_for(lambda: self.dns_has(fqdn), EVENTUALLY, 1), "déclaration approuvée",
                          f"{fqdn} publié dans BIND")
        box = self.setup["boxes"][-1]
        self.withdraw(box, "parcours nominal")  # the list changes: one entry fewer
        number = self.prepare_and_publish("parcours nominal")
        self.published = [number]
        self.report.check(wait_for(lambda: self.github_commits() == self.start_commits + 1, EVENTUALLY, 1),
                          "liste blanche publiée", f"version {number} sur GitHub ({REPOSITORY})")
        outage = self.setup["boxes"][0]
        manage(dict(self.env, DEBUG="1"), "demo_drimboxes", "--stop", outage["db_fqdn"].split(".")[0])
        down = wait_for(lambda: self.weather_status(outage["identifiant"]) == "down", EVENTUALLY, 2)
        self.report.check(down, "panne vue par la météo",
                          f"{outage['db_fqdn']} « {self.weather_status(outage['identifiant'])} » (lieux alpha et beta)")
        manage(dict(self.env, DEBUG="1"), "demo_drimboxes", "--start", outage["db_fqdn"].split(".")[0])

    # --- faults --------------------------------------------------------------------------------------------

    def readiness_reports(self, part, timeout=60):
        """Poll readiness until it answers 503 naming ``part``; (seen, last answer: the failing parts, and this
        part's message once it fails)."""
        last = [None]

        def failing():
            status, body = self.ready()
            try:
                fields = json.loads(body).get("error", {}).get("fields", {})
            except ValueError:
                fields = {}
            last[0] = f"{status}, en échec : {', '.join(fields) or 'aucune partie'}"
            if part in fields:
                last[0] += f" — {' '.join(fields[part])}"
            return status == 503 and part in fields

        return wait_for(failing, timeout, 1), last[0]

    def fault_redis_during_approvals(self):
        self.redis.stop()
        try:
            seen, last = self.readiness_reports("broker")
            self.report.check(seen, "Redis arrêté : disponibilité en échec", last)
            before = self.outbox_count()
            for seed in (11, 12):
                self.declare_and_approve(seed, "Redis arrêté")
            self.report.check(self.outbox_count() > before, "Redis arrêté : approbations enregistrées",
                              "les courriels attendent dans la boîte d'envoi")
            before = self.outbox_count()
            statuses = [self.declare_and_approve(seed, "Redis arrêté, par la page", via_pages=True)["status"]
                        for seed in (13, 14)]
            self.report.check(statuses == ["approuvee"] * 2 and self.outbox_count() > before,
                              "Redis arrêté : approbations par les pages ANS (formulaire, CSRF)",
                              f"statuts {statuses}, courriels en attente dans la boîte d'envoi")
        finally:
            self.redis.start()
        self.report.check(wait_for(lambda: self.ready()[0] == 200, EVENTUALLY, 2), "Redis relancé : portail prêt",
                          f"ready → {self.ready()[0]}")

    def fault_worker_killed_during_publication(self):
        """The worker is killed (-9) in the middle of a push: GitHub holds its last write (the branch update) until the
        worker is dead, then applies it. The publication stays « en cours »; the restarted worker's sweep takes it
        over once it is stale (WHITELIST_GITHUB_STALE_RUNNING_SECONDS), finds the files already on the branch and
        records the publication without a second commit."""
        before = self.github_commits()
        arrived, release = self.github.hold_next("PATCH", "/git/refs/heads/main")
        try:
            number = self.prepare_and_publish("worker tué")
            self.published.append(number)
            pushing = arrived.wait(EVENTUALLY)
            self.report.check(pushing, "worker tué (-9) : publication en cours de poussée", f"version {number}")
            self.services["worker"].kill(signal.SIGKILL)
        finally:
            release.set()
        state = self.sql("select p.status from whitelist_githubpublication p join whitelist_whitelistversion v "
                         "on v.id = p.version_id where v.number = %s", number)
        self.report.check(state and state[0][0] == "en_cours", "worker tué (-9) : publication restée en cours",
                          f"statut {state[0][0] if state else '—'}, {self.github_commits() - before} commit(s)")
        # Its heartbeat stops (WORKER_HEARTBEAT_SECONDS): readiness names the queue and the worker.
        seen, last = self.readiness_reports("worker", timeout=30)
        self.report.check(seen and "« worker »" in last and "« celery »" in last,
                          "worker tué (-9) : disponibilité en échec", last)
        self.services["worker"].start()

        def recorded():
            rows = self.sql("select p.status from whitelist_githubpublication p join whitelist_whitelistversion v "
                            "on v.id = p.version_id where v.number = %s", number)
            return rows and rows[0][0] not in ("en_cours", "a_publier", "echec")

        self.report.check(wait_for(recorded, EVENTUALLY, 2) and self.github_commits() == before + 1,
                          "worker relancé : publication reprise et livrée une fois",
                          f"{self.github_commits() - before} commit(s)")

    def fault_bind_down(self):
        self.bind.stop()
        try:
            approved = self.declare_and_approve(21, "BIND arrêté")
            fqdn = approved["drimbox"]["db_fqdn"]
            self.report.ok("BIND arrêté : approbation enregistrée", f"{fqdn} en attente DNS")
            retrying = wait_for(lambda: (self.metric("dns_changes_retrying") or 0) >= 1, 30, 1)
            self.report.check(retrying, "BIND arrêté : signalé par /metrics",
                              f"drimm_dns_changes_retrying = {self.metric('dns_changes_retrying')} (la disponibilité "
                              f"ne couvre pas le DNS : ready → {self.ready()[0]})")
        finally:
            self.bind.start()
        self.report.check(wait_for(lambda: self.dns_has(fqdn), EVENTUALLY, 2), "BIND relancé : nom publié", fqdn)

    def fault_github_502(self):
        """GitHub answers 502 to the push: the publication is committed and shown as failed, then retried by the
        GitHub sweep (beat, WHITELIST_GITHUB_SWEEP_SECONDS); delivery is checked by wait_github_retry after the other
        faults."""
        self.github_before_502 = self.github_commits()
        self.github.fail_next(1, 502)
        number = self.prepare_and_publish("GitHub 502")
        self.published.append(number)
        self.github_502_version = number
        # The failure is recorded once the push has come back with the 502 (attempts count from the claim, before
        # the push: waiting for them alone races the push on a loaded machine).
        failed = wait_for(lambda: self.sql(
            "select p.status from whitelist_githubpublication p join whitelist_whitelistversion v "
            "on v.id = p.version_id where v.number = %s", number)[0][0] == "echec", 30, 1)
        self.report.check(failed and self.github_commits() == self.github_before_502,
                          "GitHub 502 : publication enregistrée, poussée en échec", f"version {number}")
        gauge = self.metric("whitelist_github_publications", '{status="echec"}')
        self.report.check((gauge or 0) >= 1, "GitHub 502 : signalé par /metrics",
                          f'drimm_whitelist_github_publications{{status="echec"}} = {gauge}')

    def wait_github_retry(self):
        # The sweep runs every WHITELIST_GITHUB_SWEEP_SECONDS (10 s here) once the backoff has passed.
        delivered = wait_for(lambda: self.github_commits() == self.github_before_502 + 1, EVENTUALLY, 2)
        self.report.check(delivered, "GitHub 502 : publication rejouée et livrée une fois",
                          f"version {self.github_502_version}, "
                          f"{self.github_commits() - self.github_before_502} commit(s)")

    def fault_database_restart(self):
        self.pg.stop()
        try:
            seen, last = self.readiness_reports("database", timeout=30)
            self.report.check(seen, "PostgreSQL arrêté : disponibilité en échec", last)
        finally:
            self.pg._ctl("start")
        self.report.check(wait_for(lambda: self.ready()[0] == 200, EVENTUALLY, 2),
                          "PostgreSQL relancé : portail prêt", f"ready → {self.ready()[0]}")
        self.declare_and_approve(31, "après redémarrage de PostgreSQL")
        self.report.ok("PostgreSQL relancé : approbation enregistrée")

    def pages_answer(self):
        """After the faults, the HTML pages of each audience answer 200 (sessions made at set-up)."""
        legal = self.setup["boxes"][0]["legal"]
        pages = [("ans.admin", "/ans/demandes/"), ("ans.admin", "/ans/liste-blanche/"),
                 ("ans.admin", "/ans/envois/?statut=sent"), ("ans.admin", "/ans/alertes/"),
                 (legal, "/espace/demandes/"), (None, "/meteo/")]
        answers = []
        for username, path in pages:
            if username is None:
                response = self.http().get(self.base + path, timeout=60, allow_redirects=False)
            else:
                response = self.ans_page(username, "GET", path)
            html = response.headers.get("Content-Type", "").startswith("text/html")
            answers.append((path, response.status_code if html else f"{response.status_code} (non HTML)"))
        bad = [(path, status) for path, status in answers if status != 200]
        self.report.check(not bad, "pages HTML après les pannes",
                          ", ".join(f"{path} → {status}" for path, status in answers))

    # --- final assertions ----------------------------------------------------------------------------------

    def outbox_count(self):
        return self.sql("select count(*) from trustspace_outboxmessage")[0][0]

    def final_checks(self):
        def settled():
            return self.sql("select count(*) from trustspace_outboxmessage where kind = 'email' "
                            "and status = 'pending'")[0][0] == 0

        self.report.check(wait_for(settled, EVENTUALLY, 2), "boîte d'envoi vidée",
                          self.sql("select status, count(*) from trustspace_outboxmessage group by 1"))
        rows = self.sql("select id, created_at, status from trustspace_outboxmessage where kind = 'email'")
        received = self.smtp.message_ids()
        duplicates = sorted({mid for mid in received if received.count(mid) > 1})
        sent = [row for row in rows if row[2] == "sent"]
        expected = {f"<outbox-{pk}-{created:%Y%m%d%H%M%S}@" for pk, created, _ in sent}
        missing = [prefix for prefix in expected if not any(mid.startswith(prefix) for mid in received)]
        self.report.check(not duplicates and not missing, "chaque courriel livré une fois",
                          f"{len(received)} reçus, {len(sent)} envoyés ; doublons {duplicates[:3]}, "
                          f"manquants {missing[:3]}")
        extra = [str(m["Subject"]) for _recipients, m in self.smtp.messages
                 if not str(m["Message-ID"] or "").startswith("<outbox-")]
        if extra:
            self.report.note("courriels hors boîte d'envoi", "; ".join(extra[:5]))
        failed = [row for row in rows if row[2] == "failed"]
        self.report.check(not failed, "aucun courriel abandonné", f"{len(failed)} en échec")
        commits = self.github_commits() - self.start_commits
        self.report.check(commits == len(self.published), "chaque publication livrée une fois sur GitHub",
                          f"{len(self.published)} versions, {commits} commits")
        bad = [(label, status) for label, status in self.requests_made if status >= 400]
        self.report.check(not bad, "chaque requête engagée a répondu normalement",
                          f"{len(self.requests_made)} requêtes d'écriture ; en erreur : {bad[:5]}")


@contextmanager
def step(report, name):
    try:
        yield
    except Exception as exc:  # noqa: BLE001 - every step reports and the next one still runs
        report.fail(name, f"{type(exc).__name__}: {exc}")
        traceback.print_exc()


def main():
    urllib3.disable_warnings()
    report = Report()
    started = time.monotonic()
    keep = os.environ.get("PRODUCTION_CHECK_KEEP") == "1"
    work = Path(tempfile.mkdtemp(prefix="drimm-production-check-"))
    os.chmod(work, 0o755)  # noqa: S103 - the private PostgreSQL runs as « postgres » and must traverse it
    print(f"== Contrôle de production / production check — {work}", flush=True)
    with ExitStack() as stack:
        if not keep:
            stack.callback(shutil.rmtree, work, True)
        check = ProductionCheck(work, report, stack)
        try:
            check.start_infrastructure()
            check.load_demo()
            check.start_portal()
        except Exception as exc:  # noqa: BLE001
            report.fail("démarrage", f"{type(exc).__name__}: {exc}")
            traceback.print_exc()
        else:
            # GitHub 502 first: its retry (the sweep, after the backoff) is awaited after the faults that publish
            # nothing, and before the next publication (an older version never goes out after a newer one).
            for name, scenario in (("parcours nominal", check.happy_path),
                                   ("GitHub 502", check.fault_github_502),
                                   ("Redis arrêté", check.fault_redis_during_approvals),
                                   ("BIND arrêté", check.fault_bind_down),
                                   ("PostgreSQL redémarré", check.fault_database_restart),
                                   ("GitHub 502, rejeu", check.wait_github_retry),
                                   ("worker tué", check.fault_worker_killed_during_publication),
                                   ("pages HTML", check.pages_answer)):
                with step(report, name):
                    scenario()
            with step(report, "bilan"):
                check.final_checks()
        if report.failed:
            for name, service in check.services.items():
                print(f"--- {name} (dernières lignes)\n{service.tail(15)}")
    elapsed = time.monotonic() - started
    print("\n== Bilan / summary")
    for status, name, detail in report.rows:
        print(f"  {status:6} {name}" + (f" — {detail}" if detail else ""))
    verdict = "ÉCHEC / FAILED" if report.failed else "OK / PASSED"
    print(f"== {verdict} : {len(report.failed)} échec(s) / failure(s) en {elapsed:.0f} s")
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main())
