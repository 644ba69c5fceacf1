"""The demo's own writes: its people log in with a password (development only), which no portal service does."""
from django.contrib.auth import get_user_model

from trustspace.models import User

PASSWORD = "drimm-demo"  # noqa: S105 - the demo's published password; password login exists only with DEBUG=1


def create_demo_person(username: str, first_name: str, last_name: str, **flags: bool) -> User:
    """A demo user with the shared demo password; ``flags`` are the ANS rights (``is_ans_admin``…)."""
    user = get_user_model()(username=username, first_name=first_name, last_name=last_name,
                            email=f"{username}@demo.example.fr", **flags)
    user.set_password(PASSWORD)
    user.save()
    return user
