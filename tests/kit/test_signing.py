from __future__ import annotations

import base64
import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from interlink.kit.signing import (
    SignatureError,
    generate_secret,
    headers,
    sign,
    signature_header,
    verify,
)

VECTORS_DIR = Path(__file__).parents[2] / ".." / "shared" / "vectors"
VECTORS: dict[str, Any] = json.loads((VECTORS_DIR / "standard-webhooks.json").read_text())
FIRST = VECTORS["valid"][0]
BODY = b'{"type":"order.created","data":{"object":{"id":"ord_789"}}}'


def _first_vector_headers(signature: str) -> dict[str, str]:
    return {
        "webhook-id": FIRST["msg_id"],
        "webhook-timestamp": str(FIRST["timestamp"]),
        "webhook-signature": signature,
    }


@pytest.mark.parametrize("vector", VECTORS["valid"], ids=lambda v: v["msg_id"])
def test_signature_matches_published_vector(vector: dict[str, Any]) -> None:
    signature = sign(
        vector["secret"], vector["msg_id"], vector["timestamp"], vector["payload"].encode()
    )

    assert signature == vector["signature"]


@pytest.mark.parametrize("vector", VECTORS["valid"], ids=lambda v: v["msg_id"])
def test_published_vector_verifies(vector: dict[str, Any]) -> None:
    received = {
        "webhook-id": vector["msg_id"],
        "webhook-timestamp": str(vector["timestamp"]),
        "webhook-signature": vector["signature"],
    }

    verify(vector["secret"], received, vector["payload"].encode(), now=vector["timestamp"])


@pytest.mark.parametrize("signature", VECTORS["invalid_for_first_vector"])
def test_published_invalid_signature_is_refused(signature: str) -> None:
    with pytest.raises(SignatureError, match="no matching signature"):
        verify(
            FIRST["secret"],
            _first_vector_headers(signature),
            FIRST["payload"].encode(),
            now=FIRST["timestamp"],
        )


def test_secret_without_whsec_prefix_signs_the_same() -> None:
    bare = FIRST["secret"].removeprefix("whsec_")

    assert (
        sign(bare, FIRST["msg_id"], FIRST["timestamp"], FIRST["payload"].encode())
        == (FIRST["signature"])
    )


def test_header_with_several_signatures_passes_when_any_v1_entry_matches() -> None:
    header = f"v2,ignored v1,{'A' * 43}= garbage {FIRST['signature']}"

    verify(
        FIRST["secret"],
        _first_vector_headers(header),
        FIRST["payload"].encode(),
        now=FIRST["timestamp"],
    )


def test_changed_body_is_refused() -> None:
    with pytest.raises(SignatureError, match="no matching signature"):
        verify(
            FIRST["secret"],
            _first_vector_headers(FIRST["signature"]),
            FIRST["payload"].encode() + b" ",
            now=FIRST["timestamp"],
        )


def test_header_names_are_matched_case_insensitively() -> None:
    received = {k.upper(): v for k, v in _first_vector_headers(FIRST["signature"]).items()}

    verify(FIRST["secret"], received, FIRST["payload"].encode(), now=FIRST["timestamp"])


@pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_missing_header_is_named_in_the_error(missing: str) -> None:
    received = _first_vector_headers(FIRST["signature"])
    del received[missing]

    with pytest.raises(SignatureError, match=f"missing {missing} header"):
        verify(FIRST["secret"], received, FIRST["payload"].encode(), now=FIRST["timestamp"])


@pytest.mark.parametrize(
    ("offset", "message"), [(-301, "old"), (301, "future")], ids=["too-old", "too-new"]
)
def test_timestamp_outside_tolerance_is_refused(offset: int, message: str) -> None:
    with pytest.raises(SignatureError, match=message):
        verify(
            FIRST["secret"],
            _first_vector_headers(FIRST["signature"]),
            FIRST["payload"].encode(),
            now=FIRST["timestamp"] - offset,
        )


@pytest.mark.parametrize("offset", [-300, 300])
def test_timestamp_exactly_at_tolerance_is_accepted(offset: int) -> None:
    verify(
        FIRST["secret"],
        _first_vector_headers(FIRST["signature"]),
        FIRST["payload"].encode(),
        now=FIRST["timestamp"] - offset,
    )


@pytest.mark.parametrize("timestamp", ["1614265330.5", "abc", "-1614265330", "\uff11\uff12\uff13"])
def test_malformed_timestamp_is_refused(timestamp: str) -> None:
    received = _first_vector_headers(FIRST["signature"]) | {"webhook-timestamp": timestamp}

    with pytest.raises(SignatureError, match="malformed webhook-timestamp"):
        verify(FIRST["secret"], received, FIRST["payload"].encode(), now=FIRST["timestamp"])


def test_generated_secret_is_whsec_prefixed_base64_of_32_random_bytes() -> None:
    secret = generate_secret()

    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"), validate=True)) == 32
    assert generate_secret() != secret


def test_non_base64_secret_is_rejected() -> None:
    with pytest.raises(ValueError, match="not valid base64"):
        sign("whsec_not base64!", "msg_1", 1, b"")


def test_signing_with_no_secrets_is_rejected() -> None:
    with pytest.raises(ValueError, match="at least one"):
        signature_header([], "msg_1", 1, b"")


def test_during_rotation_a_receiver_holding_either_secret_verifies_the_delivery() -> None:
    old, new = generate_secret(), generate_secret()
    now = int(time.time())

    sent = headers([new, old], "msg_rot", now, BODY)

    assert sent["webhook-signature"].count("v1,") == 2
    verify(old, sent, BODY, now=now)
    verify(new, sent, BODY, now=now)
    with pytest.raises(SignatureError):
        verify(generate_secret(), sent, BODY, now=now)


def test_official_standard_webhooks_library_verifies_our_delivery() -> None:
    secret = generate_secret()
    sent = headers([secret], "msg_official", int(time.time()), BODY)

    assert Webhook(secret).verify(BODY, sent) == json.loads(BODY)


def test_official_library_verifies_our_delivery_signed_with_old_and_new_secret() -> None:
    old, new = generate_secret(), generate_secret()
    sent = headers([new, old], "msg_official_rot", int(time.time()), BODY)

    Webhook(old).verify(BODY, sent)
    with pytest.raises(WebhookVerificationError):
        Webhook(generate_secret()).verify(BODY, sent)


def test_we_verify_a_signature_made_by_the_official_library() -> None:
    secret = generate_secret()
    timestamp = int(time.time())
    official_signature = Webhook(secret).sign(
        "msg_theirs", datetime.fromtimestamp(timestamp, UTC), BODY.decode()
    )
    received = {
        "Webhook-Id": "msg_theirs",
        "Webhook-Timestamp": str(timestamp),
        "Webhook-Signature": official_signature,
    }

    verify(secret, received, BODY)
    assert official_signature == sign(secret, "msg_theirs", timestamp, BODY)
