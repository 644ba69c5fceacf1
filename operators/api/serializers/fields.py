"""Fields and helpers the operators' serializers share with the other apps' APIs (certificates)."""
from typing import ClassVar

from django.db import models
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers


def choice_values(choices: type[models.Choices]) -> str:
    """The values of a choices class as a help text lists them: `a`, `b`."""
    return ", ".join(f"`{value}`" for value in choices.values)


@extend_schema_field({"type": "object", "additionalProperties": {"type": "string"}})
class StringMapField(serializers.Field):
    """A JSON object whose values are strings (numbers are accepted and turned into strings)."""

    default_error_messages: ClassVar[dict[str, str]] = {
        "not_a_dict": "Un objet JSON est attendu (champ → valeur).",
        "not_a_string": "« {key} » : une chaîne de caractères est attendue.",
    }

    def __init__(self, **kwargs):
        kwargs.setdefault("help_text", "Objet {champ: valeur} ; les valeurs sont des chaînes de caractères.")
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        if not isinstance(data, dict):
            self.fail("not_a_dict")
        errors = []
        cleaned = {}
        for key, value in data.items():
            if value is None:
                cleaned[str(key)] = ""
            elif isinstance(value, bool) or not isinstance(value, (str, int, float)):
                errors.append(self.error_messages["not_a_string"].format(key=key))
            else:
                cleaned[str(key)] = str(value)
        if errors:
            raise serializers.ValidationError(errors)
        return cleaned

    def to_representation(self, value):
        return value


class BoundedCharField(serializers.CharField):
    """A CharField whose ``max_length`` holds for the text as sent (DRF checks it after trimming the spaces, so
    2,001 spaces passed a 2,000 limit the schema states)."""

    def run_validation(self, data=serializers.empty):
        if isinstance(data, str) and self.max_length is not None and len(data) > self.max_length:
            self.fail("max_length", max_length=self.max_length, length=len(data))
        return super().run_validation(data)


class StringListField(serializers.ListField):
    """A list of strings whose item errors read as sentences (not a nested structure)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("child", serializers.CharField(allow_blank=True))
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        try:
            return super().to_internal_value(data)
        except serializers.ValidationError as exc:
            if not isinstance(exc.detail, dict):
                raise
            raise serializers.ValidationError([
                f"Élément n° {int(index) + 1} : {' '.join(str(message) for message in messages)}"
                for index, messages in exc.detail.items()]) from None
