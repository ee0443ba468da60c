"""YAML files <-> the raw dict stage, keeping each mapping's line number for error messages."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from forms.errors import FormDefinitionError, FormError, Location

LOC = "__loc__"


# libyaml's loader when PyYAML was built with it (about ten times faster: start-up loads every form).
_BaseLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _LineLoader(_BaseLoader):  # type: ignore[valid-type,misc]
    """A safe loader that records line numbers and, like YAML 1.2, reads only true/false as booleans
    (so a choice named `yes` or `no` stays a string)."""


_LineLoader.yaml_implicit_resolvers = {
    key: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.copy().items()
}
_LineLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def _construct_mapping(
    loader: _LineLoader, node: yaml.MappingNode, deep: bool = False
) -> dict[Any, Any]:
    mapping = yaml.constructor.SafeConstructor.construct_mapping(loader, node, deep=True)
    mapping[LOC] = node.start_mark.line + 1
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _attach_locations(value: Any, file: str) -> Any:
    if isinstance(value, dict):
        line = value.pop(LOC, None)
        out = {k: _attach_locations(v, file) for k, v in value.items()}
        out[LOC] = Location(file=file, line=line)
        return out
    if isinstance(value, list):
        return [_attach_locations(v, file) for v in value]
    return value


def read_yaml(path: Path | str, text: str | None = None) -> dict[str, Any]:
    """Read a definition file into the raw stage; FormDefinitionError if it is not readable YAML."""
    name = str(path)
    if text is None:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise FormDefinitionError(
                [FormError.make("file_unreadable", Location(file=name), reason=exc)]
            ) from None
    try:
        data = yaml.load(text, Loader=_LineLoader)  # a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        reason = getattr(exc, "problem", None) or str(exc)
        raise FormDefinitionError(
            [FormError.make("yaml_syntax", Location(file=name, line=line), reason=reason)]
        ) from None
    if not isinstance(data, dict):
        raise FormDefinitionError(
            [
                FormError.make(
                    "bad_structure",
                    Location(file=name, line=1),
                    reason="the file must be a mapping with settings, survey and choices",
                )
            ]
        )
    result: dict[str, Any] = _attach_locations(data, name)
    return result


class _Dumper(yaml.SafeDumper):
    pass


def _str_presenter(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    style = "|" if "\n" in data else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_Dumper.add_representer(str, _str_presenter)


def dump_yaml(data: dict[str, Any]) -> str:
    text: str = yaml.dump(
        data, Dumper=_Dumper, allow_unicode=True, sort_keys=False, width=100, indent=2
    )
    return text
