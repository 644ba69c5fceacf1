# TEMPORARY ALIAS (issue 13 merge): remove once importers use demo.documents.
from demo.documents import *  # noqa: F401,F403
from demo.management.commands.demo_trustspace import Command  # noqa: F401  (this module shadows the demo's command)
