"""Form fields with a French format: they say what they expect (input mode, autocomplete) and give back the value
in the normal form the services store (``operators.validators``), so a form reports a bad one with the others."""
from django import forms

from operators.validators import clean_phone, clean_postal_code


class PostalCodeField(forms.CharField):
    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 10)  # « 75 001 » is typed too
        kwargs.setdefault("help_text", "5 chiffres, par exemple 75001.")
        super().__init__(**kwargs)
        self.widget.attrs.update({"inputmode": "numeric", "autocomplete": "postal-code"})

    def clean(self, value):
        return clean_postal_code(super().clean(value))


class PhoneField(forms.CharField):
    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 30)
        kwargs.setdefault("help_text", "10 chiffres, par exemple 01 23 45 67 89 ; à l'étranger : +32 2 123 45 67.")
        kwargs.setdefault("widget", forms.TextInput(attrs={"type": "tel", "autocomplete": "tel"}))
        super().__init__(**kwargs)

    def clean(self, value):
        return clean_phone(super().clean(value))
