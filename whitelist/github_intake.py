# TEMPORARY ALIAS (issue 13 merge): remove once importers use whitelist.github_issues and whitelist.services.intake.
from whitelist.github_issues import *  # noqa: F401,F403
from whitelist.services.intake import *  # noqa: F401,F403
