"""Reading the portal's DSFR forms as a person (and a screen reader) meets them: what each field's label says
(required or « (Optionnel) »), where each error is shown, and what the error summary counts and links to."""
import re

from lxml import html as lxml_html

OPTIONAL = "(Optionnel)"
GROUP_CLASSES = ("fr-input-group", "fr-select-group", "fr-checkbox-group", "fr-fieldset", "fr-upload-group",
                 "fr-radio-group")


def parse(response_or_html):
    content = response_or_html if isinstance(response_or_html, str) else response_or_html.content.decode()
    return lxml_html.fromstring(content)


def text_of(element):
    return " ".join(element.text_content().split())


def by_id(doc, element_id):
    found = doc.xpath("//*[@id=$id]", id=element_id)
    assert len(found) == 1, f"{len(found)} elements with id {element_id!r}"
    return found[0]


def input_id(bound_field):
    """The id of the field's input (its first choice for radios and boxes)."""
    return bound_field.id_for_label or f"{bound_field.auto_id}_0"


def label_text(doc, bound_field):
    """The text a person reads for the field: its <label for=…>, or the <legend> of its group of choices."""
    if bound_field.id_for_label:
        labels = doc.xpath("//label[@for=$id]", id=bound_field.id_for_label)
        assert len(labels) == 1, f"{len(labels)} labels for {bound_field.id_for_label}"
        return text_of(labels[0])
    return text_of(by_id(doc, f"{bound_field.auto_id}-legend"))


def marked_required(doc, bound_field):
    """Shown as required: its label has no « (Optionnel) » (DSFR marks the optional fields), and its input says
    ``required`` to assistive technologies."""
    optional_label = OPTIONAL in label_text(doc, bound_field)
    required_attribute = by_id(doc, input_id(bound_field)).get("required") is not None
    assert optional_label != required_attribute, (
        f"{bound_field.name}: label {'optional' if optional_label else 'required'} but the input "
        f"{'has' if required_attribute else 'lacks'} the required attribute")
    return not optional_label


def group_of(element):
    """The DSFR group around an input: its label, hint, input and messages."""
    for ancestor in element.iterancestors():
        classes = (ancestor.get("class") or "").split()
        if any(name in classes for name in GROUP_CLASSES) and ancestor.tag in {"div", "fieldset"}:
            if "fr-radio-group" in classes:  # one choice of a group: the fieldset holds the group's messages
                continue
            return ancestor
    raise AssertionError(f"no DSFR group around #{element.get('id')}")


def assert_error_next_to_field(doc, bound_field):
    """Each of the field's errors is written inside the field's group, in the element its input (or its group of
    choices) is described by, and the group is styled as in error."""
    field_input = by_id(doc, input_id(bound_field))
    group = group_of(field_input)
    error_id = f"{bound_field.auto_id}-desc-error"
    error_element = by_id(doc, error_id)
    assert group in list(error_element.iterancestors()), f"{bound_field.name}: its error is outside its group"
    shown = text_of(error_element)
    for message in bound_field.errors:
        assert " ".join(str(message).split()) in shown, f"{bound_field.name}: « {message} » not shown next to it"
    described = (field_input.get("aria-describedby") or "").split() + (group.get("aria-labelledby") or "").split()
    assert error_id in described, f"{bound_field.name}: its input is not described by its error"
    assert any(cls.endswith("--error") for cls in (group.get("class") or "").split()), (
        f"{bound_field.name}: its group is not styled as in error")


def summary_of(doc):
    """(title, [(text, href)]) of the page's error summary."""
    summaries = doc.xpath("//*[@data-error-summary]")
    assert len(summaries) == 1, f"{len(summaries)} error summaries"
    summary = summaries[0]
    title = text_of(summary.xpath(".//*[contains(@class, 'fr-alert__title')]")[0])
    items = [(text_of(item), (item.xpath(".//a/@href") or [""])[0]) for item in summary.xpath(".//ul/li")]
    return title, items


def assert_form_errors_shown(response, form, *, summary=True):
    """Every error of ``form`` (bound, as the page rendered it) next to its field; the summary counts every error
    message and links each field's to its input."""
    doc = parse(response)
    messages = 0
    for name, errors in form.errors.items():
        messages += len(errors)
        if name == "__all__" or form[name].is_hidden:
            continue
        assert_error_next_to_field(doc, form[name])
    if summary:
        title, items = summary_of(doc)
        count = int(re.search(r"(\d+) erreurs?", title).group(1))
        assert count == len(items) == messages, (title, items)
        for _text, href in items:
            if href:
                assert href.startswith("#") and by_id(doc, href[1:]) is not None
    return doc
