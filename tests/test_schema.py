"""The spec's JSON Schema: the shipped file is the generated one, it names every key the
parser accepts, every shipped example validates, and it flags what an editor should."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from conftest import ROOT
from spec_keys import accepted_keys

from seqtune.cli import main
from seqtune.schema import build_schema, schema_text, shipped_schema_text

EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft7Validator:
    schema = json.loads(shipped_schema_text())
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


def problems(validator: jsonschema.Draft7Validator, spec: Any) -> list[str]:
    return [
        f"{'.'.join(map(str, e.absolute_path)) or '<top>'}: {e.message}"
        for e in validator.iter_errors(spec)
    ]


def test_the_shipped_schema_is_the_generated_one() -> None:
    assert shipped_schema_text() == schema_text(), (
        "src/seqtune/spec.schema.json is not what seqtune.schema generates from the key lists "
        "and the catalogue: run `python -m seqtune.schema --write` and commit the file"
    )


def test_the_schema_names_every_key_the_parser_accepts() -> None:
    schema = build_schema()
    data = schema["properties"]["data"]
    sections = {
        "": schema["properties"],
        "data": data["properties"],
        "data.split": data["properties"]["split"]["properties"],
        "model": schema["properties"]["model"]["anyOf"][1]["properties"],
        "search": schema["properties"]["search"]["properties"],
        "objective": schema["properties"]["objective"]["anyOf"][2]["properties"],
    }
    units = schema["properties"]["space"]["properties"]["units"]["anyOf"]
    sections["space.<parameter>"] = {key: 1 for m in units[1:] for key in m["properties"]}
    for section, keys in accepted_keys().items():
        assert sorted(sections[section]) == sorted(keys), f"schema section {section!r}"


def test_the_schema_names_every_catalogue_parameter_and_value_list() -> None:
    from seqtune.data.transforms import TRANSFORMS
    from seqtune.models.params import CATALOGUE, KINDS
    from seqtune.objectives.registry import BUILTINS

    schema = build_schema()
    space = schema["properties"]["space"]["properties"]
    assert sorted(space) == sorted(CATALOGUE)
    assert space["transform"]["anyOf"][0]["enum"] == list(TRANSFORMS)
    assert schema["properties"]["model"]["anyOf"][0]["enum"] == list(KINDS)
    assert schema["properties"]["objective"]["anyOf"][0]["enum"] == list(BUILTINS)


@pytest.mark.parametrize("spec", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_every_shipped_example_validates(spec: Path, validator: jsonschema.Draft7Validator) -> None:
    assert problems(validator, yaml.safe_load(spec.read_text())) == []


@pytest.mark.parametrize(
    ("change", "where"),
    [
        (lambda s: s["data"].update(horizn=3), "data"),  # a misspelled key
        (lambda s: s["search"].update(backend="tpx"), "search.backend"),
        (lambda s: s["space"].update(unitz={"int": [8, 64]}), "space"),
        (lambda s: s["space"].update(look_back={"int": [12, 24], "stepp": 2}), "space.look_back"),
        (lambda s: s["space"].update(transform={"choice": ["log", "sqrt"]}), "space.transform"),
        (lambda s: s["space"].update(dropout=1.5), "space.dropout"),
        (lambda s: s.update(objective="val_rsme"), "objective"),
        (lambda s: s.pop("data"), "<top>"),
    ],
    ids=[
        "data-key",
        "backend",
        "parameter",
        "domain-key",
        "transform",
        "rate",
        "objective",
        "data",
    ],
)
def test_the_schema_flags_what_an_editor_should(
    change: Any, where: str, validator: jsonschema.Draft7Validator
) -> None:
    spec = yaml.safe_load((ROOT / "examples" / "airline.yaml").read_text())
    change(spec)
    found = problems(validator, spec)
    assert found and found[0].startswith(f"{where}:"), found


def test_seqtune_schema_prints_the_shipped_schema(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema"]) == 0
    assert json.loads(capsys.readouterr().out) == json.loads(shipped_schema_text())
