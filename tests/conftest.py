"""Shared fixtures: an operator A with a person in every role, another operator B, an ANS administrator."""
import copy
import gc
import io
import os
from pathlib import Path

import pytest
from django.conf import global_settings
from django.core.files.uploadedfile import SimpleUploadedFile

from demo.documents import demo_pdf, with_luhn
from operators import services
from operators.models import Role

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def require_or_skip(condition, reason):
    """Skip a test whose service is missing, except in CI where a missing service must fail."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"required in CI: {reason}")
    pytest.skip(reason)


@pytest.fixture(autouse=True, scope="session")
def _test_flush_may_empty_the_audit_trail():
    """Test flushes (transactional_db, live_server) empty every table, audit trail included, which the database
    refuses to anyone else (trustspace/migrations/0003_audit_keyed.py). PostgreSQL: the flush's TRUNCATE runs with
    session_replication_role = replica, which skips the triggers and which only a superuser (the test role) may
    set. SQLite: audit rows are deleted before the head, which cannot be deleted while rows exist.

    The flush also empties what the data migrations wrote: the measurement policy v1 is written back, so that a
    later test of the same process finds the database as migrated, whichever tests ran before it."""
    from importlib import import_module

    from django.apps import apps
    from django.db.backends.base.operations import BaseDatabaseOperations

    flush = BaseDatabaseOperations.execute_sql_flush
    create_default_policy = import_module("weather.migrations.0002_default_policy").create_default_policy

    def execute_sql_flush(self, sql_list):
        if self.connection.vendor == "postgresql":
            sql_list = ["SET LOCAL session_replication_role = replica", *sql_list]
        else:
            sql_list = sorted(sql_list, key=lambda sql: "trustspace_audithead" in sql)
        flush(self, sql_list)
        create_default_policy(apps, None)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(BaseDatabaseOperations, "execute_sql_flush", execute_sql_flush)
        yield


@pytest.fixture(autouse=True, scope="session")
def _live_server_answers_without_waiting_for_acks():
    """The live server (Django's development server) writes an answer in two sends, headers then body. On a
    kept-alive connection, Nagle's algorithm holds the body until the client acknowledges the headers, which a
    client may delay by 40 ms: a ``requests`` session's requests took 48 ms each, 3 ms with TCP_NODELAY (no change
    was measured for Chromium's)."""
    from django.core.servers.basehttp import WSGIRequestHandler

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(WSGIRequestHandler, "disable_nagle_algorithm", True)
        yield


_TEMPLATE_DB = {}  # in the pytest-xdist controller: the process migrating the template, its directory, the URL


def pytest_configure(config):
    """The pytest-xdist controller migrates one template database for its test processes while they start
    (tests/support/template_db.py)."""
    if hasattr(config, "workerinput") or not getattr(config.option, "numprocesses", None) \
            or config.option.collectonly:
        return
    from tests.support import template_db

    database_url = os.environ.get("DATABASE_URL", "")
    process, directory = template_db.start(database_url)
    _TEMPLATE_DB.update(process=process, directory=directory, database_url=database_url)


def pytest_unconfigure(config):
    if _TEMPLATE_DB:
        from tests.support import template_db

        template_db.stop(**_TEMPLATE_DB)
        _TEMPLATE_DB.clear()


@pytest.fixture(scope="session")
def django_db_setup(request, django_test_environment, django_db_blocker, django_db_use_migrations,
                    django_db_modify_db_settings):
    """pytest-django's, except that each test process of a parallel run copies the run's migrated template
    (tests/support/template_db.py) instead of migrating a database of its own."""
    from django.test.utils import setup_databases, teardown_databases
    from pytest_django.fixtures import _disable_migrations

    from tests.support import template_db

    verbosity = request.config.option.verbose
    with django_db_blocker.unblock():
        old_config = template_db.clone_for_this_process(verbosity)
        if old_config is None:
            if not django_db_use_migrations:
                _disable_migrations()
            old_config = setup_databases(verbosity=verbosity, interactive=False, aliases={"default"},
                                         serialized_aliases=set())
    yield
    with django_db_blocker.unblock():
        teardown_databases(old_config, verbosity=verbosity)


@pytest.fixture(autouse=True, scope="session")
def _close_stray_connections_before_dropping_the_test_database(django_db_setup, django_db_blocker):
    """A connection a test's thread or server left open would keep PostgreSQL from dropping the test database at
    the end (« being accessed by other users »), leaving one behind per run: end those sessions first."""
    yield
    from django.db import connection

    if connection.vendor != "postgresql":
        return
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                       "WHERE datname = current_database() AND pid <> pg_backend_pid()")


def forget_request_state():
    """What earlier requests left outside the database: the discovered OIDC documents, the requests counted against
    the rate limits (trustspace.throttling), the cached public whitelist files. Forgotten before each test."""
    from trustspace import oidc_discovery
    from trustspace.throttling import reset_counters
    from whitelist import public_cache

    oidc_discovery.clear_caches()
    reset_counters()
    public_cache.clear()


@pytest.fixture(autouse=True)
def _test_settings(settings, tmp_path):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.MEDIA_ROOT = tmp_path / "media"
    # A developer's anchors (var/) describe another database's audit chain.
    settings.AUDIT_ANCHOR_FILE = str(tmp_path / "audit-anchors.jsonl")
    settings.STORAGES = {**settings.STORAGES, "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
    # Every test reads the current whitelist from its own database.
    settings.WHITELIST_PUBLIC_CURRENT_SECONDS = 0
    # The OIDC endpoints come from the issuer's discovery document: never the real iSC from a test (a closed
    # loopback port; OIDC tests point the portal at their provider on 127.0.0.1).
    settings.OIDC_ISSUER = "http://127.0.0.1:9/realms/tests"
    # Passwords (acme-dns keys, the development login) hashed by a cheap hasher: production's PBKDF2 costs a fifth
    # of a second of a core per hash or check, 75 of them in the suite. Production's hashers still check the hashes
    # made outside a test (the demo loaded once per process).
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher", *global_settings.PASSWORD_HASHERS]
    forget_request_state()
    # Celery reads its configuration from Django's settings (namespace CELERY): a test changes it there, since
    # celery 5.6 ignores assignments to app.conf once that source is read.
    settings.CELERY_TASK_EAGER_PROPAGATES = True
    yield
    # Shared tasks run on Celery's current app: another app a test made current would take the outbox's kicks
    # to its broker in every later test of this process.
    from celery import current_app

    from trustspace.celery import app

    assert current_app._get_current_object() is app, "a test left another Celery app current (set_as_current)"


@pytest.fixture
def bind(tmp_path, settings):
    """A real BIND 9 on 127.0.0.1 serving the zone, the portal's DNS settings pointed at it."""
    from tests.support.dns_server import named_available, running_bind

    require_or_skip(named_available(), "BIND 9 (named) is not installed")
    with running_bind(tmp_path / "bind") as server:
        for name, value in server.settings_overrides().items():
            setattr(settings, name, value)
        settings.DNS_TIMEOUT = 1
        yield server


@pytest.fixture(scope="session")
def trusted_hierarchy(tmp_path_factory):
    """PEM files of the test IGC-Santé hierarchy (tests/support/lifecycle.shared_pki)."""
    from tests.support.lifecycle import shared_pki

    directory = tmp_path_factory.mktemp("igc-sante")
    (directory / "root.pem").write_bytes(shared_pki().root.pem)
    (directory / "intermediate.pem").write_bytes(shared_pki().intermediate.pem)
    return [str(directory / "root.pem")], [str(directory / "intermediate.pem")]


@pytest.fixture(autouse=True)
def _trust_the_test_hierarchy(settings, trusted_hierarchy, monkeypatch):
    settings.IGC_SANTE_ANCHORS, settings.IGC_SANTE_INTERMEDIATES = trusted_hierarchy
    settings.CRL_FETCH_TIMEOUT = settings.OCSP_TIMEOUT = 2
    # Test certificates name a CRL on a closed loopback port: never a fetch off this machine (CRL tests
    # point it at their own loopback server).
    monkeypatch.setattr("tests.support.pki.CRL_URL", "http://127.0.0.1:9/crl/serveurs-test.crl")


def make_siren(seed):
    return with_luhn(f"{seed:08d}")


def pdf_upload(name="mandat.pdf", content=None):
    return SimpleUploadedFile(name, content if content is not None else demo_pdf("Mandat"), "application/pdf")


class World:
    """Operator A (every role), operator B (its legal representative), an ANS administrator."""


def user_maker():
    """A function creating users (``user1``, ``user2``… unless named), as after an iSC login."""
    from django.contrib.auth import get_user_model

    counter = {"n": 0}

    def make(username=None, **extra):
        counter["n"] += 1
        username = username or f"user{counter['n']}"
        extra.setdefault("email", f"{username}@example.fr")
        extra.setdefault("oidc_sub", f"sub-{username}")
        if extra.get("is_ans_admin"):
            # As after an iSC login that carried the ANS claim (personal tokens rely on it).
            from django.utils import timezone

            extra.setdefault("ans_rights_confirmed_at", timezone.now())
        return get_user_model().objects.create(username=username, first_name=username.title(), last_name="Test",
                                               **extra)

    return make


@pytest.fixture
def make_user(db):
    return user_maker()


# A CPx card number / an IGC-Santé habilitation reference of the right shape (DESIGN §5).
CARD = "8001234567"
HABILITATION = "IGCS-HAB-2026-0042"


def application_data(seed, name, **extra):
    """What an applicant types to register its operator (a valid legal entity derived from ``seed``)."""
    siren = make_siren(seed)
    siret = with_luhn(siren + "0001")
    return {
        "name": name, "siren": siren, "siret": siret, "id_nat_struct": "3" + siret,
        "address_line": "1 rue de la Paix", "postal_code": "75002", "city": "Paris",
        "contact_email": "contact@example.fr", "representative_name": "Claire Martin",
        "representative_function": "Présidente", "legal_rep_card": CARD, **extra,
    }


def ans_reviewer():
    """An active ANS administrator: the first one there is, else a dedicated one."""
    from django.contrib.auth import get_user_model

    User = get_user_model()
    existing = User.objects.filter(is_ans_admin=True, is_active=True).order_by("pk").first()
    if existing is not None:
        return existing
    return User.objects.create(username="ans.onboarding", email="ans.onboarding@example.fr", is_ans_admin=True,
                               oidc_sub="sub-ans.onboarding", first_name="Anne", last_name="Instructrice")


def apply(user, seed, name, **extra):
    """File ``user``'s application (a contract is published first when none is)."""
    from operators.models import ContractVersion

    if ContractVersion.current() is None:
        services.publish_contract_version(acting_user=ans_reviewer(), version="2025-12", title="Contrat d'adhésion",
                                          body="Texte du contrat d'adhésion.")
    return services.apply_for_operator(
        acting_user=user, data=application_data(seed, name, **extra), contract_document=pdf_upload("contrat.pdf"),
        contract_accepted=True)


def register(user, seed, name, ans=None):
    """The operator ``user`` represents, through the real path: application, then ANS review and approval."""
    from operators import permissions

    ans = ans or ans_reviewer()
    req = services.assign_request(apply(user, seed, name), acting_user=ans)
    req = services.approve_request(req, acting_user=ans)
    permissions.forget_roles(user)
    return req.operator


def add_role(operator, inviter, user, role):
    mandate = pdf_upload() if role == Role.MANDATAIRE else None
    card = {Role.TECHNICAL_ADMIN: HABILITATION, Role.LEGAL_REPRESENTATIVE: CARD}.get(role, "")
    _invitation, token = services.invite_person(operator, acting_user=inviter, email=user.email, role=role,
                                                mandate_document=mandate)
    return services.accept_invitation(token, acting_user=user, card_reference=card)


def build_world(make_user):
    """Built through the real services: ANS publishes the contract, two operators apply and are approved."""
    w = World()
    w.ans = make_user("ans", is_ans_admin=True)
    w.contract = services.publish_contract_version(acting_user=w.ans, version="2026-01", title="Contrat",
                                                   body="Texte du contrat.")
    w.legal = make_user("legal")
    # Registered through the onboarding path: the application accepts the contract in force, ANS approves.
    w.operator = register(w.legal, 12345678, "Opérateur A", ans=w.ans)
    w.mandataire = make_user("mandataire")
    w.technical = make_user("technical")
    w.mandataire_membership = add_role(w.operator, w.legal, w.mandataire, Role.MANDATAIRE)
    w.technical_membership = add_role(w.operator, w.legal, w.technical, Role.TECHNICAL_ADMIN)
    w.legal_membership = w.operator.memberships.get(user=w.legal)
    w.other = make_user("other")
    w.other_operator = register(w.other, 87654321, "Opérateur B", ans=w.ans)
    w.pending_invitation, w.pending_token = services.invite_person(
        w.operator, acting_user=w.legal, email="pending@example.fr", role=Role.TECHNICAL_ADMIN)
    return w


# The world's rows take ids from here: rows a test writes before asking for the world take ids from 1.
WORLD_FIRST_ID = 1_000_000


class WorldState:
    """A world's objects (as their rows are in the database now) and its other values, made again as a new World:
    fresh instances and copies, so that nothing set on one world reaches the next."""

    def __init__(self, world):
        from django.db.models import Model

        from tests.support.db_snapshot import InstanceCopies

        self.objects = InstanceCopies({name: value for name, value in vars(world).items()
                                       if isinstance(value, Model)})
        self.values = {name: copy.deepcopy(value) for name, value in vars(world).items()
                       if not isinstance(value, Model)}

    def make(self):
        w = World()
        for name, instance in self.objects.make().items():
            setattr(w, name, instance)
        for name, value in self.values.items():
            setattr(w, name, copy.deepcopy(value))
        return w


class _WorldRecord:
    """The world's rows and media as its build left them, and its objects and values."""

    def __init__(self, world, snapshot):
        self.snapshot = snapshot
        self.state = WorldState(world)

    def restore(self, media_root):
        self.snapshot.restore(media_root)
        return self.state.make()


@pytest.fixture(scope="session")
def _world_record(django_db_setup, django_db_blocker, tmp_path_factory):
    """Builds the world once per test process, in a transaction rolled back at once, and records its rows."""
    from django.db import transaction
    from django.test.utils import override_settings

    from tests.support.db_snapshot import Snapshot, start_ids_at, table_contents

    media = tmp_path_factory.mktemp("world-media")
    with django_db_blocker.unblock(), override_settings(MEDIA_ROOT=media), transaction.atomic():
        before = table_contents()
        start_ids_at(WORLD_FIRST_ID)
        world = build_world(user_maker())
        record = _WorldRecord(world, Snapshot.changes(before, table_contents(), media))
        transaction.set_rollback(True)
    return record


@pytest.fixture
def world(db, _world_record, settings):
    """Operator A (every role), operator B, an ANS administrator: built once per test process through the
    services, written back as rows for each test (tests/support/db_snapshot.py)."""
    return _world_record.restore(Path(settings.MEDIA_ROOT))


class DemoRecord:
    """The demo trust space as ``manage.py demo_trustspace`` loads it, recorded once per test process: its rows,
    its media and its development PKI (the DRIMboxes' certificates chain to it; their keys are kept there)."""

    def __init__(self, snapshot, pki_dir):
        self.snapshot, self.pki_dir = snapshot, pki_dir

    def pki_settings(self):
        """The settings that point the portal at the demo's PKI (its anchors: the demo's certificates)."""
        return {"DEV_PKI_DIR": self.pki_dir, "IGC_SANTE_ANCHORS": [str(self.pki_dir / "root.pem")],
                "IGC_SANTE_INTERMEDIATES": [str(self.pki_dir / "intermediate.pem")]}


@pytest.fixture(scope="session")
def _demo_record(django_db_setup, django_db_blocker, tmp_path_factory):
    """Loads the demo once per test process (the first test asking for it), in a transaction rolled back at
    once, and records the whole database as the load left it."""
    from django.core.management import call_command
    from django.db import transaction
    from django.test.utils import override_settings

    from tests.support.db_snapshot import Snapshot, table_contents

    media, pki = tmp_path_factory.mktemp("demo-media"), tmp_path_factory.mktemp("demo-pki")
    record = DemoRecord(None, pki)
    with django_db_blocker.unblock(), override_settings(MEDIA_ROOT=media, DEBUG=True, **record.pki_settings()), \
            transaction.atomic():
        call_command("demo_trustspace", stdout=io.StringIO())
        record.snapshot = Snapshot.whole(table_contents(), media)
        transaction.set_rollback(True)
    return record


@pytest.fixture
def demo_trust_space(db, _demo_record, settings):
    """The demo trust space (``manage.py demo_trustspace``, as ``./scripts/run`` loads it) as the database's
    whole content, with its development PKI: loaded once per test process through the services, written back
    as rows for each test (tests/support/db_snapshot.py). Ask for it before writing anything else."""
    for name, value in _demo_record.pki_settings().items():
        setattr(settings, name, value)
    _demo_record.snapshot.restore(Path(settings.MEDIA_ROOT))
    return _demo_record


# External components a test needs, as markers (`pytest -m "not browser and not pebble"` runs without them).
# A test is marked when its module uses the component's helper or it asks for the component's fixture.
COMPONENT_HELPERS = {
    "bind": ("tests.support.dns_server",),
    "pebble": ("tests.support.pebble",),
    "hsm": ("tests.support.softhsm",),
    "oidc": ("tests.support.oidc_provider",),
    "redis": ("tests.support.redis_server", "tests.support.throttling"),
    "xmlsec1": (),
    "nginx": ("tests.deploy.local_services",),
}
COMPONENT_FIXTURES = {"bind": {"bind"}, "browser": {"page", "portal"}, "oidc": {"issuer"}}


def _helper_modules_used(module):
    used = set()
    for value in vars(module).values():
        name = getattr(value, "__module__", None) or getattr(value, "__name__", None)
        if isinstance(name, str) and name.startswith("tests."):
            used.add(name)
    return used


# A test using none of these (nor the django_db marker) never reaches the database.
DATABASE_FIXTURES = {"db", "transactional_db", "live_server"}


def pytest_collection_modifyitems(config, items):
    seen = {}
    for item in items:
        module = item.module
        if module not in seen:
            used = _helper_modules_used(module)
            source = Path(module.__file__).read_text()
            seen[module] = {marker for marker, helpers in COMPONENT_HELPERS.items() if used & set(helpers)}
            if "xmlsec1" in source:
                seen[module].add("xmlsec1")
            if "REDIS_URL" in source:
                seen[module].add("redis")
        markers = set(seen[module])
        markers |= {marker for marker, fixtures in COMPONENT_FIXTURES.items() if fixtures & set(item.fixturenames)}
        if item.get_closest_marker("django_db") is None and not DATABASE_FIXTURES & set(item.fixturenames):
            markers.add("nodb")
        for marker in sorted(markers):
            item.add_marker(marker)


def pytest_collection_finish(session):
    """The cyclic garbage collector took a tenth of a test process's time (7.3 of 67 s of a core over the lifecycle
    and crawl tests), mostly walking what lives as long as the process: the modules, the API schema and its
    generated cases. Frozen once collected, they are no longer walked; and a collection every 50,000 new objects
    instead of 700 (3.6 s of 60 s)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)


def pytest_sessionfinish(session, exitstatus):
    """In CI every test runs: a skipped test fails the run (deselect with -m instead, as scripts/test does)."""
    if not IN_CI or hasattr(session.config, "workerinput"):
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter else []
    if skipped and session.exitstatus == 0:
        reporter.write_line(f"CI : {len(skipped)} test(s) ignoré(s) — en CI, tout test doit s'exécuter :", red=True)
        for report in skipped[:20]:
            reporter.write_line(f"  {report.nodeid}: {report.longrepr[-1] if report.longrepr else ''}")
        session.exitstatus = 1


def pytest_runtest_setup(item):
    """Tests of PostgreSQL itself (concurrent transactions, triggers) need it: scripts/test deselects them on
    SQLite; run by hand there, they are skipped (and a skip fails CI)."""
    if item.get_closest_marker("postgresql"):
        from django.conf import settings

        if "postgresql" not in settings.DATABASES["default"]["ENGINE"]:
            pytest.skip("needs PostgreSQL (DATABASE_URL=postgres://…)")
