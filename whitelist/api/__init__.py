"""REST API of the whitelist app, for ANS administrators (every write through ``whitelist.services``)."""
