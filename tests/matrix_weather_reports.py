"""Authorization matrix entries merged into ``tests/test_authorization_matrix.MATRIX`` (same format)."""

WEATHER_REPORTS_MATRIX = {}
