"""The operators API views: ``operators`` (operators, people, contract, applications) and ``lifecycle``
(requests and their review, DRIMboxes, registry, financing orders, attestations, VA documents)."""
from operators.api.views.base import PortalAPIView, get_operator, validated

__all__ = ["PortalAPIView", "get_operator", "validated"]
