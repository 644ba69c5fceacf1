# TEMPORARY ALIAS (issue 13 merge): remove once importers use weather.services.
from weather.services.acknowledgements import *  # noqa: F401,F403
from weather.services.maintenance import *  # noqa: F401,F403
