"""The portal's security headers as every answer must carry them: Content-Security-Policy with a fresh nonce, the
only one an HTML page uses, nothing inline the policy would block, and Permissions-Policy (checked on every page of
the authorization matrix, tests/test_authorization_matrix.py, and by tests/trustspace/test_security_headers.py)."""
import re

NONCE_IN_HEADER = re.compile(r"script-src 'self' 'nonce-([A-Za-z0-9+/=]+)'")
NONCE_ATTRIBUTE = re.compile(r"""\snonce=["']?([^"'\s>]*)""")
TAG = re.compile(r"<(script|style)\b([^>]*)>", re.IGNORECASE)
INLINE_HANDLER = re.compile(r"<[^>]+\son[a-z]+\s*=", re.IGNORECASE)
STYLE_ATTRIBUTE = re.compile(r"<[^>]+\sstyle\s*=", re.IGNORECASE)
DENIED_FEATURES = ("camera=()", "microphone=()", "geolocation=()", "payment=()", "usb=()", "interest-cohort=()")


def directives(header):
    return {part.split()[0]: part.split()[1:] for part in header.split(";") if part.strip()}


def check_headers(response, label):
    """Both headers on any answer; on an HTML page, the nonce of the header and nothing inline unsigned."""
    policy = response.get("Permissions-Policy", "")
    assert all(feature in policy for feature in DENIED_FEATURES), f"{label}: Permissions-Policy {policy!r}"
    header = response.get("Content-Security-Policy")
    assert header, f"{label}: no Content-Security-Policy ({response.status_code})"
    policy = directives(header)
    if policy["default-src"] == ["'none'"] and "sandbox" in policy:
        return None  # a view's own, stricter policy (the SVG badge, embedded by other sites)
    assert policy["default-src"] == ["'self'"] and policy["object-src"] == ["'none'"], label
    assert policy["frame-ancestors"] == ["'none'"] and policy["base-uri"] == ["'none'"], label
    assert "'unsafe-inline'" not in policy["script-src"] and "'unsafe-eval'" not in policy["script-src"], label
    if "text/html" not in response.get("Content-Type", "") or not response.content:
        return None
    body = response.content.decode()
    nonces = set(NONCE_ATTRIBUTE.findall(body))
    match = NONCE_IN_HEADER.search(header)
    if nonces:
        assert match, f"{label}: nonce attributes but none in the policy"
        assert nonces == {match.group(1)}, f"{label}: page nonces {nonces} ≠ header {match.group(1)}"
    for tag, attributes in TAG.findall(body):
        signed = NONCE_ATTRIBUTE.search(attributes) is not None
        external = tag.lower() == "script" and re.search(r"\ssrc=", attributes)
        assert signed or external, f"{label}: <{tag}{attributes}> without the nonce"
    assert not INLINE_HANDLER.search(body), f"{label}: inline event handler {INLINE_HANDLER.search(body).group(0)}"
    assert not STYLE_ATTRIBUTE.search(body), f"{label}: style attribute {STYLE_ATTRIBUTE.search(body).group(0)}"
    assert "javascript:" not in body.lower(), f"{label}: javascript: URL"
    return match.group(1) if match else None
