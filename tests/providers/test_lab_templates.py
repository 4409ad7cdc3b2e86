"""The generic lab adapter's templates and the import boundary of the lab adapters."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from interlink.providers import lab_templates as tpl

ORDER = {
    "reference": "ful_1",
    "ship_to": {"city": "Austin"},
    "items": [
        {"product_id": "P1", "quantity": 2, "assets": [{"url": "u1", "md5": "m1"}]},
        {"product_id": "P2", "quantity": 1, "assets": [{"url": "u2", "md5": "m2"}]},
    ],
}


def test_whole_placeholder_keeps_its_type_and_lists_are_built_per_item() -> None:
    template = {
        "ref": "order {{order.reference}} to {{ order.ship_to.city }}",
        "lines": {
            "$each": "order.items",
            "$map": {
                "sku": "{{item.product_id}}",
                "n": "{{item.quantity}}",
                "pos": "{{index}}",
                "files": {"$each": "item.assets", "$map": "{{asset.url}}"},
            },
        },
        "fixed": 7,
    }

    rendered = tpl.render(template, {"order": ORDER})

    assert rendered == {
        "ref": "order ful_1 to Austin",
        "lines": [
            {"sku": "P1", "n": 2, "pos": 0, "files": ["u1"]},
            {"sku": "P2", "n": 1, "pos": 1, "files": ["u2"]},
        ],
        "fixed": 7,
    }


@pytest.mark.parametrize(
    ("template", "where", "message"),
    [
        ({"a": "{{order.shipto.city}}"}, "body.a", "order.shipto is not a field"),
        ({"a": "{{asset.url}}"}, "body.a", '"$each": "item.assets"'),
        ({"a": {"$each": "order.lines", "$map": 1}}, "body.a.$each", "cannot be iterated"),
        ({"a": "{{order.reference"}, "body.a", "malformed placeholder"),
        ({"a": "{{lab_order_id}}"}, "body.a", "only known in status and cancel"),
        ({"a": "{{secret.x}}"}, "body.a", "unknown name 'secret'"),
    ],
)
def test_wrong_templates_are_refused_with_their_place(
    template: object, where: str, message: str
) -> None:
    with pytest.raises(tpl.TemplateError) as caught:
        tpl.check(template, tpl.Fields(), "body")

    assert caught.value.where == where
    assert message in caught.value.message


def test_json_pointer_reads_nested_values_and_escapes() -> None:
    document = {"data": {"a/b": [{"id": 5}]}}

    assert tpl.pointer(document, "/data/a~1b/0/id") == 5
    assert tpl.pointer(document, "/data/missing") is None
    assert tpl.pointer(document, "") == document


LAB_MODULES = (
    "labs",
    "lab_templates",
    "lab_connections",
    "generic_lab",
    "mpix",
    "whcc",
    "sandbox_lab",
)


@pytest.mark.parametrize("module", LAB_MODULES)
def test_lab_adapters_import_no_domain_database_or_web_framework(module: str) -> None:
    source = Path(tpl.__file__).with_name(f"{module}.py").read_text()
    imported = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module)
        elif isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
    allowed = ("interlink.providers", "interlink.kit")
    forbidden = [
        name
        for name in imported
        if (name.startswith("interlink.") and not name.startswith(allowed))
        or name.split(".")[0] in ("fastapi", "sqlalchemy", "starlette")
    ]
    assert forbidden == []
