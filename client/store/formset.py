"""The forms this client knows: the shipped definitions plus versions the bureau published later.

`latest` is what new records are made with: the newest version of each form that the bureau has not
withdrawn. Every version stays in `versions`, withdrawn ones too, so records made with them stay readable.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from forms.catalog import DEFINITIONS_DIR, load_catalog
from forms.model import FormDef, Period

ROSTER_FORM = "teachers"


@dataclass
class FormSet:
    latest: dict[str, FormDef]
    versions: dict[tuple[str, str], FormDef] = field(default_factory=dict)
    withdrawn: set[tuple[str, str]] = field(default_factory=set)  # (form_id, version)

    @classmethod
    def shipped(cls, folder: Path = DEFINITIONS_DIR) -> FormSet:
        forms = load_catalog(folder)
        return cls(forms, {(f.form_id, f.version): f for f in forms.values()})

    def get(self, form_id: str, version: str | None = None) -> FormDef:
        if version is not None:
            found = self.versions.get((form_id, version))
            if found is not None:
                return found
        return self.latest[form_id]

    def add(self, form: FormDef) -> None:
        key = (form.form_id, form.version)
        self.versions[key] = form
        if key in self.withdrawn:
            return
        current = self.latest.get(form.form_id)
        if current is None or _version_key(form.version) >= _version_key(current.version):
            self.latest[form.form_id] = form

    def withdraw(self, form_id: str, version: str) -> None:
        """The bureau withdrew this version: new records use the newest version left (none: the form is no
        longer offered for new records)."""
        self.withdrawn.add((form_id, version))
        left = [
            f
            for (fid, v), f in self.versions.items()
            if fid == form_id and (fid, v) not in self.withdrawn
        ]
        if left:
            self.latest[form_id] = max(left, key=lambda f: _version_key(f.version))
        else:
            self.latest.pop(form_id, None)

    def copy(self) -> FormSet:
        return FormSet(dict(self.latest), dict(self.versions), set(self.withdrawn))

    def adopt(self, other: FormSet) -> None:
        """Take `other`'s forms (a copy changed by a sync), each mapping swapped whole: a reader in another
        thread sees the old or the new one, never one changing under it."""
        self.latest, self.versions, self.withdrawn = other.latest, other.versions, other.withdrawn

    def data_forms(self) -> list[FormDef]:
        """The forms clerks fill in (the roster is edited on its own page), in a stable order."""
        order = [
            "safety_inspection",
            "after_school_service",
            "teacher_ethics",
            "dropout_followup",
            "school_conditions",
        ]
        forms = [f for f in self.latest.values() if f.form_id != ROSTER_FORM]
        return sorted(
            forms, key=lambda f: (order.index(f.form_id) if f.form_id in order else 99, f.form_id)
        )

    def periodic(self) -> list[FormDef]:
        return [f for f in self.data_forms() if f.settings.period is not Period.NONE]


def _version_key(version: str) -> tuple[tuple[int, str], ...]:
    return tuple(
        (int(p), "") if p.isdigit() else (-1, p) for p in version.replace("-", ".").split(".")
    )
