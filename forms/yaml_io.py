"""YAML files <-> the raw dict stage, keeping each mapping's line number for error messages.

Every form definition we parse (a file, an upload, a version the server sends a client) goes through
read_yaml, which refuses, before building anything, YAML that is too big, nests too deeply, uses too many
aliases or would expand through its aliases into too many nodes (an "alias bomb": 700 bytes -> gigabytes).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import yaml

from forms.errors import FormDefinitionError, FormError, Location

LOC = "__loc__"


@dataclass(frozen=True, slots=True)
class YamlLimits:
    """What a form definition may hold. The shipped forms are under 8 KB, 2,000 nodes and 8 levels deep."""

    max_bytes: int = 1024 * 1024
    max_nodes: int = 100_000  # counted with every alias expanded
    max_aliases: int = 100
    max_depth: int = 64


YAML_LIMITS = YamlLimits()


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


def _refuse(code: str, file: str, node: yaml.Node | None = None, **params: object) -> NoReturn:
    line = node.start_mark.line + 1 if node is not None else None
    raise FormDefinitionError([FormError.make(code, Location(file=file, line=line), **params)])


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def check_node_graph(root: yaml.Node, file: str, limits: YamlLimits = YAML_LIMITS) -> None:
    """Refuse a composed document that is too big or too deep once its aliases are expanded.

    Composing shares an aliased node instead of copying it, so the graph is as small as the text; its
    expanded size is computed here bottom-up (each node once), without expanding anything."""
    size: dict[int, int] = {}
    depth: dict[int, int] = {}
    on_path: set[int] = set()
    aliases = 0
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, finished = stack.pop()
        key = id(node)
        if finished:
            kids = _children(node)
            size[key] = 1 + sum(size[id(k)] for k in kids)
            depth[key] = 1 + max((depth[id(k)] for k in kids), default=0)
            on_path.discard(key)
            if size[key] > limits.max_nodes:
                _refuse("yaml_too_big", file, node, limit=limits.max_nodes)
            if depth[key] > limits.max_depth:
                _refuse("yaml_too_deep", file, node, limit=limits.max_depth)
            continue
        if key in size:  # met again: an alias
            aliases += 1
            if aliases > limits.max_aliases:
                _refuse("yaml_too_many_aliases", file, node, limit=limits.max_aliases)
            continue
        if key in on_path:
            _refuse("yaml_recursive", file, node)
        on_path.add(key)
        stack.append((node, True))
        stack.extend((k, False) for k in _children(node))
        if len(on_path) > limits.max_depth:
            _refuse("yaml_too_deep", file, node, limit=limits.max_depth)


def _read_text(path: Path | str, limits: YamlLimits) -> str:
    name = str(path)
    try:
        with open(path, "rb") as f:
            raw = f.read(limits.max_bytes + 1)
        if len(raw) > limits.max_bytes:
            _refuse("file_too_large", name, limit=limits.max_bytes)
        return raw.decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise FormDefinitionError(
            [FormError.make("file_unreadable", Location(file=name), reason=exc)]
        ) from None


def safe_load(text: str, file: str, limits: YamlLimits = YAML_LIMITS) -> Any:
    """Parse YAML text with our safe loader within `limits`; FormDefinitionError (a catalogue error naming
    the file and the limit) for text over the limits, yaml.YAMLError for malformed YAML."""
    if len(text) > limits.max_bytes or len(text.encode("utf-8")) > limits.max_bytes:
        _refuse("file_too_large", file, limit=limits.max_bytes)
    loader = _LineLoader(text)  # a SafeLoader subclass
    try:
        try:
            node = loader.get_single_node()
        except RecursionError:  # the pure-Python composer (no libyaml) recurses per level
            _refuse("yaml_too_deep", file, limit=limits.max_depth)
        if node is None:
            return None
        check_node_graph(node, file, limits)
        return loader.construct_document(node)
    finally:
        loader.dispose()


def read_yaml(
    path: Path | str, text: str | None = None, *, limits: YamlLimits = YAML_LIMITS
) -> dict[str, Any]:
    """Read a definition file (or its text) into the raw stage; FormDefinitionError if it is not readable
    YAML or goes over the limits (size, nodes with aliases expanded, aliases, depth)."""
    name = str(path)
    if text is None:
        text = _read_text(path, limits)
    try:
        data = safe_load(text, name, limits)
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
