"""Credentials: validated against the connection's schema, sealed with the keyring (aad = tenant id
and integration id), shown only as masked hints."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError as SchemaError

from interlink.errors import ValidationFailed
from interlink.kit.crypto import Keyring, mask_secret

_FORMATS = FormatChecker()


def aad(tenant_id: str, integration_id: str) -> bytes:
    return f"integration|{tenant_id}|{integration_id}".encode()


def validate(
    value: Mapping[str, Any],
    schema: Mapping[str, Any],
    *,
    root: str,
    error: type[ValidationFailed],
    show_values: bool = True,
) -> None:
    """Raise ``error`` naming the first failing field as ``root.path``. With ``show_values``
    False (credentials) the message never quotes the value."""
    validator = Draft202012Validator(schema, format_checker=_FORMATS)
    try:
        found = list(validator.iter_errors(value))
    except Exception as exc:  # a stored schema that cannot be evaluated (e.g. a remote $ref)
        raise error(
            f"{root} cannot be checked: the connection's schema is unusable "
            f"({type(exc).__name__}); ask the platform operator to fix it.",
            param=root,
            code="unusable_schema",
        ) from None
    problems = sorted(
        found, key=lambda e: (len(e.absolute_path), [str(p) for p in e.absolute_path])
    )
    if not problems:
        return
    first = problems[0]
    path = [str(p) for p in first.absolute_path]
    if first.validator == "required" and isinstance(first.instance, Mapping):
        missing = [name for name in first.validator_value if name not in first.instance]
        path += missing[:1]
    param = ".".join([root, *path])
    raise error(f"{param}: {_describe(first, show_values)}", param=param)


def _describe(error: SchemaError, show_values: bool) -> str:
    message = str(error.message)
    if show_values:
        return message
    validator = error.validator
    if validator == "required":
        return message
    if validator == "additionalProperties":
        return message.replace("were unexpected", "are not accepted").replace(
            "was unexpected", "is not accepted"
        )
    if validator == "pattern":
        return f"does not have the expected format ({error.validator_value})"
    if validator == "type":
        return f"must be of type {error.validator_value}"
    return f"fails the '{validator}' rule of the schema"


def seal(keyring: Keyring, tenant_id: str, integration_id: str, creds: Mapping[str, Any]) -> str:
    token: str = keyring.seal_json(dict(creds), aad(tenant_id, integration_id))
    return token


def unseal(keyring: Keyring, tenant_id: str, integration_id: str, token: str) -> dict[str, Any]:
    value: dict[str, Any] = keyring.open_json(token, aad(tenant_id, integration_id))
    return value


def hints(creds: Mapping[str, Any], fields: Iterable[str] = ()) -> dict[str, str]:
    wanted = set(fields)
    return {
        name: mask_secret(value)
        for name, value in creds.items()
        if isinstance(value, str) and (not wanted or name in wanted)
    }


def secret_values(creds: Mapping[str, Any]) -> tuple[str, ...]:
    return tuple(v for v in creds.values() if isinstance(v, str) and v)
