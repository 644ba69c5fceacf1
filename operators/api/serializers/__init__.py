"""The operators API serializers: ``operators`` (operators, people, contract, applications), ``lifecycle``
(requests, DRIMboxes, attestations, VA documents) and the shared ``fields``."""
from operators.api.serializers.fields import StringListField, StringMapField, choice_values
from operators.api.serializers.lifecycle import DrimboxReferenceSerializer

__all__ = ["DrimboxReferenceSerializer", "StringListField", "StringMapField", "choice_values"]
