"""The catalogue of form-definition errors.

Every error has a stable code, a location (file, and row or line, sheet, field, column) and a message in
Chinese and English. Nothing in the loader raises anything else for a bad definition.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

# code -> (zh template, en template); templates use str.format with the error's params.
CATALOGUE: dict[str, tuple[str, str]] = {
    "file_unreadable": ("无法读取文件：{reason}", "cannot read the file: {reason}"),
    "yaml_syntax": ("YAML 格式错误：{reason}", "malformed YAML: {reason}"),
    "file_too_large": (
        "文件过大：超过 {limit} 字节，拒绝读取",
        "the file is too large: more than {limit} bytes; refused",
    ),
    "yaml_too_big": (
        "YAML 展开别名（alias）后超过 {limit} 个节点（可能是“别名炸弹”），拒绝读取",
        "the YAML holds more than {limit} nodes once its aliases are expanded (an alias bomb?); refused",
    ),
    "yaml_too_many_aliases": (
        "YAML 使用的别名（alias）超过 {limit} 个，拒绝读取",
        "the YAML uses more than {limit} aliases; refused",
    ),
    "yaml_too_deep": (
        "YAML 嵌套超过 {limit} 层，拒绝读取",
        "the YAML nests more than {limit} levels deep; refused",
    ),
    "yaml_recursive": (
        "YAML 的别名引用了包含它自己的节点（递归结构），拒绝读取",
        "a YAML alias refers to a node that contains it (a recursive structure); refused",
    ),
    "xlsx_unreadable": ("无法读取 Excel 文件：{reason}", "cannot read the workbook: {reason}"),
    "xlsx_too_many_parts": (
        "Excel 文件内部的部件过多：{count} 个，上限 {limit} 个，拒绝读取",
        "the workbook holds too many parts: {count}, the limit is {limit}; refused",
    ),
    "xlsx_total_too_large": (
        "Excel 文件解压后过大：{size} 字节，上限 {limit} 字节，拒绝读取",
        "the workbook is too large once unpacked: {size} bytes, the limit is {limit}; refused",
    ),
    "xlsx_too_large": (
        "Excel 文件的部件 {part} 解压后过大：{size} 字节，上限 {limit} 字节，拒绝读取",
        "part {part} of the workbook is too large once unpacked: {size} bytes, the limit is {limit}; refused",
    ),
    "xlsx_too_many_tags": (
        "Excel 文件的部件 {part} 中的元素过多（超过 {limit} 个标记），拒绝读取",
        "part {part} of the workbook holds too many elements (more than {limit} tags); refused",
    ),
    "xlsx_ratio": (
        "Excel 文件的部件 {part} 压缩比异常（{ratio}:1，上限 {limit}:1），可能是“压缩炸弹”，拒绝读取",
        "part {part} of the workbook is packed {ratio}:1 (the limit is {limit}:1), a zip bomb?; refused",
    ),
    "xlsx_dtd": (
        "Excel 文件的部件 {part} 含有 DTD 或实体声明，出于安全原因拒绝读取",
        "part {part} of the workbook declares a DTD or entities; refused for safety",
    ),
    "xlsx_encoding": (
        "Excel 文件的部件 {part} 不是 UTF-8 编码的 XML，拒绝读取",
        "part {part} of the workbook is not UTF-8 XML; refused",
    ),
    "xlsx_long_text": (
        "Excel 文件的部件 {part} 中有一段超过 {limit} 字节的连续文本，拒绝读取",
        "part {part} of the workbook holds a run of text longer than {limit} bytes; refused",
    ),
    "xlsx_too_many_rows": (
        "工作表超过 {limit} 行，拒绝读取",
        "the sheet has more than {limit} rows; refused",
    ),
    "xlsx_too_many_columns": (
        "工作表的这一行超过 {limit} 列，拒绝读取",
        "this row of the sheet has more than {limit} columns; refused",
    ),
    "missing_sheet": ("缺少工作表“{sheet}”", "the workbook has no '{sheet}' sheet"),
    "bad_structure": ("结构错误：{reason}", "bad structure: {reason}"),
    "missing_key": ("缺少必填项“{key}”", "'{key}' is missing"),
    "unknown_key": ("不认识的列或键“{key}”", "unknown column or key '{key}'"),
    "invalid_value": (
        "“{key}”的值“{value}”无效：{reason}",
        "invalid value '{value}' for '{key}': {reason}",
    ),
    "invalid_name": (
        "名称“{name}”无效：只能用英文字母、数字、下划线，且不能以下划线或数字开头",
        "invalid name '{name}': use letters, digits and underscores, not starting with _ or a digit",
    ),
    "invalid_identifier": (
        "{label_zh}（{key}）“{value}”无效：{rule_zh}",
        "invalid {key} '{value}': {rule_en}",
    ),
    "unknown_type": ("不认识的题型“{type}”", "unknown type '{type}'"),
    "unsupported_feature": (
        "不支持的 XLSForm 功能：{feature}",
        "unsupported XLSForm feature: {feature}",
    ),
    "duplicate_name": (
        "名称“{name}”重复（第一次出现在 {first}）",
        "duplicate name '{name}' (first at {first})",
    ),
    "duplicate_choice": (
        "选项列表“{list}”中选项“{name}”重复",
        "choice '{name}' appears twice in list '{list}'",
    ),
    "missing_choices": ("找不到选项列表“{list}”", "choice list '{list}' does not exist"),
    "unknown_reference": ("找不到参考名单“{list}”", "reference list '{list}' does not exist"),
    "unmatched_group": ("组的开始与结束不匹配：{reason}", "unmatched group: {reason}"),
    "empty_group": ("组“{name}”里没有题目", "group '{name}' has no fields"),
    "expression_syntax": ("表达式语法错误：{reason}", "bad expression syntax: {reason}"),
    "unknown_field": (
        "表达式引用了不存在的题目 ${{{name}}}",
        "the expression refers to unknown field ${{{name}}}",
    ),
    "unknown_function": ("不认识的函数 {name}()", "unknown function {name}()"),
    "function_arity": (
        "函数 {name}() 需要 {expected} 个参数，实际给了 {given} 个",
        "function {name}() takes {expected} arguments, {given} given",
    ),
    "bad_regex": ("正则表达式无效：{reason}", "invalid regular expression: {reason}"),
    "current_outside_constraint": (
        "“.”只能用在约束条件中",
        "'.' may only be used in a constraint",
    ),
    "column_outside_choice_filter": (
        "裸名称“{name}”只能用在 choice_filter 中（题目引用请写 ${{{name}}}）",
        "bare name '{name}' is only allowed in choice_filter (write ${{{name}}} for a field)",
    ),
    "calculation_cycle": (
        "计算或显示条件形成循环：{cycle}",
        "calculations or relevance conditions form a cycle: {cycle}",
    ),
}


@dataclass(frozen=True, slots=True)
class Location:
    """Where something is in a definition: a YAML file line or a workbook sheet/row, plus field and column."""

    file: str = ""
    line: int | None = None
    sheet: str | None = None
    field: str | None = None
    column: str | None = None

    def with_(self, **changes: Any) -> Location:
        return dataclasses.replace(self, **changes)

    def __str__(self) -> str:
        parts = [self.file or "<form>"]
        if self.sheet:
            parts.append(f"sheet {self.sheet}")
        if self.line is not None:
            parts.append(f"row {self.line}" if self.sheet else f"line {self.line}")
        if self.field:
            parts.append(f"field {self.field}")
        if self.column:
            parts.append(f"column {self.column}")
        return ", ".join(parts)


@dataclass(frozen=True, slots=True)
class FormError:
    code: str
    location: Location
    params: tuple[tuple[str, str], ...] = field(default=())

    @classmethod
    def make(cls, code: str, location: Location, **params: object) -> FormError:
        if code not in CATALOGUE:
            raise KeyError(f"unknown error code {code}")
        return cls(code, location, tuple((k, str(v)) for k, v in params.items()))

    @property
    def message_zh(self) -> str:
        return CATALOGUE[self.code][0].format(**dict(self.params))

    @property
    def message_en(self) -> str:
        return CATALOGUE[self.code][1].format(**dict(self.params))

    def __str__(self) -> str:
        return f"{self.location}: [{self.code}] {self.message_zh} / {self.message_en}"


class FormDefinitionError(Exception):
    """Raised by the loaders with every error found in one definition."""

    def __init__(self, errors: list[FormError]) -> None:
        super().__init__("\n".join(str(e) for e in errors))
        self.errors = errors


class BilingualError(Exception):
    """Something refused whole: a machine `code`, and the reason in Chinese and English (files carried by
    hand: USB bundles, enrollment files)."""

    def __init__(self, code: str, message_zh: str, message_en: str) -> None:
        super().__init__(f"{message_zh} / {message_en}")
        self.code = code
        self.message_zh = message_zh
        self.message_en = message_en
