"""The docs site: it builds with warnings as errors and offline, its spec reference names every
key the parser accepts, its spec examples are valid specs whose data passes ``check``, the
output it shows is what the commands print, and the README stays the short tour."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from conftest import ROOT
from spec_keys import dotted_keys

from seqtune.cli import build_parser, main

DOCS = ROOT / "docs"
REFERENCE = DOCS / "spec.md"
PAGES = sorted(DOCS.glob("*.md"))


def blocks(path: Path, language: str) -> list[str]:
    """The fenced code blocks of ``language`` (``""``: none given) in a Markdown file."""
    out: list[str] = []
    fence: str | None = None  # the open block's language
    body: list[str] = []
    for line in path.read_text().splitlines():
        if fence is None:
            if line.startswith("```"):
                fence, body = line[3:].strip(), []
        elif line.strip() == "```":
            if fence == language:
                out.append("\n".join(body) + "\n")
            fence = None
        else:
            body.append(line)
    return out


def table_keys(path: Path) -> set[str]:
    """The first cell of every table row, when it is one code span: ``| `data.csv` | ...``."""
    return set(re.findall(r"^\| `([^`]+)` \|", path.read_text(), re.M))


def test_every_key_the_spec_parser_accepts_is_in_the_spec_reference() -> None:
    documented = table_keys(REFERENCE)
    missing = [key for key in dotted_keys() if key not in documented]
    assert not missing, (
        f"the spec parser accepts {', '.join(missing)} but docs/spec.md has no table row for "
        f"{'it' if len(missing) == 1 else 'them'}: add `| `{missing[0]}` | default | domain | "
        "meaning |` to its section's table (and the key to seqtune/schema.py)"
    )


def test_every_parameter_objective_and_value_list_is_in_the_spec_reference() -> None:
    from seqtune.data.transforms import TRANSFORMS
    from seqtune.models.params import CATALOGUE, KINDS, LAYOUTS
    from seqtune.objectives.registry import BUILTINS
    from seqtune.spec import AGGREGATES, BACKENDS, PRUNERS

    documented = table_keys(REFERENCE)
    missing = [name for name in [*CATALOGUE, *BUILTINS] if name not in documented]
    assert not missing, f"docs/spec.md has no table row for {', '.join(missing)}"
    text = REFERENCE.read_text()
    values = [*TRANSFORMS, *KINDS, *LAYOUTS, *BACKENDS, *PRUNERS, *AGGREGATES]
    unnamed = [value for value in values if f"`{value}`" not in text]
    assert not unnamed, f"docs/spec.md never names the value(s) {', '.join(unnamed)}"


def test_the_docs_build_strict_and_offline(tmp_path: Path) -> None:
    site = tmp_path / "site"
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "PYTHONPATH": str(ROOT / "src")}
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-d", str(site)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    cli = (site / "cli" / "index.html").read_text()
    sub = next(a for a in build_parser()._actions if a.dest == "verb")
    unlisted = [verb for verb in sub.choices if f'id="seqtune-{verb}"' not in cli]  # type: ignore[union-attr]
    assert not unlisted, f"the CLI reference has no section for {unlisted}"
    api = (site / "python-api" / "index.html").read_text()
    for name in (
        "seqtune.api.launch",
        "seqtune.api.resume",
        "seqtune.api.load",
        "seqtune.api.Forecaster.predict",
        "seqtune.api.Study.export",
        "seqtune.integrations.mlflow.log_study",
    ):
        assert f'id="{name}"' in api, f"the Python API page does not document {name}"
    for page in site.rglob("*.html"):  # nothing fetched when the page is read
        text = page.read_text()
        assert "fonts.googleapis" not in text and '<script src="http' not in text, page


def spec_blocks() -> list[tuple[str, dict[str, Any]]]:
    """Every YAML block of the docs and the README that is a whole spec."""
    out = []
    for path in [*PAGES, ROOT / "README.md"]:
        for i, text in enumerate(blocks(path, "yaml")):
            raw = yaml.safe_load(text)
            if isinstance(raw, dict) and {"data", "model", "objective"} <= set(raw):
                out.append((f"{path.name}:{i}", raw))
    return out


def test_the_spec_examples_in_the_docs_are_valid_specs_whose_data_passes_check() -> None:
    from seqtune.schema import shipped_schema_text
    from seqtune.spec import Spec, validate_with_data

    validator = jsonschema.Draft7Validator(json.loads(shipped_schema_text()))
    found = spec_blocks()
    assert any(name.startswith("spec.md") for name, _ in found)
    checked = 0
    for name, raw in found:
        assert [e.message for e in validator.iter_errors(raw)] == [], name
        spec = Spec.from_dict(raw, ROOT / "examples")  # paths as the examples write them
        if spec.data.csv.is_file():  # README's sketch names the reader's own file
            validate_with_data(spec)
            checked += 1
    assert checked >= 1


def test_the_check_output_shown_in_getting_started_is_what_check_prints(
    capsys: pytest.CaptureFixture[str],
) -> None:
    shown = next(b for b in blocks(DOCS / "getting-started.md", "") if "$ seqtune check" in b)
    command, *lines = shown.strip().splitlines()
    assert len(lines) > 5
    args = command.removeprefix("$ seqtune ").split()
    assert main([*args[:-1], str(ROOT / args[-1])]) == 0
    printed = {" ".join(line.split()) for line in capsys.readouterr().out.splitlines()}
    stale = [line for line in lines if "…" not in line and " ".join(line.split()) not in printed]
    assert not stale, f"docs/getting-started.md shows lines check no longer prints: {stale}"


def test_the_check_commands_in_the_docs_pass(capsys: pytest.CaptureFixture[str]) -> None:
    """Every ``seqtune check <shipped spec>`` a page tells the reader to type passes."""
    specs = {
        found.group(1)
        for path in [*PAGES, ROOT / "README.md"]
        for block in blocks(path, "bash")
        for found in re.finditer(r"^\s*seqtune check (examples/\S+\.yaml)", block, re.M)
    }
    assert "examples/airline.yaml" in specs
    for spec in sorted(specs):
        assert main(["check", str(ROOT / spec)]) == 0, (spec, capsys.readouterr().err)


def test_the_readme_is_the_short_tour_and_its_links_resolve() -> None:
    text = (ROOT / "README.md").read_text()
    assert len(text.splitlines()) <= 170
    quick = text[text.index("## Quick start") :]
    quick = quick[quick.index("```bash") : quick.index("```\n", quick.index("```bash") + 7)]
    commands = [line.split("#")[0].strip() for line in quick.splitlines()[1:] if line.strip()]
    assert commands == ["bash scripts/airline.sh", "bash scripts/test.sh"]
    assert "bash scripts/test.sh" in (ROOT / ".ci" / "run").read_text()
    links = re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", text)
    assert "docs/report.png" in links
    broken = [link for link in links if "://" not in link and not (ROOT / link).exists()]
    assert not broken, broken


@pytest.mark.slow
def test_the_python_example_of_getting_started_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pandas as pd

    code = blocks(DOCS / "getting-started.md", "python")[0]
    code = code.replace('"examples/airline.yaml"', repr(str(ROOT / "examples" / "airline.yaml")))
    assert "trials=10)" in code
    code = code.replace("trials=10)", "trials=1, max_epochs=2)")  # a tiny budget
    monkeypatch.chdir(tmp_path)  # results/ goes here
    recent = pd.read_csv(ROOT / "data" / "airline.csv").tail(40)
    scope: dict[str, Any] = {"recent_rows_df": recent}
    exec(compile(code, "getting-started.md", "exec"), scope)  # noqa: S102
    forecast = scope["forecaster"].predict(recent, level=[80, 95])
    assert list(forecast.columns)[-4:] == ["lower_80", "upper_80", "lower_95", "upper_95"]
