"""The committed JSON Schemas are exactly what the Structs produce (run `make schemas` to update)."""

from __future__ import annotations

import json

import jsonschema

from schemas import export


def test_committed_schemas_match_the_code() -> None:
    expected = export.render()
    on_disk = {p.name: p.read_text() for p in export.OUT.glob("*.json")}
    missing = sorted(set(expected) - set(on_disk))
    stale = sorted(set(on_disk) - set(expected))
    changed = sorted(n for n in expected if n in on_disk and on_disk[n] != expected[n])
    assert not (missing or stale or changed), (
        f"schemas/json drifted (run `make schemas`): missing={missing} stale={stale} changed={changed}"
    )


def test_every_schema_is_valid_json_schema() -> None:
    for name, text in export.render().items():
        if name == "subjects.json":
            continue
        jsonschema.Draft202012Validator.check_schema(json.loads(text))


def test_every_endpoint_is_indexed_with_both_schemas() -> None:
    files = export.render()
    index = json.loads(files["subjects.json"])
    assert "cephdr.agent.<site>.rbd.image.promote" in index
    for entry in index.values():
        assert entry["request"] in files and entry["reply"] in files
        assert entry["summary"]
