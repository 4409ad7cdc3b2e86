"""What a verified body says about itself: its provider event id and type, read the same way
whichever JSON reader reads it."""

from __future__ import annotations

from interlink.webhooks_in.verification import InboundConfig, identify, parse

STRIPE = InboundConfig(verifier="stripe", options={})


def test_an_event_id_that_is_an_integer_beyond_64_bits_is_kept_exactly() -> None:
    body = b'{"id": 123456789012345678901234567890, "type": "charge.succeeded"}'

    identity = identify(STRIPE, {}, body)

    assert identity.provider_event_id == "123456789012345678901234567890"
    assert identity.event_type == "charge.succeeded"


def test_an_hmac_event_id_field_beyond_64_bits_is_kept_exactly() -> None:
    config = InboundConfig(verifier="hmac", options={"event_id_field": "seq"})

    identity = identify(config, {}, b'{"seq": 18446744073709551616, "type": "x"}')

    assert identity.provider_event_id == "18446744073709551616"


def test_a_body_only_the_standard_library_reads_is_still_read() -> None:
    assert parse(b'{"id": "evt_1", "ratio": NaN}')["id"] == "evt_1"
    assert parse('{"id": "evt_2"}'.encode("utf-16"))["id"] == "evt_2"


def test_a_body_that_is_not_a_json_object_reads_as_empty() -> None:
    assert parse(b"not json") == {}
    assert parse(b"[1, 2]") == {}
    assert identify(STRIPE, {}, b"not json").provider_event_id.startswith("sha256:")
