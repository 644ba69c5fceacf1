"""The DSFR components of the operator's journey and of a request's instruction: each filter gives the data of a
django-dsfr tag (``dsfr_stepper``, ``dsfr_callout``), or None where the component does not apply."""
from django import template

from operators.models import RequestStatus

register = template.Library()


@register.filter
def journey_stepper(steps):
    """The journey's stepper (``operators.journey`` steps, in order): its first step not done is the current one;
    None once every step is done (the home says the journey is up to date)."""
    steps = list(steps)
    current = next((index for index, step in enumerate(steps) if not step.done), None)
    if current is None:
        return None
    following = steps[current + 1].title if current + 1 < len(steps) else ""
    return {"current_step_id": current + 1, "total_steps": len(steps), "current_step_title": steps[current].title,
            "next_step_title": following, "heading_tag": "h3"}


REQUEST_STEP_COUNT = 4  # preparation, submission, instruction, decision
@register.filter
def next_step_callout(step):
    """The home's callout (``dsfr_callout``) for the journey's next step: what it is, what to do, a button to it."""
    callout = {"title": f"Prochaine étape : {step.title}", "text": step.detail, "heading_tag": "h2",
               "extra_classes": "fr-mb-4w"}
    if step.url:
        callout["button"] = {"url": step.url, "label": step.action}
    return callout


# Status → (step, what the step is called in that status, the step after it); a cancelled request has no stepper.
REQUEST_STEPS = {
    RequestStatus.DRAFT: (1, "Préparation de la demande", "Soumission à l'ANS"),
    RequestStatus.CHANGES_REQUESTED: (1, "Demande à compléter (modifications demandées par l'ANS)",
                                      "Nouvelle soumission à l'ANS"),
    RequestStatus.SUBMITTED: (2, "Soumise à l'ANS", "Instruction par l'ANS"),
    RequestStatus.IN_REVIEW: (3, "Instruction par l'ANS", "Décision de l'ANS"),
    RequestStatus.APPROVED: (4, "Approuvée par l'ANS", ""),
    RequestStatus.REJECTED: (4, "Refusée par l'ANS", ""),
}


@register.filter
def request_stepper(req):
    """Where a request is between its preparation and the ANS decision (4 steps)."""
    if req.status not in REQUEST_STEPS:
        return None
    step, title, following = REQUEST_STEPS[req.status]
    return {"current_step_id": step, "total_steps": REQUEST_STEP_COUNT, "current_step_title": title,
            "next_step_title": following}
