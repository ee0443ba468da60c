"""The typed form model: frozen, slotted dataclasses made by the loaders from YAML or XLSForm."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from forms.errors import Location
from forms.expr.ast import Expr
from forms.text import Text


class FieldType(StrEnum):
    TEXT = "text"
    INTEGER = "integer"
    DECIMAL = "decimal"
    DATE = "date"
    TIME = "time"
    DATETIME = "datetime"
    SELECT_ONE = "select_one"
    SELECT_MULTIPLE = "select_multiple"
    NOTE = "note"
    CALCULATE = "calculate"
    IMAGE = "image"
    FILE = "file"
    GROUP = "group"
    REPEAT = "repeat"


INPUT_TYPES = frozenset(
    {
        FieldType.TEXT,
        FieldType.INTEGER,
        FieldType.DECIMAL,
        FieldType.DATE,
        FieldType.TIME,
        FieldType.DATETIME,
        FieldType.SELECT_ONE,
        FieldType.SELECT_MULTIPLE,
        FieldType.IMAGE,
        FieldType.FILE,
    }
)
SELECT_TYPES = frozenset({FieldType.SELECT_ONE, FieldType.SELECT_MULTIPLE})
CONTAINER_TYPES = frozenset({FieldType.GROUP, FieldType.REPEAT})


class Period(StrEnum):
    NONE = "none"
    DAILY = "daily"
    WEEKLY = "weekly"
    MONTHLY = "monthly"
    SEMESTER = "semester"
    YEARLY = "yearly"


@dataclass(frozen=True, slots=True)
class Expression:
    """An expression as written (kept verbatim for lossless round trips) and its parsed tree."""

    source: str
    tree: Expr


@dataclass(frozen=True, slots=True)
class Choice:
    name: str
    label: Text
    extra: tuple[tuple[str, str], ...] = ()  # further columns, for choice_filter

    def column(self, name: str) -> str:
        if name == "name":
            return self.name
        for k, v in self.extra:
            if k == name:
                return v
        return ""


@dataclass(frozen=True, slots=True)
class ChoiceList:
    name: str
    choices: tuple[Choice, ...]

    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.choices)

    def get(self, name: str) -> Choice | None:
        for c in self.choices:
            if c.name == name:
                return c
        return None


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    type: FieldType
    label: Text = Text()
    hint: Text = Text()
    required: bool | Expression = False
    required_message: Text = Text()
    constraint: Expression | None = None
    constraint_message: Text = Text()
    relevant: Expression | None = None
    calculation: Expression | None = None
    default: str | None = None
    choice_filter: Expression | None = None
    appearance: str | None = None
    read_only: bool | Expression = False
    list_name: str | None = None  # choice list of a select
    reference: str | None = None  # reference list (e.g. the teacher roster) of a select
    children: tuple[Field, ...] = ()
    min_count: int | None = None
    max_count: int | None = None
    location: Location = field(default=Location(), compare=False, repr=False)

    @property
    def is_container(self) -> bool:
        return self.type in CONTAINER_TYPES

    @property
    def is_select(self) -> bool:
        return self.type in SELECT_TYPES

    @property
    def holds_answer(self) -> bool:
        return self.type in INPUT_TYPES or self.type is FieldType.CALCULATE

    def walk(self) -> list[Field]:
        out: list[Field] = [self]
        for child in self.children:
            out.extend(child.walk())
        return out


@dataclass(frozen=True, slots=True)
class Settings:
    form_id: str
    version: str
    title: Text
    period: Period = Period.NONE
    period_field: str | None = None  # the date or select that places a record in its period
    sensitive: bool = False
    default_language: str = "zh"
    reference_value: str | None = None  # a reference list form: its key field ...
    reference_label: str | None = None  # ... and the field shown as the label


@dataclass(frozen=True, slots=True)
class FormDef:
    settings: Settings
    fields: tuple[Field, ...]
    choices: tuple[ChoiceList, ...] = ()
    source: str = field(default="", compare=False, repr=False)

    @property
    def form_id(self) -> str:
        return self.settings.form_id

    @property
    def version(self) -> str:
        return self.settings.version

    @property
    def title(self) -> Text:
        return self.settings.title

    def all_fields(self) -> list[Field]:
        out: list[Field] = []
        for f in self.fields:
            out.extend(f.walk())
        return out

    def field(self, name: str) -> Field:
        for f in self.all_fields():
            if f.name == name:
                return f
        raise KeyError(name)

    def choice_list(self, name: str) -> ChoiceList:
        for c in self.choices:
            if c.name == name:
                return c
        raise KeyError(name)

    def languages(self) -> list[str]:
        langs: set[str] = set(self.settings.title.languages())
        for f in self.all_fields():
            for t in (f.label, f.hint, f.constraint_message, f.required_message):
                langs.update(t.languages())
        for cl in self.choices:
            for c in cl.choices:
                langs.update(c.label.languages())
        default = self.settings.default_language
        return [default, *sorted(langs - {default})]
