"""Compiled JSON schema validators of tenant event types, cached by the schema's content.

The key is the schema itself (its canonical JSON text), not the type's name or version: a changed
schema is another key, so a stale validator can never be served, whoever changed the row."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import jsonschema
import orjson

CACHE_SIZE = 1024


@lru_cache(maxsize=CACHE_SIZE)
def _compiled(canonical: str) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(orjson.loads(canonical))


def validator_for(schema: dict[str, Any]) -> jsonschema.Draft202012Validator:
    return _compiled(orjson.dumps(schema, option=orjson.OPT_SORT_KEYS).decode())
