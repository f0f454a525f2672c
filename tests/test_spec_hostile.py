"""Hostile spec files and CSVs: each is refused with one UserError line, fast, in bounded
memory, without TensorFlow (the end-to-end versions are in tests/cli/test_cli_bad_input.py)."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest
import yaml
from conftest import AIRLINE, tiny_spec, write_spec

from seqtune.data import DataSpec, load_table
from seqtune.errors import UserError
from seqtune.spec import MAX_SPEC_BYTES, MAX_SPEC_DEPTH, MAX_SPEC_NODES, Overrides, Spec


def refused(path: Path) -> str:
    """The one line a spec file is refused with."""
    with pytest.raises(UserError) as info:
        Spec.from_file(path)
    line = str(info.value)
    assert len(line.splitlines()) == 1, line
    return line


def tiny_text(**changes: object) -> str:
    return yaml.safe_dump(tiny_spec(**changes), sort_keys=False)


def laughs(levels: int = 9) -> str:
    """A billion-laughs value: 9**levels strings from a few hundred bytes."""
    parts = ['&a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    parts += [f"&a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, levels)]
    return "[" + ", ".join(parts) + "]"


# ---- size, aliases, depth ---------------------------------------------------------------------


@pytest.mark.parametrize("key", ["study", "seed", "result", "unknown_key", "space"])
def test_billion_laughs_refused_fast_under_any_key(tmp_path: Path, key: str) -> None:
    path = tmp_path / "laughs.yaml"
    path.write_text(f"{key}: {laughs()}\n" + tiny_text())
    start = time.perf_counter()
    line = refused(path)
    assert time.perf_counter() - start < 0.5
    assert str(path) in line and "aliases" in line and f"{MAX_SPEC_NODES:,}" in line


def test_alias_inside_the_limit_still_works(tmp_path: Path) -> None:
    spec = tiny_text().replace("batch_size:", "batch_size: &bs").rstrip("\n")
    path = tmp_path / "alias.yaml"
    path.write_text(spec + "\n")
    assert Spec.from_file(path).study == "tiny"


def test_recursive_alias_refused(tmp_path: Path) -> None:
    path = tmp_path / "rec.yaml"
    path.write_text(tiny_text(result={"x": "placeholder"}).replace("x: placeholder", "x: &r [*r]"))
    assert "recursive" in refused(path)


def test_five_megabyte_spec_refused_naming_the_limit(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_text(tiny_text() + "# " + "x" * 5_000_000 + "\n")
    start = time.perf_counter()
    line = refused(path)
    assert time.perf_counter() - start < 0.5
    assert str(path) in line and "1 MiB" in line


def test_spec_just_under_the_size_limit_is_read(tmp_path: Path) -> None:
    text = tiny_text()
    path = tmp_path / "padded.yaml"
    path.write_text(text + "#" * (MAX_SPEC_BYTES - len(text) - 1) + "\n")
    assert path.stat().st_size == MAX_SPEC_BYTES
    assert Spec.from_file(path).study == "tiny"


def test_too_many_plain_nodes_refused(tmp_path: Path) -> None:
    path = tmp_path / "many.yaml"
    path.write_text(tiny_text() + "result: [" + "1," * (MAX_SPEC_NODES + 10) + "1]\n")
    line = refused(path)
    assert f"{MAX_SPEC_NODES:,}" in line


@pytest.mark.parametrize("opener, closer", [("[", "]"), ("{a: ", "}"), ("- ", "")])
def test_deep_nesting_refused_without_recursion_error(
    tmp_path: Path, opener: str, closer: str
) -> None:
    n = 10_000
    if opener == "- ":  # block style, compact: "- - 1" is [[1]]
        text = "result:\n" + opener * n + "1\n"
    else:
        text = "result: " + opener * n + "1" + closer * n + "\n"
    path = tmp_path / "deep.yaml"
    path.write_text(text)
    line = refused(path)  # libyaml may stop it first, at its own limit of 1,000 flow levels
    assert f"nested more than {MAX_SPEC_DEPTH} levels" in line or "nesting depth" in line


def test_deep_nesting_through_an_alias_refused(tmp_path: Path) -> None:
    half = MAX_SPEC_DEPTH - 5
    inner = "&d " + "[" * half + "1" + "]" * half
    path = tmp_path / "deep_alias.yaml"
    path.write_text(
        tiny_text() + f"result: {{a: {inner}, b: " + "[" * half + "*d" + "]" * half + "}\n"
    )
    assert f"{MAX_SPEC_DEPTH} levels" in refused(path)


# ---- duplicate keys ---------------------------------------------------------------------------


def test_duplicate_top_level_key_refused(tmp_path: Path) -> None:
    path = tmp_path / "dup.yaml"
    path.write_text("study: tiny\n" + tiny_text().replace("study: tiny\n", "") + "study: other\n")
    line = refused(path)
    assert line.startswith("study: ") and "duplicate key 'study'" in line and "lines 1 and" in line


def test_duplicate_nested_key_refused_with_path_and_lines(tmp_path: Path) -> None:
    text = tiny_text().replace("    val: 0.13\n", "    val: 0.13\n    val: 0.2\n")
    path = tmp_path / "dup.yaml"
    path.write_text(text)
    lines = text.splitlines()
    first = lines.index("    val: 0.13") + 1
    line = refused(path)
    assert line.startswith("data.split.val: ")
    assert f"lines {first} and {first + 1}" in line and path.name in line


def test_duplicate_key_inside_a_list_refused(tmp_path: Path) -> None:
    path = tmp_path / "dup.yaml"
    path.write_text(tiny_text() + "result:\n  runs:\n    - {a: 1, a: 2}\n")
    assert refused(path).startswith("result.runs[0].a: ")


def test_duplicate_keys_by_value_refused(tmp_path: Path) -> None:
    path = tmp_path / "dup.yaml"
    path.write_text(tiny_text() + "result: {0x10: a, 16: b}\n")
    assert "duplicate key" in refused(path)


def test_merge_key_override_is_not_a_duplicate(tmp_path: Path) -> None:
    path = tmp_path / "merge.yaml"
    path.write_text(tiny_text() + "result:\n  base: &b {x: 1, y: 2}\n  run: {<<: *b, x: 3}\n")
    spec = Spec.from_file(path)
    assert spec.result == {"base": {"x": 1, "y": 2}, "run": {"x": 3, "y": 2}}


# ---- encoding, bytes, documents, tags, file kinds ----------------------------------------------


def test_nul_byte_refused(tmp_path: Path) -> None:
    path = tmp_path / "nul.yaml"
    path.write_bytes(tiny_text().encode() + b"x: \x00\n")
    line = refused(path)
    assert "NUL" in line and "line" in line


def test_not_utf8_refused_with_line(tmp_path: Path) -> None:
    path = tmp_path / "latin.yaml"
    path.write_bytes(b"study: tiny\nseed: 7 # caf\xe9\n")
    line = refused(path)
    assert "not UTF-8" in line and "line 2" in line


def test_utf8_bom_accepted(tmp_path: Path) -> None:
    path = tmp_path / "bom.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + tiny_text().encode())
    assert Spec.from_file(path).study == "tiny"


def test_several_documents_refused(tmp_path: Path) -> None:
    path = tmp_path / "multi.yaml"
    path.write_text(tiny_text() + "---\n" + tiny_text())
    line = refused(path)
    assert "several YAML documents" in line and "line" in line


def test_control_character_refused_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "bell.yaml"
    path.write_text("study: tiny\n# café\nseed: \x07\n")
    line = refused(path)
    assert "'\\x07'" in line and "line 3" in line


def test_python_tag_refused_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "tag.yaml"
    path.write_text('study: !!python/object/apply:os.system ["echo owned"]\n')
    assert "python/object/apply" in refused(path)


def test_tag_with_an_escaped_newline_stays_one_line(tmp_path: Path) -> None:
    path = tmp_path / "tag.yaml"
    path.write_text("study: !<tag:%0A%0Aevil> x\n")
    refused(path)


def test_spec_path_is_a_folder(tmp_path: Path) -> None:
    assert "is a folder" in refused(tmp_path)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_spec_path_is_a_fifo_refused_without_blocking(tmp_path: Path) -> None:
    path = tmp_path / "fifo.yaml"
    os.mkfifo(path)
    assert "not a regular file" in refused(path)


def test_spec_unreadable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_spec(tmp_path / "s.yaml", tiny_spec())

    def deny(*args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "open", deny)
    line = refused(path)
    assert "cannot read" in line and "Permission denied" in line


# ---- study names --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["abc\n", "abc\r\n", "abc\u2028", "a" * 101])
def test_study_name_with_trailing_newline_refused(tmp_path: Path, name: str) -> None:
    path = write_spec(tmp_path / "s.yaml", tiny_spec(study=name))
    line = refused(path)
    assert line.startswith("study: ") and "not a valid study name" in line


def test_cli_study_override_with_trailing_newline_refused(tmp_path: Path) -> None:
    spec = Spec.from_file(write_spec(tmp_path / "s.yaml", tiny_spec()))
    with pytest.raises(UserError, match="not a valid study name"):
        Overrides(study="abc\n").apply(spec)


def test_user_error_line_escapes_line_breaks() -> None:
    err = UserError("column 'a\nb' not found\r\u2028", "data.tar\nget")
    assert str(err) == "data.tar\\nget: column 'a\\nb' not found\\r\\u2028"
    assert err.message == "column 'a\nb' not found\r\u2028"  # the raw text stays available


def test_refusing_a_hostile_spec_imports_no_tensorflow(tmp_path: Path) -> None:
    """In a fresh process: these checks run before TensorFlow would load (this test
    process may have loaded it for other tests)."""
    import subprocess

    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(
        'a: &a ["x","x","x","x","x","x","x","x","x","x"]\n'
        "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
        "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
        "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
        "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
        "study: [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
    )
    code = (
        "import sys\n"
        "from seqtune.errors import UserError\n"
        "from seqtune.spec import Spec\n"
        "try:\n"
        f"    Spec.from_file({str(bomb)!r})\n"
        "except UserError:\n"
        "    pass\n"
        "else:\n"
        "    raise SystemExit('accepted')\n"
        "assert 'tensorflow' not in sys.modules\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


# ---- hostile CSVs -------------------------------------------------------------------------------


def load(tmp_path: Path, content: bytes, name: str = "data.csv") -> str:
    """The one line ``load_table`` refuses ``content`` with."""
    path = tmp_path / name
    path.write_bytes(content)
    spec = DataSpec.from_dict({"csv": str(path), "target": "Passengers"}, tmp_path)
    with pytest.raises(UserError) as info:
        load_table(spec)
    line = str(info.value)
    assert len(line.splitlines()) == 1, line[:500]
    assert line.startswith(("data.csv: ", "data.target: ")) and len(line) < 2000, line[:500]
    return line


def rows(n: int = 60) -> str:
    return "Date,Passengers\n" + "".join(f"t{i},{100 + i % 7}\n" for i in range(n))


def test_csv_nul_byte_in_an_unused_column(tmp_path: Path) -> None:
    line = load(tmp_path, rows().replace("t5,", "t\x005,").encode())
    assert "NUL" in line and "line 7" in line


def test_csv_all_zero_bytes(tmp_path: Path) -> None:
    assert "NUL" in load(tmp_path, b"\x00" * 10_000)


def test_csv_duplicate_column_names(tmp_path: Path) -> None:
    text = "Date,Passengers,Passengers\n" + "".join(f"t{i},{i % 7},{i}\n" for i in range(60))
    line = load(tmp_path, text.encode())
    assert "'Passengers'" in line and "more than once" in line


def test_csv_gigantic_header_line(tmp_path: Path) -> None:
    start = time.perf_counter()
    line = load(tmp_path, b"Date,Passengers," + b"c," * 3_000_000 + b"x\n")
    assert time.perf_counter() - start < 2.0
    assert "line 1 " in line and "longer than 1 MiB" in line


def test_csv_gigantic_data_line(tmp_path: Path) -> None:
    line = load(tmp_path, (rows() + "t99," + "1" * 5_000_000 + "\n" + rows(3)).encode())
    assert "line 62 " in line and "longer than 1 MiB" in line


def test_csv_gigantic_file_without_newline(tmp_path: Path) -> None:
    assert "line 1 " in load(tmp_path, b"7," * 3_000_000)


def test_csv_too_many_columns(tmp_path: Path) -> None:
    header = "Date,Passengers," + ",".join(f"c{i}" for i in range(20_000))
    line = load(tmp_path, (header + "\n").encode())
    assert "columns" in line


def test_csv_gigantic_value_is_shortened_in_the_message(tmp_path: Path) -> None:
    line = load(tmp_path, (rows() + "t99," + "1" * 500_000 + "x\n").encode())
    assert "non-numeric value" in line and "..." in line


def test_csv_gigantic_column_name_is_shortened_in_the_message(tmp_path: Path) -> None:
    line = load(tmp_path, ("Date,Pass" + "e" * 500_000 + "\nt0,1\n").encode())
    assert "not found" in line


def test_csv_header_only_without_newline(tmp_path: Path) -> None:
    assert "no data rows" in load(tmp_path, b"Date,Passengers")


def test_csv_not_utf8_in_header(tmp_path: Path) -> None:
    assert "not UTF-8" in load(tmp_path, b"Date,Passeng\xe9rs\nt0,1\nt1,2\n")


def test_csv_fifo_is_not_a_file(tmp_path: Path) -> None:
    path = tmp_path / "data.csv"
    os.mkfifo(path)
    spec = DataSpec.from_dict({"csv": str(path), "target": "Passengers"}, tmp_path)
    with pytest.raises(UserError, match="not a file"):
        load_table(spec)


def test_csv_with_bom_still_loads(tmp_path: Path) -> None:
    path = tmp_path / "bom.csv"
    path.write_bytes(b"\xef\xbb\xbf" + AIRLINE.read_bytes())
    spec = DataSpec.from_dict({"csv": str(path), "target": "Passengers"}, tmp_path)
    assert load_table(spec).n_rows > 100
