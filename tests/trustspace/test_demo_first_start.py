"""A newcomer's first start (issue 17, items 6 and 7), below ``./scripts/run``: the demo's accounts as the banner and
the README list them, ``demo_prepare`` (migrate and load once, then nothing), the Django-free readiness check of a
warm restart, and the Pebble configuration from the environment's ports."""
import json
import sqlite3
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from demo import accounts, pebble_config, readiness
from operators.models import Operator
from operators.permissions import can

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def demo_settings(settings, tmp_path):
    settings.DEBUG = True
    settings.DEV_PKI_DIR = tmp_path / "pki"
    settings.IGC_SANTE_ANCHORS = [str(tmp_path / "pki" / "root.pem")]
    settings.IGC_SANTE_INTERMEDIATES = [str(tmp_path / "pki" / "intermediate.pem")]
    return settings


def test_demo_prepare_loads_the_demo_once_then_has_nothing_to_do(db, demo_settings, capsys):
    call_command("demo_prepare")
    first = capsys.readouterr().out
    assert "Base et démo prêtes en" in first and "démo chargée en" in first
    assert "Jeu de démonstration chargé" in first
    users = get_user_model().objects.count()
    call_command("demo_prepare")
    again = capsys.readouterr().out
    assert "rien à faire" in again and "déjà chargée" in again
    assert get_user_model().objects.count() == users


def test_every_demo_account_is_listed_with_what_it_can_do(db, demo_settings, client, capsys):
    call_command("demo_trustspace")
    printed = capsys.readouterr().out
    people = {user.username for user in get_user_model().objects.all() if user.has_usable_password()}
    listed = [username for username, _who, _what in accounts.ACCOUNTS]
    # Exactly the people the demo creates with the demo password: in the command's output, the banner's lines
    # and the README's table.
    assert set(listed) == people and len(listed) == 10
    readme = (ROOT / "README.md").read_text()
    banner = "\n".join(accounts.lines())
    for username in listed:
        assert f"| `{username}` |" in readme, username
        assert f"  {username} " in banner and f"  {username} " in printed, username
    assert "drimm-demo" in printed and "drimm-demo" in readme
    # What they are said to do: ans.relecteur is the second ANS administrator (four eyes), at.emedia the only one
    # who manages E-MEDIA's certificates.
    User = get_user_model()
    assert User.objects.get(username="ans.relecteur").is_ans_admin
    emedia = Operator.objects.get(name="E-MEDIA")
    assert {u.username for u in User.objects.all() if can(u, "certificate.manage", emedia)} == {"at.emedia"}
    for username in ("ans.relecteur", "at.emedia"):
        response = client.post("/connexion/", {"username": username, "password": accounts.PASSWORD})
        assert response.status_code == 302, username
        client.logout()


def _database(path, *, migrations=3, with_demo=True):
    connection = sqlite3.connect(path)
    connection.execute("CREATE TABLE IF NOT EXISTS django_migrations (id INTEGER PRIMARY KEY, app TEXT, name TEXT)")
    connection.execute("CREATE TABLE IF NOT EXISTS trustspace_user (id INTEGER PRIMARY KEY, username TEXT)")
    connection.executemany("INSERT INTO django_migrations (app, name) VALUES (?, ?)",
                           [("app", f"{n:04d}") for n in range(migrations)])
    if with_demo:
        connection.execute("INSERT INTO trustspace_user (username) VALUES ('ans.admin')")
    connection.commit()
    connection.close()


def test_the_readiness_check_passes_only_for_the_stamped_database(tmp_path):
    root, var = tmp_path / "checkout", tmp_path / "var"
    (root / "app" / "migrations").mkdir(parents=True)
    (root / "requirements.txt").write_text("django==5.2\n")
    (root / "app" / "migrations" / "0001_initial.py").write_text("# one\n")
    var.mkdir()
    assert not readiness.is_ready(var, root)  # no database, no stamp
    _database(readiness.database_path(var), with_demo=False)
    with pytest.raises(ValueError):
        readiness.write_stamp(var, root)  # migrated, demo not loaded: never stamped
    _database(readiness.database_path(var), migrations=0)
    readiness.write_stamp(var, root)
    assert readiness.is_ready(var, root)
    assert json.loads((var / readiness.STAMP_NAME).read_text())["migrations"] == 3

    (root / "app" / "migrations" / "0002_more.py").write_text("# two\n")  # a new migration in the checkout
    assert not readiness.is_ready(var, root)
    (root / "app" / "migrations" / "0002_more.py").unlink()
    assert readiness.is_ready(var, root)
    (root / "requirements.txt").write_text("django==5.2.1\n")  # other requirements: other apps' migrations
    assert not readiness.is_ready(var, root)
    (root / "requirements.txt").write_text("django==5.2\n")
    _database(readiness.database_path(var), migrations=1, with_demo=False)  # the database moved on
    assert not readiness.is_ready(var, root)


def test_the_readiness_check_refuses_a_database_without_the_demo(tmp_path):
    root, var = tmp_path / "checkout", tmp_path / "var"
    root.mkdir()
    var.mkdir()
    (root / "requirements.txt").write_text("x\n")
    _database(readiness.database_path(var))
    readiness.write_stamp(var, root)
    connection = sqlite3.connect(readiness.database_path(var))
    connection.execute("DELETE FROM trustspace_user")
    connection.commit()
    connection.close()
    assert not readiness.is_ready(var, root)


def test_pebble_listens_and_validates_on_the_ports_of_the_environment(tmp_path):
    ports = {"PEBBLE_PORT": "24000", "PEBBLE_MANAGEMENT_PORT": "25000", "PEBBLE_HTTP_PORT": "25002",
             "PEBBLE_TLS_PORT": "25001"}
    config = pebble_config.config(tmp_path, ports)["pebble"]
    assert config["listenAddress"] == "127.0.0.1:24000"
    assert config["managementListenAddress"] == "127.0.0.1:25000"
    assert (config["httpPort"], config["tlsPort"]) == (25002, 25001)
    assert config["certificate"] == str(tmp_path / "cert.pem")
    for wrong in ("", "0", "70000", "14000x"):
        with pytest.raises(SystemExit, match="PEBBLE_TLS_PORT"):
            pebble_config.config(tmp_path, {**ports, "PEBBLE_TLS_PORT": wrong})
