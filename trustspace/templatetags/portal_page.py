"""The page frame of templates/base.html: the page's title, said once, names the breadcrumb's last step."""
from django import template
from django.utils.safestring import mark_safe

from trustspace.breadcrumbs import trail

register = template.Library()

_TITLE = "portal_page_title"


class _PageTitleNode(template.Node):
    child_nodelists = ("nodelist",)  # the ``page_title`` block inside stays a block the pages fill

    def __init__(self, nodelist):
        self.nodelist = nodelist

    def render(self, context):
        # Already escaped by its own rendering; its spacing is the template's, not the title's.
        title = mark_safe(" ".join(self.nodelist.render(context).split()))  # noqa: S308
        context.render_context[_TITLE] = title
        return title


@register.tag
def page_title(parser, token):
    """``{% page_title %}…{% endpage_title %}``: writes the page's title and keeps it for ``breadcrumb_trail``."""
    nodelist = parser.parse(("endpage_title",))
    parser.delete_first_token()
    return _PageTitleNode(nodelist)


@register.simple_tag(takes_context=True)
def breadcrumb_trail(context):
    """The ``dsfr_breadcrumb`` data of the page being rendered (``trustspace.breadcrumbs``), None on the home."""
    request = context.get("request")
    if request is None:
        return None
    template_name = context.template.name if context.template is not None else ""
    return trail(request, template_name, context, context.render_context.get(_TITLE, ""))


@register.inclusion_tag("dsfr/breadcrumb.html")
def portal_breadcrumb(trail):
    """django-dsfr's breadcrumb component with the trail's fixed id: its ``dsfr_breadcrumb`` tag draws a random id
    on each rendering, so that two renderings of a page would differ (no ETag on the public pages)."""
    return {"self": trail}


@register.filter
def with_page_links(page):
    """``page`` with the page numbers django-dsfr's pagination lists (``pages_list``, which it leaves to the
    caller): the first two, the current one and its neighbours, the last two, « … » for the ones left out."""
    last = page.paginator.num_pages
    shown = sorted({1, 2, page.number - 1, page.number, page.number + 1, last - 1, last} & set(range(1, last + 1)))
    numbers: list[int | str] = []
    for number, previous in zip(shown, [None, *shown], strict=False):
        if previous is not None and number - previous == 2:
            numbers.append(previous + 1)  # one page left out: show it rather than « … »
        elif previous is not None and number - previous > 2:
            numbers.append("…")
        numbers.append(number)
    page.pages_list = numbers
    return page
