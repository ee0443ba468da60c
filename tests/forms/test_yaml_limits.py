"""YAML that would expand without bound (aliases), nest too deeply or is simply too big is refused before it
is built, with a catalogue error naming the file and the limit (issue 9)."""

from __future__ import annotations

from pathlib import Path

import pytest

from forms.errors import FormDefinitionError, FormError
from forms.loader import load_yaml, load_yaml_text
from forms.yaml_io import YAML_LIMITS, YamlLimits, read_yaml
from tests.support.bombs import PYTHON, run_measured, yaml_alias_bomb

ROOT = Path(__file__).resolve().parents[2]
GOOD = """\
settings: {form_id: demo, version: '1', title: {zh: 演示, en: Demo}}
survey:
  - {type: text, name: a, label: A}
"""


def refused(text: str, file: str = "bomb.yaml") -> FormError:
    with pytest.raises(FormDefinitionError) as info:
        load_yaml_text(text, file=file)
    (error,) = info.value.errors
    assert error.location.file == file
    assert error.message_zh and error.message_en
    return error


def test_alias_bomb_is_refused_before_it_expands():
    text = yaml_alias_bomb()
    assert len(text) < 700
    error = refused(text)
    assert error.code == "yaml_too_big"
    assert str(YAML_LIMITS.max_nodes) in error.message_en
    assert "别名" in error.message_zh


def test_a_few_aliases_are_still_fine():
    text = (
        GOOD.replace("label: A}", "label: &l {zh: 甲, en: A}}")
        + "  - {type: text, name: b, label: *l}\n"
    )
    form = load_yaml_text(text)
    assert form.field("b").label.en == "A"


def test_too_many_aliases_are_refused_even_when_they_expand_little():
    aliases = ", ".join(["*x"] * (YAML_LIMITS.max_aliases + 1))
    error = refused(f"x: &x 1\ny: [{aliases}]\n")
    assert error.code == "yaml_too_many_aliases"
    assert str(YAML_LIMITS.max_aliases) in error.message_en


def test_recursive_alias_is_refused():
    error = refused("settings: &s {form_id: demo, again: *s}\n")
    assert error.code in ("yaml_recursive", "yaml_syntax")


def test_deep_nesting_is_refused():
    depth = YAML_LIMITS.max_depth + 5
    error = refused("a: " + "[" * depth + "]" * depth + "\n")
    assert error.code in ("yaml_too_deep", "yaml_syntax")
    if error.code == "yaml_too_deep":
        assert str(YAML_LIMITS.max_depth) in error.message_en


def test_nesting_at_python_recursion_depth_gives_a_catalogue_error():
    # libyaml's own limit is 1000; our walk of the result must not die of RecursionError below it
    error = refused("a: " + "[" * 900 + "]" * 900 + "\n")
    assert error.code == "yaml_too_deep"


def test_too_many_plain_nodes_are_refused():
    limits = YamlLimits(max_nodes=1000)
    items = ", ".join("1" for _ in range(limits.max_nodes + 1))
    with pytest.raises(FormDefinitionError) as info:
        read_yaml("many.yaml", text=f"a: [{items}]\n", limits=limits)
    assert info.value.errors[0].code == "yaml_too_big"
    fits = ", ".join("1" for _ in range(limits.max_nodes - 3))  # + the mapping, its key, the list
    assert read_yaml("enough.yaml", text=f"a: [{fits}]\n", limits=limits)["a"][0] == 1


def test_oversized_text_and_file_are_refused(tmp_path: Path):
    big = GOOD + "# " + "x" * YAML_LIMITS.max_bytes + "\n"
    error = refused(big)
    assert error.code == "file_too_large"
    assert str(YAML_LIMITS.max_bytes) in error.message_en
    path = tmp_path / "big.yaml"
    path.write_text(big, encoding="utf-8")
    with pytest.raises(FormDefinitionError) as info:
        load_yaml(path)
    assert info.value.errors[0].code == "file_too_large"
    assert info.value.errors[0].location.file == str(path)


def test_forms_check_refuses_the_bomb_in_bounded_memory(tmp_path: Path):
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(yaml_alias_bomb(), encoding="utf-8")
    run = run_measured([PYTHON, "-m", "forms", "check", str(bomb)], cwd=tmp_path)
    assert run.returncode == 2, run.stderr
    assert "Traceback" not in run.stdout + run.stderr
    assert f"{bomb}" in run.stdout and "[yaml_too_big]" in run.stdout
    assert run.peak_mb < 200, run.peak_mb
