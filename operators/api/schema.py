"""The typed ``data`` of each request kind in the OpenAPI schema, generated from ``operators.request_data``.

``FIELDS`` (the fields of each kind), ``LABELS`` (their French names), ``MAX_LENGTH`` and ``REQUIRED`` (what
submission needs) are the very tables ``clean_data`` checks with, so the schema cannot drift from the rules:

- one component per kind, ``RequestData<Kind>``: its fields only (``additionalProperties: false``), each a
  string of at most its length (``null`` is read as empty); drafts may be incomplete, so no field is required
  by the schema, and the description names the fields submission needs;
- creating a request (``POST /operators/{id}/requests/``) is a ``oneOf`` discriminated by ``kind``: each
  variant names the DRIMbox only when the kind needs one, and carries that kind's ``data``;
- editing a request (``PATCH /requests/{id}/``) sends the ``data`` of its kind: ``anyOf`` those components.

Rules JSON Schema cannot say (SIREN and FINESS keys, address lists, the order belonging to the operator, a
required field left empty at submission) stay in ``clean_data`` and answer 400 naming the field.
"""
from drf_spectacular.extensions import OpenApiSerializerExtension, OpenApiSerializerFieldExtension
from drf_spectacular.plumbing import ResolvedComponent

from operators import request_data
from operators.models import ONBOARDING_KINDS, RequestKind

# Written by an operator through this API (applications are filed with POST /operators/, then edited).
CREATED_KINDS = [kind for kind in RequestKind if kind not in ONBOARDING_KINDS]
DEFAULT_MAX_LENGTH = 500  # clean_data's bound for a field MAX_LENGTH does not name
# « oui » / « non » (or true/false, 1/0), any case, spaces around ignored; empty: « oui ».
VIEWER_PATTERN = r"^\s*([Oo][Uu][Ii]|[Nn][Oo][Nn]|[Tt][Rr][Uu][Ee]|[Ff][Aa][Ll][Ss][Ee]|[01])?\s*$"


def _camel(kind):
    return "".join(part.capitalize() for part in str(kind.value).split("_"))


def _field_schema(field):
    schema = {"type": "string", "nullable": True, "maxLength": request_data.MAX_LENGTH.get(field, DEFAULT_MAX_LENGTH),
              "description": request_data.LABELS[field][:1].upper() + request_data.LABELS[field][1:] + "."}
    if field == request_data.VIEWER_FIELD:
        schema["pattern"] = VIEWER_PATTERN
        schema["description"] += " « oui » ou « non » (« oui » si absent)."
    if field in request_data.MULTILINE_FIELDS:
        schema["description"] += " Plusieurs lignes permises."
    return schema


def data_schema(kind):
    """The JSON Schema of the ``data`` of ``kind``."""
    required = request_data.REQUIRED[kind]
    description = f"Données d'une demande « {kind.label} »."
    if required:
        description += (" Obligatoires pour la soumettre (un brouillon peut les laisser vides) : "
                        + ", ".join(f"`{field}`" for field in required) + ".")
    return {"type": "object", "description": description, "additionalProperties": False,
            "properties": {field: _field_schema(field) for field in request_data.FIELDS[kind]}}


def _register(auto_schema, name, schema):
    component = ResolvedComponent(name=name, type=ResolvedComponent.SCHEMA, object=f"operators.api.schema.{name}",
                                  schema=schema)
    auto_schema.registry.register_on_missing(component)
    return component.ref


def data_ref(auto_schema, kind):
    return _register(auto_schema, f"RequestData{_camel(kind)}", data_schema(kind))


class RequestDataFieldExtension(OpenApiSerializerFieldExtension):
    """The ``data`` of an edit: that of the request's kind."""

    target_class = "operators.api.serializers.lifecycle.RequestDataField"

    def map_serializer_field(self, auto_schema, direction):
        return {"anyOf": [data_ref(auto_schema, kind) for kind in RequestKind],
                "description": "Champs à modifier, ceux du type de la demande ; les autres gardent leur valeur."}


class RequestCreateExtension(OpenApiSerializerExtension):
    """A new request: one variant per kind, chosen by ``kind``."""

    target_class = "operators.api.serializers.lifecycle.RequestCreateSerializer"

    def map_serializer(self, auto_schema, direction):
        variants = {}
        for kind in CREATED_KINDS:
            properties = {"kind": {"type": "string", "enum": [kind.value], "description": kind.label}}
            required = ["kind"]
            if kind != RequestKind.DECLARATION:  # a declaration creates its DRIMbox
                properties["drimbox"] = {
                    "type": "integer", "minimum": 1, "maximum": 2**31 - 1,
                    "description": ("Identifiant de la DRIMbox d'un autre opérateur à reprendre."
                                    if kind == RequestKind.SWITCH else
                                    "Identifiant de la DRIMbox de votre opérateur concernée.")}
                required.append("drimbox")
            properties["data"] = data_ref(auto_schema, kind)
            variants[kind.value] = _register(auto_schema, f"RequestCreate{_camel(kind)}", {
                "type": "object", "properties": properties, "required": required, "additionalProperties": False,
                "description": f"Créer une demande « {kind.label} » (brouillon)."})
        return {"oneOf": list(variants.values()),
                "discriminator": {"propertyName": "kind",
                                  "mapping": {kind: ref["$ref"] for kind, ref in variants.items()}}}
