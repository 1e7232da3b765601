import base64

from pasarela.core.redact import MASK, Redactor


def test_known_secrets_and_their_base64_are_masked():
    redactor = Redactor(["s3cr3t-key-123"])
    basic = base64.b64encode(b"s3cr3t-key-123").decode()
    text = f"key=s3cr3t-key-123 auth {basic} <wsse:Password Type='x'>other</wsse:Password> api_key=zzz&x=1"
    out = redactor.text(text)
    assert "s3cr3t-key-123" not in out and basic not in out and "other" not in out and "zzz" not in out
    assert out.count(MASK) >= 4


def test_headers_masked():
    out = Redactor().headers({"Authorization": "Basic abc", "Content-Type": "text/xml"})
    assert out == {"Authorization": MASK, "Content-Type": "text/xml"}
