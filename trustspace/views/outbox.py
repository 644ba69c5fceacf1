"""« ANS — Envois »: the outbox (trustspace.outbox) seen by ANS: counts, pending and failed messages, « Relancer »."""
from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Count
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from ..access import ANS_ADMIN, access
from ..models import OutboxMessage, OutboxStatus
from ..outbox import retry_message

PAGE_SIZE = 50
SHOWN_STATUSES = [OutboxStatus.FAILED, OutboxStatus.PENDING]  # sent ones need no action


@access(ANS_ADMIN)
def ans_outbox(request):
    status = request.GET.get("statut", "")
    shown = [status] if status in SHOWN_STATUSES else SHOWN_STATUSES
    counts = dict(OutboxMessage.objects.order_by().values_list("status").annotate(n=Count("id")))
    rows = (OutboxMessage.objects.filter(status__in=shown).defer("payload")
            .order_by("status", "next_attempt_at", "id"))  # « failed » first, then the soonest to be tried
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "trustspace/ans_outbox.html", {
        "page": page, "status": status if status in SHOWN_STATUSES else "",
        "counts": [(value, label, counts.get(value, 0)) for value, label in OutboxStatus.choices],
        "statuses": [(value.value, value.label) for value in SHOWN_STATUSES],
    })


@access(ANS_ADMIN)
@require_POST
def ans_outbox_retry(request, pk):
    message = get_object_or_404(OutboxMessage, pk=pk)
    if retry_message(message, acting_user=request.user):
        messages.success(request, f"L'envoi « {message.label} » est relancé.")
    else:
        messages.error(request, f"L'envoi « {message.label} » n'est pas en échec : il n'y a rien à relancer.")
    return redirect("ans_outbox")
