# TEMPORARY ALIAS (issue 13 merge): remove once importers use whitelist.models.
from whitelist.models.github import *  # noqa: F401,F403
