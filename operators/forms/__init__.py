"""The operators' forms: ``space`` (the operator space and the back office), ``lifecycle`` (the DRIMbox
journey), ``onboarding`` (the application) and ``tokens`` (personal API tokens)."""
from operators.forms.tokens import ApiTokenForm

__all__ = ["ApiTokenForm"]
