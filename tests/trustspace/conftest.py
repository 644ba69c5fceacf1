import pytest


@pytest.fixture
def broker_retry_sleeps(monkeypatch):
    """The pauses kombu's connection retry loop would take (recorded, not slept): a portal that fails fast when
    the broker is down takes none."""
    import kombu.utils.functional

    sleeps = []
    monkeypatch.setattr(kombu.utils.functional, "sleep", sleeps.append)
    return sleeps
