"""REST API of the certificates app (every write through ``certificates.services``)."""
