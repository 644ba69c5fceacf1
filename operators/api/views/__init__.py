"""The operators API views: ``operators`` (operators, people, contract, applications) and ``lifecycle``
(requests and their review, DRIMboxes, registry, financing orders, attestations, VA documents)."""
from operators.api.views.base import DrimboxPathMixin, PortalAPIView, get_drimbox, get_operator, validated

__all__ = ["DrimboxPathMixin", "PortalAPIView", "get_drimbox", "get_operator", "validated"]
