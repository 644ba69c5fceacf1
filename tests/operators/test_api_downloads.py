"""Files through the API with a token: the same permissions as the pages' downloads, nothing more."""
import pytest
from rest_framework.test import APIClient

from operators import services
from operators.models import Attestation, VaDocument
from tests.conftest import pdf_upload
from tests.support.lifecycle import active_drimbox
from trustspace.services import create_api_token

pytestmark = pytest.mark.django_db
API = "/api/v1"


def token_client(user, **kwargs):
    _token, raw = create_api_token(acting_user=user, name="script", **kwargs)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {raw}")
    return client


def test_a_script_downloads_the_attestation_and_the_va_with_a_read_token(world):
    drimbox = active_drimbox(world.operator, world.legal, world.ans)
    attestation = Attestation.objects.get(drimbox=drimbox)
    va = services.upload_va(VaDocument.objects.get(drimbox=drimbox), acting_user=world.technical,
                            uploaded_file=pdf_upload("va.pdf"))
    reader = token_client(world.technical, scopes=["read"])
    response = reader.get(f"{API}/attestations/{attestation.code.lower().replace('-', '')}/document/")
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    with attestation.pdf.open("rb") as stored:
        assert b"".join(response.streaming_content) == stored.read()
    response = reader.get(f"{API}/va/{va.pk}/document/file/")
    assert response.status_code == 200 and b"".join(response.streaming_content).startswith(b"%PDF-")
    assert reader.get(f"{API}/va/{va.pk}/lifting/document/file/").status_code == 404  # none deposited
    # Another operator's people get nothing, as on the pages; a token without the read scope neither.
    assert token_client(world.other, scopes=["read"]).get(f"{API}/va/{va.pk}/document/file/").status_code == 404
    assert token_client(world.technical, scopes=["certificates"]).get(
        f"{API}/va/{va.pk}/document/file/").status_code == 403


def test_perf_reports_by_token_and_a_bad_period_is_a_structured_400(world):
    active_drimbox(world.operator, world.legal, world.ans)
    reader = token_client(world.legal, scopes=["read"])
    response = reader.get(f"{API}/operators/{world.operator.pk}/perf/report.csv")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"] and response.content
    error = reader.get(f"{API}/operators/{world.operator.pk}/perf/report.csv", {"period": "2026-13"}).json()["error"]
    assert error["code"] == "invalid" and "period" in error["fields"]
    assert reader.get(f"{API}/perf/report.csv").status_code == 403  # ANS only
    assert token_client(world.other, scopes=["read"]).get(
        f"{API}/operators/{world.operator.pk}/perf/report.pdf").status_code == 404
