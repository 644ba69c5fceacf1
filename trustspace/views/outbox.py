"""« ANS — Envois »: the outbox (trustspace.outbox) seen by ANS: counts, pending and failed messages, « Relancer »; and
the sent ones (« envoyé », latest first, kept OUTBOX_KEEP_SENT_DAYS), so that ANS can confirm that a message went
out. Filtered by state and by words of the label (the e-mail's subject); paginated, a constant number of queries."""
from urllib.parse import urlencode

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Count
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from ..access import ANS_ADMIN, access
from ..idempotency import AlreadySubmitted, submitted_once, token_of
from ..models import OutboxMessage, OutboxStatus
from ..outbox import retry_message

PAGE_SIZE = 50
TO_FOLLOW = [OutboxStatus.FAILED, OutboxStatus.PENDING]  # shown by default: what may need an action
FILTERS = [OutboxStatus.FAILED, OutboxStatus.PENDING, OutboxStatus.SENT]


@access(ANS_ADMIN)
def ans_outbox(request):
    status = request.GET.get("statut", "")
    status = status if status in FILTERS else ""
    search = request.GET.get("q", "").strip()[:100]
    counts = dict(OutboxMessage.objects.order_by().values_list("status").annotate(n=Count("id")))
    rows = OutboxMessage.objects.defer("payload")
    if status == OutboxStatus.SENT:
        rows = rows.filter(status=status).order_by("-sent_at", "-id")  # the latest first
    else:
        # « failed » first, then the soonest to be tried
        rows = rows.filter(status__in=[status] if status else TO_FOLLOW).order_by("status", "next_attempt_at", "id")
    if search:
        rows = rows.filter(label__icontains=search)
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "trustspace/ans_outbox.html", {
        "page": page, "status": status, "search": search, "sent": status == OutboxStatus.SENT,
        "query": urlencode({key: value for key, value in (("statut", status), ("q", search)) if value}),
        "counts": [(value, label, counts.get(value, 0)) for value, label in OutboxStatus.choices],
        "statuses": [(value.value, value.label) for value in FILTERS],
    })


@access(ANS_ADMIN)
@require_POST
def ans_outbox_retry(request, pk):
    message = get_object_or_404(OutboxMessage, pk=pk)
    page = reverse("ans_outbox")
    try:
        with submitted_once(request, token_of(request)) as submission:
            retried = retry_message(message, acting_user=request.user)
            submission.created(page, f"l'envoi « {message.label} » est déjà relancé")
    except AlreadySubmitted as repeat:
        return repeat.response(request, page)
    if retried:
        messages.success(request, f"L'envoi « {message.label} » est relancé.")
    else:
        messages.error(request, f"L'envoi « {message.label} » n'est pas en échec : il n'y a rien à relancer.")
    return redirect("ans_outbox")
