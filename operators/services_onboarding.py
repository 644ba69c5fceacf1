# TEMPORARY ALIAS (issue 13 merge): remove once importers use operators.services.
# The old module name is bound to the package itself, so that tests patching an attribute of the old
# module (monkeypatch.setattr) patch what the views and the API call.
import sys

from operators import services

sys.modules[__name__] = services
