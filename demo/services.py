"""The demo's own writes: its people log in with a password (development only), which no portal service does."""
import functools

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import get_hasher, make_password

from trustspace.models import User

from .accounts import PASSWORD


@functools.cache
def _password_hash(hasher: str) -> str:
    # One hash for every demo person (per hasher in use): the password is the same and published, and each hash
    # costs the hasher's full work factor (a third of a second), ten times over otherwise.
    return make_password(PASSWORD, hasher=hasher)


def create_demo_person(username: str, first_name: str, last_name: str, **flags: bool) -> User:
    """A demo user with the shared demo password; ``flags`` are the ANS rights (``is_ans_admin``…)."""
    password = _password_hash(get_hasher("default").algorithm)
    user = get_user_model()(username=username, first_name=first_name, last_name=last_name,
                            email=f"{username}@demo.example.fr", password=password, **flags)
    user.save()
    return user
