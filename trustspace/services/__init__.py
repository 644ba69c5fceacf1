"""trustspace's write path: personal API tokens and people as the identity provider describes them.

Callers write ``from trustspace import services`` then ``services.create_api_token(...)``; inside the package,
modules import their siblings directly.
"""
from .identity import (
    ans_rights_recently_confirmed,
    apply_identity_rights,
    create_user_from_identity,
    update_user_from_identity,
)
from .tokens import create_api_token, hash_api_key, record_api_token_use, revoke_api_token

__all__ = [
    "ans_rights_recently_confirmed", "apply_identity_rights", "create_api_token", "create_user_from_identity",
    "hash_api_key", "record_api_token_use", "revoke_api_token", "update_user_from_identity",
]
