from __future__ import annotations

import base64
import os
import stat
from pathlib import Path

import pytest

from interlink.kit.crypto import DecryptionError, Keyring, key_id_of, mask_secret

KEY_A = base64.b64encode(bytes(range(32))).decode()
KEY_B = base64.b64encode(bytes(range(100, 132))).decode()
TENANT_A_AAD = b"ten_A|int_1"
TENANT_B_AAD = b"ten_B|int_1"


def test_sealed_secret_opens_to_the_same_bytes_with_the_same_aad() -> None:
    keyring = Keyring.generate("k1")

    token = keyring.seal(b"sk_live_abc", TENANT_A_AAD)

    assert keyring.open(token, TENANT_A_AAD) == b"sk_live_abc"


def test_token_carries_version_and_key_id_and_no_plaintext_or_padding() -> None:
    keyring = Keyring.generate("k1")

    token = keyring.seal(b"sk_live_abc", TENANT_A_AAD)

    version, kid, payload = token.split(".")
    assert (version, kid) == ("v1", "k1")
    assert key_id_of(token) == "k1"
    assert "=" not in payload
    assert len(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))) == 12 + 11 + 16
    assert "sk_live" not in token


def test_sealing_the_same_secret_twice_gives_different_tokens() -> None:
    keyring = Keyring.generate("k1")

    assert keyring.seal(b"same", TENANT_A_AAD) != keyring.seal(b"same", TENANT_A_AAD)


def test_token_sealed_for_one_tenant_cannot_be_opened_with_another_tenants_aad() -> None:
    keyring = Keyring.generate("k1")
    token = keyring.seal(b"secret", TENANT_A_AAD)

    with pytest.raises(DecryptionError, match="associated data"):
        keyring.open(token, TENANT_B_AAD)


def test_tampered_ciphertext_is_refused() -> None:
    keyring = Keyring.generate("k1")
    token = keyring.seal(b"secret", TENANT_A_AAD)
    prefix, _, payload = token.rpartition(".")
    raw = bytearray(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    raw[len(raw) // 2] ^= 0x01  # one flipped bit in the ciphertext
    tampered = prefix + "." + base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("=")

    with pytest.raises(DecryptionError):
        keyring.open(tampered, TENANT_A_AAD)


def test_token_from_a_key_not_in_the_keyring_is_refused_without_leaking_keys() -> None:
    token = Keyring.parse(f"old:{KEY_A}").seal(b"secret", TENANT_A_AAD)
    keyring = Keyring.parse(f"new:{KEY_B}")

    with pytest.raises(DecryptionError, match="'old'") as raised:
        keyring.open(token, TENANT_A_AAD)

    assert KEY_A not in str(raised.value)
    assert KEY_B not in str(raised.value)


def test_relabelled_token_fails_because_the_other_key_does_not_authenticate_it() -> None:
    keyring = Keyring.parse(f"a:{KEY_A},b:{KEY_B}")
    token = keyring.seal(b"secret", TENANT_A_AAD)

    with pytest.raises(DecryptionError):
        keyring.open(token.replace("v1.a.", "v1.b.", 1), TENANT_A_AAD)


@pytest.mark.parametrize(
    "token",
    [
        "",
        "v1",
        "v1.k1",
        "v2.k1.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "v1.k1.AAAA",
        "v1.k1.not base64!",
        "v1.k1.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        "v1.k.1.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "v1.k1.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    ],
)
def test_malformed_token_raises_decryption_error(token: str) -> None:
    with pytest.raises(DecryptionError):
        Keyring.parse(f"k1:{KEY_A}").open(token, TENANT_A_AAD)


def test_after_rotation_old_tokens_still_open_and_are_flagged_for_reseal() -> None:
    old_keyring = Keyring.parse(f"old:{KEY_A}")
    old_token = old_keyring.seal(b"secret", TENANT_A_AAD)

    rotated = old_keyring.add_key("new")

    assert rotated.active_kid == "new"
    assert rotated.open(old_token, TENANT_A_AAD) == b"secret"
    assert rotated.needs_rotation(old_token)
    new_token = rotated.reseal(old_token, TENANT_A_AAD)
    assert key_id_of(new_token) == "new"
    assert not rotated.needs_rotation(new_token)
    assert rotated.reseal(new_token, TENANT_A_AAD) == new_token
    assert rotated.without_key("old").open(new_token, TENANT_A_AAD) == b"secret"


def test_active_key_cannot_be_removed() -> None:
    keyring = Keyring.parse(f"a:{KEY_A},b:{KEY_B}")

    with pytest.raises(ValueError, match="active"):
        keyring.without_key("a")


def test_with_active_switches_which_key_seals() -> None:
    keyring = Keyring.parse(f"a:{KEY_A},b:{KEY_B}").with_active("b")

    assert key_id_of(keyring.seal(b"x", b"")) == "b"


def test_json_values_round_trip_through_seal_json() -> None:
    keyring = Keyring.generate("k1")
    credentials = {"api_key": "sk_test_123", "nested": {"n": 1}}

    token = keyring.seal_json(credentials, TENANT_A_AAD)

    assert keyring.open_json(token, TENANT_A_AAD) == credentials


def test_first_key_of_spec_is_active_unless_named() -> None:
    assert Keyring.parse(f"a:{KEY_A}, b:{KEY_B}").active_kid == "a"
    assert Keyring.parse(f"a:{KEY_A},b:{KEY_B}", active="b").active_kid == "b"


def test_spec_accepts_urlsafe_and_unpadded_base64() -> None:
    raw = bytes([0xFB] * 32)
    urlsafe = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    standard = base64.b64encode(raw).decode()
    token = Keyring.parse(f"k:{standard}").seal(b"x", b"")

    assert Keyring.parse(f"k:{urlsafe}").open(token, b"") == b"x"


def test_to_spec_round_trips_keys_and_active_key() -> None:
    keyring = Keyring.parse(f"a:{KEY_A},b:{KEY_B}", active="b")
    token = keyring.seal(b"x", b"")

    again = Keyring.parse(keyring.to_spec())

    assert again.active_kid == "b"
    assert again.kids == ("b", "a")
    assert again.open(token, b"") == b"x"


@pytest.mark.parametrize(
    ("spec", "active", "message"),
    [
        ("k1:!!!notbase64", None, "'k1' is not valid base64"),
        (f"k1:{base64.b64encode(bytes(16)).decode()}", None, "16 bytes; AES-256 needs exactly 32"),
        (f"k1:{KEY_A},k1:{KEY_B}", None, "'k1' appears more than once"),
        (f"k1:{KEY_A}", "k9", "active key id 'k9' is not in the keyring"),
        ("", None, "keyring is empty"),
        (KEY_A, None, "not of the form 'kid:base64key'"),
        (f"bad.kid:{KEY_A}", None, "must be 1 to 64 characters"),
    ],
)
def test_bad_keyring_spec_is_rejected_with_a_clear_message(
    spec: str, active: str | None, message: str
) -> None:
    with pytest.raises(ValueError, match=message) as raised:
        Keyring.parse(spec, active=active)

    assert KEY_A not in str(raised.value)
    assert KEY_B not in str(raised.value)


def test_generated_keyrings_have_distinct_256_bit_keys() -> None:
    first, second = Keyring.generate(), Keyring.generate()
    first_key = base64.b64decode(first.to_spec().split(":", 1)[1])

    assert len(first_key) == 32
    assert first.to_spec() != second.to_spec()
    assert first.active_kid != second.active_kid


def test_repr_does_not_show_key_material() -> None:
    keyring = Keyring.parse(f"k1:{KEY_A}")

    assert KEY_A not in repr(keyring)
    assert "k1" in repr(keyring)


def test_keyring_file_is_created_owner_only_and_reused_on_next_start(tmp_path: Path) -> None:
    path = tmp_path / "data" / "nested" / "keyring.json"

    first = Keyring.load_or_create_file(path)
    token = first.seal(b"secret", TENANT_A_AAD)
    second = Keyring.load_or_create_file(path)

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert second.open(token, TENANT_A_AAD) == b"secret"
    assert [p.name for p in path.parent.iterdir()] == ["keyring.json"]


def test_saving_a_rotated_keyring_keeps_the_file_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "keyring.json"
    original = Keyring.load_or_create_file(path)
    token = original.seal(b"secret", b"")

    original.add_key("k2").save_file(path)
    reloaded = Keyring.load_or_create_file(path)

    assert reloaded.active_kid == "k2"
    assert reloaded.open(token, b"") == b"secret"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_corrupt_keyring_file_is_reported_not_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "keyring.json"
    path.write_text("{not json")

    with pytest.raises(ValueError, match="not valid JSON"):
        Keyring.load_or_create_file(path)

    assert path.read_text() == "{not json"


@pytest.mark.parametrize(
    ("value", "hint"),
    [
        ("sk_test_4eC39HqLyjWDarjtT1zdp7dc", "sk_test_…p7dc"),
        ("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_…LaSw"),
        ("ik_live_01JD8XABCDEFGHJKMNPQRSTVWXYZ", "ik_live_…WXYZ"),
        ("plainrandomsecretvalue", "…alue"),
        ("x9f8a7sd6f5a4sd3f2a1s_rest12345678", "…5678"),
        ("sk_test_abcd", "sk_…cd"),
        ("abcdefgh", "…gh"),
        ("abc", "…c"),
        ("ab", "…"),
        ("", ""),
    ],
)
def test_masked_hint_keeps_label_prefix_and_at_most_a_small_tail(value: str, hint: str) -> None:
    assert mask_secret(value) == hint
