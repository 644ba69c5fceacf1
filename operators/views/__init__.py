"""The operators pages: ``space`` (« Mon Espace de Confiance DRIM-M »), ``lifecycle`` (DRIMboxes, requests,
orders, attestations, VA documents), ``onboarding``, ``channels`` and ``ans`` (the back office)."""
