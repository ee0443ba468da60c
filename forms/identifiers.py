"""The safe syntax of the identifiers that reach a URL, a file name or a spreadsheet (docs/forms.md).

Form ids, form versions and school codes travel as URL path segments (/api/v1/forms/<form_id>/<version>, the
dashboard), go into file names (exports, a form's file) and into cells and sheets (the `_meta` sheet, the
consolidated export). Field names are column headers and JSON keys. Each has one syntax, checked where it
comes in: importing a form (the forms loader, so YAML and XLSForm alike), publishing it (the server's CLI,
dashboard upload and shipped forms all load through the loader), and adding a school.

Every rule is ASCII, starts with a letter or a digit and allows only letters, digits and a few of `_ - .`:
- no `/ \\ % ? # &`, space or control character: the value is one URL path segment as it is, and a file name
  on Windows and Linux;
- never a leading `= + - @` (a spreadsheet formula), `.` (a hidden file, `..`) or `_`;
- a length that fits the database columns.

    form id      letter, then letters, digits, _ or -          at most 64    safety_inspection
    version      letter or digit, then letters, digits, . _ -  at most 32    2026.1, 2026-11, v3
    school code  letter or digit, then letters, digits, _ or - at most 32    S001, 430521-01
    field name   letter, then letters, digits or _                           hazard_count

Values made before these rules (a version `2026/1` already in a server's database) are still served and can
be withdrawn: clients quote every path segment they put in a URL (`quote_segment`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote


@dataclass(frozen=True, slots=True)
class IdentifierRule:
    """One kind of identifier: its name (as a settings key or API field), pattern and the rule in words."""

    key: str
    label_zh: str
    pattern: re.Pattern[str]
    max_length: int | None  # None: no limit of its own
    rule_zh: str
    rule_en: str

    def is_valid(self, value: object) -> bool:
        return (
            isinstance(value, str)
            and (self.max_length is None or len(value) <= self.max_length)
            and self.pattern.fullmatch(value) is not None
        )

    def problem(self, value: object) -> IdentifierError | None:
        """None for a valid value, else the error saying which rule it breaks."""
        return None if self.is_valid(value) else IdentifierError(self, value)

    def check(self, value: object) -> str:
        """The value, or IdentifierError."""
        error = self.problem(value)
        if error is not None:
            raise error
        assert isinstance(value, str)
        return value


class IdentifierError(ValueError):
    """A value that breaks its identifier rule; the messages name the field, the value and the rule."""

    def __init__(self, rule: IdentifierRule, value: object) -> None:
        self.rule = rule
        self.value = value
        shown = shown_value(value)
        self.message_zh = f"{rule.label_zh}（{rule.key}）“{shown}”无效：{rule.rule_zh}"
        self.message_en = f"invalid {rule.key} '{shown}': {rule.rule_en}"
        super().__init__(f"{self.message_zh} / {self.message_en}")


def shown_value(value: object, limit: int = 80) -> str:
    """A value as an error message may show it: control characters escaped, long values cut."""
    text = value if isinstance(value, str) else repr(value)
    text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


FORM_ID = IdentifierRule(
    key="form_id",
    label_zh="表单编号",
    pattern=re.compile(r"[A-Za-z][A-Za-z0-9_-]*", re.ASCII),
    max_length=64,
    rule_zh="应以英文字母开头，只含英文字母、数字、下划线和连字符（-），最多 64 个字符",
    rule_en="start with a letter; only letters, digits, '_' and '-'; at most 64 characters",
)

FORM_VERSION = IdentifierRule(
    key="version",
    label_zh="版本号",
    pattern=re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*", re.ASCII),
    max_length=32,
    rule_zh="应以英文字母或数字开头，只含英文字母、数字、点、下划线和连字符（如 2026.1、2026-11），"
    "不能有斜杠、空格或其他符号，最多 32 个字符",
    rule_en="start with a letter or digit; only letters, digits, '.', '_' and '-' (e.g. 2026.1, "
    "2026-11), no slash, space or other sign; at most 32 characters",
)

SCHOOL_CODE = IdentifierRule(
    key="school_code",
    label_zh="学校代码",
    pattern=re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*", re.ASCII),
    max_length=32,
    rule_zh="应以英文字母或数字开头，只含英文字母、数字、下划线和连字符，最多 32 个字符",
    rule_en="start with a letter or digit; only letters, digits, '_' and '-'; at most 32 characters",
)

# The loader's NAME_RE (field and choice-list names; its own error code, invalid_name): a JSON key and a
# column header, never a URL segment or a sheet title (sheet titles are made from labels).
FIELD_NAME = IdentifierRule(
    key="name",
    label_zh="名称",
    pattern=re.compile(r"[A-Za-z][A-Za-z0-9_]*", re.ASCII),
    max_length=None,
    rule_zh="应以英文字母开头，只含英文字母、数字和下划线",
    rule_en="start with a letter; only letters, digits and '_'",
)


def quote_segment(value: str) -> str:
    """One URL path segment: every byte outside unreserved characters percent-encoded, `/` included; a
    segment that is all dots (`.`, `..`) encoded too, so that no URL library takes it for a dot segment."""
    if value and value.strip(".") == "":
        return "%2E" * len(value)
    return quote(value, safe="")


def error_params(rule: IdentifierRule, value: object) -> dict[str, str]:
    """The params of the forms error catalogue's `invalid_identifier` for this value."""
    return {
        "key": rule.key,
        "label_zh": rule.label_zh,
        "value": shown_value(value),
        "rule_zh": rule.rule_zh,
        "rule_en": rule.rule_en,
    }
