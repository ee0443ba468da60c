"""The UI language and the words the whole UI shares: record statuses, hazard statuses, periods.

The language is chosen at start (settings table, default zh_CN) and changes after a restart, so widgets read
it once. Form texts (titles, choice labels) come from the form definitions in the chosen language; every other
string is a Chinese source string translated by Qt (client/i18n/school_client_<lang>.qm).
"""

from __future__ import annotations

import datetime as dt

from PySide6.QtCore import QCoreApplication, QLocale
from PySide6.QtGui import QColor

from client.store.models import Status
from forms.model import FormDef, Period
from forms.text import Text

DEFAULT_LANGUAGE = "zh_CN"
LANGUAGES = ("zh_CN", "en")
SETTING_KEY = "language"

_current = DEFAULT_LANGUAGE


def set_language(code: str) -> None:
    global _current
    _current = code if code in LANGUAGES else DEFAULT_LANGUAGE


def language() -> str:
    return _current


def qlocale() -> QLocale:
    """The locale Qt's widgets use for the UI language (Chinese: month and day names, Monday first)."""
    if _current == "en":
        return QLocale(QLocale.Language.English, QLocale.Country.UnitedStates)
    return QLocale(QLocale.Language.Chinese, QLocale.Country.China)


def form_language() -> str:
    """The language code used inside form definitions (zh, en)."""
    return "en" if _current == "en" else "zh"


def text(value: Text) -> str:
    return value.get(form_language())


def form_title(form: FormDef) -> str:
    return text(form.settings.title)


def choice_label(form: FormDef, list_name: str, name: str | None) -> str:
    if not name:
        return ""
    try:
        choice = form.choice_list(list_name).get(name)
    except KeyError:
        return name
    return text(choice.label) if choice is not None else name


def QT_TRANSLATE_NOOP(context: str, source: str) -> str:
    """Marks a string for translation (pyside6-lupdate finds it by this name); translated when shown."""
    return source


def translated(context: str, source: str) -> str:
    """A string marked with QT_TRANSLATE_NOOP, in the UI language."""
    return QCoreApplication.translate(context, source)


# Record statuses, in the order a record lives through them.
_STATUS_WORDS: dict[str, str] = {
    Status.DRAFT: QT_TRANSLATE_NOOP("Status", "草稿"),
    Status.SUBMITTED: QT_TRANSLATE_NOOP("Status", "待发送"),
    Status.RECEIVED: QT_TRANSLATE_NOOP("Status", "已送达"),
    Status.RETURNED: QT_TRANSLATE_NOOP("Status", "已退回"),
    Status.ACCEPTED: QT_TRANSLATE_NOOP("Status", "已确认"),
}

_STATUS_COLOURS = {
    Status.DRAFT: "#6b6b6b",
    Status.SUBMITTED: "#b35c00",
    Status.RECEIVED: "#1f5fa8",
    Status.RETURNED: "#c62828",
    Status.ACCEPTED: "#2e7d32",
}


def status_label(status: str) -> str:
    source = _STATUS_WORDS.get(status)
    return translated("Status", source) if source else status


def status_colour(status: str) -> QColor:
    return QColor(_STATUS_COLOURS.get(status, "#000000"))


OVERDUE_COLOUR = "#c62828"
OVERDUE_BACKGROUND = "#fdecea"
DONE_COLOUR = "#2e7d32"
DUE_COLOUR = "#b35c00"


def period_word(period: Period) -> str:
    """本月 / this month ..."""
    words: dict[Period, str] = {
        Period.DAILY: QT_TRANSLATE_NOOP("Period", "今天"),
        Period.WEEKLY: QT_TRANSLATE_NOOP("Period", "本周"),
        Period.MONTHLY: QT_TRANSLATE_NOOP("Period", "本月"),
        Period.SEMESTER: QT_TRANSLATE_NOOP("Period", "本学期"),
        Period.YEARLY: QT_TRANSLATE_NOOP("Period", "本年度"),
    }
    source = words.get(period)
    return translated("Period", source) if source else ""


def period_span(start: dt.date, end: dt.date) -> str:
    """The dates a period covers, e.g. 11月1日–11月30日 / Nov 1 – Nov 30."""
    fmt = QCoreApplication.translate("Period", "{m}月{d}日")
    months = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

    def one(day: dt.date) -> str:
        return fmt.format(m=day.month, d=day.day, mon=months[day.month - 1])

    return f"{one(start)}–{one(end)}"


def format_date(value: str | dt.date | None) -> str:
    if value is None:
        return ""
    return value.isoformat() if isinstance(value, dt.date) else value


def format_datetime(value: dt.datetime | None) -> str:
    """Stored times are naive UTC; show them in the PC's local time."""
    if value is None:
        return ""
    local = value.replace(tzinfo=dt.UTC).astimezone()
    return local.strftime("%Y-%m-%d %H:%M")
