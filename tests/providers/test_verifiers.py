from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import stripe
from standardwebhooks.webhooks import Webhook as StandardWebhook

from interlink.providers import verifiers
from interlink.providers.verifiers import HmacConfig, SignatureInvalid
from tests.fixtures.signers import LexofficeSigner, PayPalSigner, t_v1_header

VECTORS = Path(__file__).resolve().parents[3] / "shared" / "vectors"
NOW = datetime(2026, 11, 22, 3, 0, tzinfo=UTC)
TS = int(NOW.timestamp())
STRIPE_SECRET = "whsec_test_secret_for_inbound"
BODY = b'{"id":"evt_1","type":"payment_intent.succeeded","data":{"object":{"id":"pi_1"}}}'


def stripe_header(body: bytes = BODY, secret: str = STRIPE_SECRET, ts: int = TS) -> str:
    return str(stripe.WebhookSignature.generate_signature_header(body.decode(), secret, ts))


def reason(excinfo: pytest.ExceptionInfo[SignatureInvalid]) -> tuple[str, str]:
    return excinfo.value.code, excinfo.value.reason


def test_stripe_signature_made_by_the_stripe_library_verifies() -> None:
    headers = {"Stripe-Signature": stripe_header()}
    verifiers.verify_stripe(headers, BODY, STRIPE_SECRET, now=NOW)
    # Stripe's own verifier agrees on the same bytes
    stripe.WebhookSignature.verify_header(BODY.decode(), headers["Stripe-Signature"], STRIPE_SECRET)


def test_stripe_accepts_any_of_several_v1_signatures_during_rotation() -> None:
    old = stripe_header(secret="whsec_old").split(",")[1]
    headers = {"stripe-signature": f"{stripe_header()},{old}".replace("v1=", "v1=", 1)}
    verifiers.verify_stripe(headers, BODY, "whsec_old", now=NOW)
    verifiers.verify_stripe(headers, BODY, STRIPE_SECRET, now=NOW)


@pytest.mark.parametrize(
    ("headers", "body", "secret", "code", "says"),
    [
        (
            {"Stripe-Signature": stripe_header()},
            BODY + b" ",
            STRIPE_SECRET,
            "signature_mismatch",
            "no v1 signature",
        ),
        (
            {"Stripe-Signature": stripe_header(ts=TS - 301)},
            BODY,
            STRIPE_SECRET,
            "timestamp_out_of_tolerance",
            "more than 300 s old",
        ),
        (
            {"Stripe-Signature": stripe_header()},
            BODY,
            "whsec_wrong",
            "signature_mismatch",
            "no v1 signature",
        ),
        ({}, BODY, STRIPE_SECRET, "missing_header", "missing Stripe-Signature header"),
        (
            {"Stripe-Signature": "v1=abc"},
            BODY,
            STRIPE_SECRET,
            "malformed_header",
            "no t= timestamp",
        ),
        (
            {"Stripe-Signature": "t=abc,v1=abc"},
            BODY,
            STRIPE_SECRET,
            "malformed_header",
            "t is not integer",
        ),
        (
            {"Stripe-Signature": f"t={TS}"},
            BODY,
            STRIPE_SECRET,
            "malformed_header",
            "no v1= signature",
        ),
        ({"Stripe-Signature": "garbage"}, BODY, STRIPE_SECRET, "malformed_header", "has no '='"),
        (
            {"Stripe-Signature": stripe_header()},
            BODY,
            None,
            "not_configured",
            "no Stripe webhook_secret",
        ),
    ],
    ids=[
        "tampered",
        "old",
        "wrong-secret",
        "missing",
        "no-t",
        "bad-t",
        "no-v1",
        "garbage",
        "no-secret",
    ],
)
def test_stripe_refusals_name_their_reason(
    headers: dict[str, str], body: bytes, secret: str | None, code: str, says: str
) -> None:
    with pytest.raises(SignatureInvalid) as excinfo:
        verifiers.verify_stripe(headers, body, secret, now=NOW)
    got_code, got_reason = reason(excinfo)
    assert got_code == code
    assert says in got_reason
    if secret:
        assert secret not in got_reason


def test_whcc_signature_compares_hex_case_insensitively_with_tolerance() -> None:
    header = t_v1_header("consumer-secret", BODY, TS)
    upper = header.split("v1=")[0] + "v1=" + header.split("v1=")[1].upper()
    verifiers.verify_whcc({"WHCC-Signature": upper}, BODY, "consumer-secret", now=NOW)
    with pytest.raises(SignatureInvalid, match="more than 300 s old"):
        verifiers.verify_whcc(
            {"WHCC-Signature": t_v1_header("consumer-secret", BODY, TS - 400)},
            BODY,
            "consumer-secret",
            now=NOW,
        )
    with pytest.raises(SignatureInvalid, match="missing WHCC-Signature"):
        verifiers.verify_whcc({}, BODY, "consumer-secret", now=NOW)


def test_easypost_matches_the_official_fixture_vector() -> None:
    vector = json.loads((VECTORS / "easypost-webhook.json").read_text())
    body = (VECTORS / "easypost-event-body.bin").read_bytes()
    headers = {vector["header"]: vector["expected"]}
    verifiers.verify_easypost(headers, body, vector["secret"])
    with pytest.raises(SignatureInvalid) as excinfo:
        verifiers.verify_easypost(headers, body + b"\n", vector["secret"])
    assert reason(excinfo) == ("signature_mismatch", "X-Hmac-Signature does not match the body")
    with pytest.raises(SignatureInvalid) as excinfo:
        verifiers.verify_easypost(headers, body, "secret")
    assert excinfo.value.code == "signature_mismatch"
    with pytest.raises(SignatureInvalid) as excinfo:
        verifiers.verify_easypost({"X-Hmac-Signature": "sha256=abc"}, body, vector["secret"])
    assert excinfo.value.code == "malformed_header"
    with pytest.raises(SignatureInvalid) as excinfo:
        verifiers.verify_easypost({}, body, vector["secret"])
    assert reason(excinfo) == ("missing_header", "missing X-Hmac-Signature header")


def test_standard_webhooks_vectors_and_the_reference_library_verify() -> None:
    vectors = json.loads((VECTORS / "standard-webhooks.json").read_text())
    for case in vectors["valid"]:
        headers = {
            "webhook-id": case["msg_id"],
            "webhook-timestamp": str(case["timestamp"]),
            "webhook-signature": case["signature"],
        }
        at = datetime.fromtimestamp(case["timestamp"], UTC)
        verifiers.verify_standard(headers, case["payload"].encode(), case["secret"], now=at)
    secret = "whsec_" + base64.b64encode(b"s" * 32).decode()
    signed = StandardWebhook(secret).sign("msg_1", NOW, BODY.decode())
    headers = {"webhook-id": "msg_1", "webhook-timestamp": str(TS), "webhook-signature": signed}
    verifiers.verify_standard(headers, BODY, secret, now=NOW)
    with pytest.raises(SignatureInvalid) as excinfo:
        verifiers.verify_standard(headers, BODY, secret, now=NOW + timedelta(seconds=600))
    assert excinfo.value.code == "timestamp_out_of_tolerance"
    with pytest.raises(SignatureInvalid) as excinfo:
        verifiers.verify_standard(headers, BODY + b"x", secret, now=NOW)
    assert excinfo.value.code == "signature_mismatch"
    with pytest.raises(SignatureInvalid) as excinfo:
        verifiers.verify_standard({**headers, "webhook-timestamp": "soon"}, BODY, secret, now=NOW)
    assert excinfo.value.code == "malformed_header"
    with pytest.raises(SignatureInvalid) as excinfo:
        verifiers.verify_standard({"webhook-id": "msg_1"}, BODY, secret, now=NOW)
    assert excinfo.value.code == "missing_header"


def test_zid_basic_credentials_must_match() -> None:
    good = {"Authorization": "Basic " + base64.b64encode(b"zid:pa55").decode()}
    verifiers.verify_zid(good, "zid", "pa55")
    bad = {"Authorization": "Basic " + base64.b64encode(b"zid:guess").decode()}
    with pytest.raises(SignatureInvalid) as excinfo:
        verifiers.verify_zid(bad, "zid", "pa55")
    assert reason(excinfo) == ("signature_mismatch", "the Basic credentials do not match")
    with pytest.raises(SignatureInvalid) as excinfo:
        verifiers.verify_zid({"Authorization": "Bearer x"}, "zid", "pa55")
    assert excinfo.value.code == "malformed_header"
    with pytest.raises(SignatureInvalid) as excinfo:
        verifiers.verify_zid({"Authorization": "Basic %%%"}, "zid", "pa55")
    assert reason(excinfo) == ("malformed_header", "malformed Authorization header: not base64")
    with pytest.raises(SignatureInvalid) as excinfo:
        verifiers.verify_zid({}, "zid", "pa55")
    assert excinfo.value.code == "missing_header"


def test_lexoffice_rsa_sha512_signature_checked_with_the_configured_public_key() -> None:
    signer = LexofficeSigner.create()
    verifiers.verify_lexoffice(signer.header(BODY), BODY, signer.public_pem)
    with pytest.raises(SignatureInvalid) as excinfo:
        verifiers.verify_lexoffice(signer.header(BODY), BODY + b" ", signer.public_pem)
    assert reason(excinfo) == ("signature_mismatch", "X-Lxo-Signature does not match the body")
    other = LexofficeSigner.create()
    with pytest.raises(SignatureInvalid):
        verifiers.verify_lexoffice(other.header(BODY), BODY, signer.public_pem)
    with pytest.raises(SignatureInvalid) as excinfo:
        verifiers.verify_lexoffice({"X-Lxo-Signature": "not base64!"}, BODY, signer.public_pem)
    assert excinfo.value.code == "malformed_header"
    with pytest.raises(SignatureInvalid) as excinfo:
        verifiers.verify_lexoffice({}, BODY, signer.public_pem)
    assert excinfo.value.code == "missing_header"
    with pytest.raises(SignatureInvalid) as excinfo:
        verifiers.verify_lexoffice(signer.header(BODY), BODY, None)
    assert excinfo.value.code == "not_configured"


def test_paypal_offline_check_with_a_generated_certificate_chain() -> None:
    signer = PayPalSigner.create(valid_from=NOW - timedelta(days=1))
    headers = signer.headers(BODY, "WH-1", "https://api.paypal.com/cert.pem", sent=NOW)
    verifiers.verify_paypal(headers, BODY, "WH-1", signer.chain_pem, now=NOW)
    cases: list[tuple[dict[str, str], bytes, str, bytes, datetime, str]] = [
        (headers, BODY + b" ", "WH-1", signer.chain_pem, NOW, "signature_mismatch"),
        (headers, BODY, "WH-other", signer.chain_pem, NOW, "signature_mismatch"),
        (
            headers,
            BODY,
            "WH-1",
            signer.chain_pem,
            NOW + timedelta(minutes=6),
            "timestamp_out_of_tolerance",
        ),
        (
            {k: v for k, v in headers.items() if k != "PAYPAL-TRANSMISSION-SIG"},
            BODY,
            "WH-1",
            signer.chain_pem,
            NOW,
            "missing_header",
        ),
        (
            {**headers, "PAYPAL-TRANSMISSION-TIME": "yesterday"},
            BODY,
            "WH-1",
            signer.chain_pem,
            NOW,
            "malformed_header",
        ),
        (
            {**headers, "PAYPAL-AUTH-ALGO": "SHA1withRSA"},
            BODY,
            "WH-1",
            signer.chain_pem,
            NOW,
            "malformed_header",
        ),
        (
            headers,
            BODY,
            "WH-1",
            # another chain, valid at NOW (not at the wall clock's time): only the key differs
            PayPalSigner.create(valid_from=NOW - timedelta(days=1)).chain_pem,
            NOW,
            "signature_mismatch",
        ),
        (headers, BODY, "WH-1", b"not a certificate", NOW, "certificate_rejected"),
    ]
    for hdrs, body, hook, pem, at, code in cases:
        with pytest.raises(SignatureInvalid) as excinfo:
            verifiers.verify_paypal(hdrs, body, hook, pem, now=at)
        assert excinfo.value.code == code, (code, excinfo.value.reason)


def test_paypal_refuses_an_expired_certificate_and_a_broken_chain() -> None:
    signer = PayPalSigner.create(valid_from=NOW - timedelta(days=60), days=30)
    headers = signer.headers(BODY, "WH-1", "https://api.paypal.com/c.pem", sent=NOW)
    with pytest.raises(SignatureInvalid) as excinfo:
        verifiers.verify_paypal(headers, BODY, "WH-1", signer.chain_pem, now=NOW)
    assert reason(excinfo) == (
        "certificate_rejected",
        "a certificate at PAYPAL-CERT-URL is not valid now",
    )
    good = PayPalSigner.create(valid_from=NOW - timedelta(days=1))
    end = b"-----END CERTIFICATE-----\n"
    foreign = PayPalSigner.create(valid_from=NOW - timedelta(days=1)).chain_pem
    foreign_ca = foreign.split(end)[1] + end
    leaf = good.chain_pem.split(end)[0] + end
    headers = good.headers(BODY, "WH-1", "https://api.paypal.com/c.pem", sent=NOW)
    with pytest.raises(SignatureInvalid) as excinfo:
        verifiers.verify_paypal(headers, BODY, "WH-1", leaf + foreign_ca, now=NOW)
    assert reason(excinfo) == (
        "certificate_rejected",
        "the certificate chain at PAYPAL-CERT-URL is broken",
    )


def test_generic_hmac_follows_its_configuration() -> None:
    config = HmacConfig(
        header="X-Signature",
        algorithm="sha512",
        encoding="base64",
        template="{timestamp}.{body}",
        prefix="sha512=",
        timestamp_header="X-Timestamp",
        tolerance=60,
    )
    digest = hmac.new(b"k3y", f"{TS}.".encode() + BODY, hashlib.sha512).digest()
    headers = {"X-Signature": "sha512=" + base64.b64encode(digest).decode(), "X-Timestamp": str(TS)}
    verifiers.verify_hmac(headers, BODY, "k3y", config, now=NOW)
    with pytest.raises(SignatureInvalid) as excinfo:
        verifiers.verify_hmac(headers, BODY, "k3y", config, now=NOW + timedelta(seconds=61))
    assert excinfo.value.code == "timestamp_out_of_tolerance"
    with pytest.raises(SignatureInvalid) as excinfo:
        verifiers.verify_hmac(headers, BODY, "other", config, now=NOW)
    assert reason(excinfo) == ("signature_mismatch", "X-Signature does not match the body")
    with pytest.raises(SignatureInvalid) as excinfo:
        verifiers.verify_hmac({**headers, "X-Signature": "md5=zz"}, BODY, "k3y", config, now=NOW)
    assert excinfo.value.code == "malformed_header"
    with pytest.raises(SignatureInvalid) as excinfo:
        verifiers.verify_hmac({"X-Signature": headers["X-Signature"]}, BODY, "k3y", config, now=NOW)
    assert reason(excinfo) == ("missing_header", "missing X-Timestamp header")
    plain = HmacConfig(header="X-Hub-Signature-256", prefix="sha256=")
    hexsig = hmac.new(b"k3y", BODY, hashlib.sha256).hexdigest()
    verifiers.verify_hmac({"x-hub-signature-256": "sha256=" + hexsig}, BODY, "k3y", plain, now=NOW)
