"""The generic lab adapter's field mapping: JSON templates over our order model.

A template is any JSON value. A string ``"{{order.ship_to.city}}"`` that is exactly one placeholder
becomes the value at that dotted path (keeping its type); placeholders inside a longer string are
interpolated as text. ``{"$each": "order.items", "$map": <template>}`` builds a list, binding
``item`` (over ``order.items``) or ``asset`` (over ``item.assets``) and ``index``. Responses are
read with JSON pointers (RFC 6901): ``/Orders/0/Status``.

``check`` validates a template against the fields that exist, so a mistyped field is refused when
the integration is saved, with the path of the mistake, instead of sending a blank to the lab.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z0-9_.\-]+)\s*\}\}")
ADDRESS_FIELDS = (
    "name",
    "line1",
    "line2",
    "city",
    "state",
    "postal_code",
    "country",
    "phone",
    "email",
)
ORDER_FIELDS = {
    "reference": None,
    "order_id": None,
    "items": None,
    "attributes": None,
    "ship_to": ADDRESS_FIELDS,
    "ship_from": ADDRESS_FIELDS,
}
ITEM_FIELDS = (
    "reference",
    "product_id",
    "quantity",
    "assets",
    "attributes",
    "our_product_id",
    "our_variant_id",
)
ASSET_FIELDS = ("url", "md5", "node_id", "file_name", "size", "content_type")
FREE_ROOTS = ("credentials", "settings")


class TemplateError(ValueError):
    def __init__(self, where: str, message: str) -> None:
        super().__init__(f"{where}: {message}")
        self.where = where
        self.message = message


@dataclass
class Fields:
    """What a template may name at one place of the configuration."""

    item: bool = False
    asset: bool = False
    lab_order_id: bool = False
    steps: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    asset_extra: tuple[str, ...] = ()

    def with_(self, **changes: Any) -> Fields:
        values = {**self.__dict__, **changes}
        return Fields(**values)


def _check_path(path: str, fields: Fields, where: str) -> None:
    parts = path.split(".")
    root, rest = parts[0], parts[1:]
    if root in FREE_ROOTS and rest:
        return
    if root == "index" and not rest:
        return
    if root == "lab_order_id" and not rest:
        if fields.lab_order_id:
            return
        raise TemplateError(where, "{{lab_order_id}} is only known in status and cancel requests")
    if root == "order":
        _check_known(rest, ORDER_FIELDS, "order", where)
        return
    if root == "item":
        if not fields.item:
            raise TemplateError(
                where, f'{{{{{path}}}}} is outside a {{"$each": "order.items"}} list'
            )
        _check_known(rest, dict.fromkeys(ITEM_FIELDS), "item", where)
        return
    if root == "asset":
        if not fields.asset:
            raise TemplateError(
                where, f'{{{{{path}}}}} is outside a {{"$each": "item.assets"}} list'
            )
        _check_known(rest, dict.fromkeys((*ASSET_FIELDS, *fields.asset_extra)), "asset", where)
        return
    if root == "steps":
        if len(rest) != 2 or rest[0] not in fields.steps:
            earlier = ", ".join(sorted(fields.steps)) or "none"
            raise TemplateError(
                where,
                f"{{{{{path}}}}} must name an earlier step and one of its saved values "
                f"(earlier steps: {earlier})",
            )
        if rest[1] not in fields.steps[rest[0]]:
            saved = ", ".join(fields.steps[rest[0]]) or "nothing"
            raise TemplateError(where, f"step {rest[0]!r} saves no {rest[1]!r} (it saves: {saved})")
        return
    raise TemplateError(
        where,
        f"{{{{{path}}}}} starts with an unknown name {root!r}; use order, item, asset, steps, "
        "credentials, settings, index or lab_order_id",
    )


def _check_known(rest: list[str], known: Mapping[str, Any], prefix: str, where: str) -> None:
    if not rest:
        return
    head = rest[0]
    if head not in known:
        raise TemplateError(
            where,
            f"{prefix}.{head} is not a field of the order model; fields of {prefix}: "
            + ", ".join(known),
        )
    nested = known[head]
    if len(rest) > 1:
        if nested is None:
            raise TemplateError(where, f"{prefix}.{head} has no field {rest[1]!r}")
        _check_known(rest[1:], dict.fromkeys(nested), f"{prefix}.{head}", where)


def check(template: Any, fields: Fields, where: str) -> None:
    """Raise ``TemplateError`` naming the first place where ``template`` is wrong."""
    if isinstance(template, str):
        for match in PLACEHOLDER.finditer(template):
            _check_path(match.group(1), fields, where)
        if "{{" in PLACEHOLDER.sub("", template):
            raise TemplateError(where, f"{template!r} has an unclosed or malformed placeholder")
        return
    if isinstance(template, list):
        for index, value in enumerate(template):
            check(value, fields, f"{where}.{index}")
        return
    if isinstance(template, Mapping):
        if "$each" in template:
            source = template["$each"]
            if set(template) != {"$each", "$map"}:
                raise TemplateError(where, 'a "$each" object takes exactly "$each" and "$map"')
            if source == "order.items":
                inner = fields.with_(item=True)
            elif source == "item.assets" and fields.item:
                inner = fields.with_(asset=True)
            else:
                raise TemplateError(
                    f"{where}.$each",
                    f'{source!r} cannot be iterated here; use "order.items", or '
                    '"item.assets" inside it',
                )
            check(template["$map"], inner, f"{where}.$map")
            return
        for key, value in template.items():
            check(value, fields, f"{where}.{key}")


def lookup(scope: Mapping[str, Any], path: str) -> Any:
    value: Any = scope
    for part in path.split("."):
        if isinstance(value, Mapping):
            value = value.get(part)
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return None
    return value


def render(template: Any, scope: Mapping[str, Any]) -> Any:
    if isinstance(template, str):
        whole = PLACEHOLDER.fullmatch(template.strip())
        if whole is not None:
            return lookup(scope, whole.group(1))
        return PLACEHOLDER.sub(lambda m: _text(lookup(scope, m.group(1))), template)
    if isinstance(template, list):
        return [render(v, scope) for v in template]
    if isinstance(template, Mapping):
        if "$each" in template:
            source = lookup(scope, str(template["$each"])) or []
            name = "item" if template["$each"] == "order.items" else "asset"
            return [
                render(template["$map"], {**scope, name: value, "index": index})
                for index, value in enumerate(source)
            ]
        return {key: render(value, scope) for key, value in template.items()}
    return template


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def pointer(document: Any, path: str) -> Any:
    """The value at JSON pointer ``path`` (None when absent)."""
    if path == "":
        return document
    value = document
    for raw in path.lstrip("/").split("/"):
        part = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(value, Mapping):
            value = value.get(part)
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return None
    return value


def names(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(values)
