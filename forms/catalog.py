"""The set of forms a deployment uses: every definition in a folder (by default, the shipped ones)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from forms.errors import FormDefinitionError, FormError, Location
from forms.loader import DEFAULT_REFERENCES, load_yaml
from forms.model import FormDef

DEFINITIONS_DIR = Path(__file__).resolve().parent / "definitions"
FORM_SUFFIXES = (".yaml", ".yml", ".xlsx")


@dataclass
class CheckResult:
    path: Path
    form: FormDef | None
    errors: list[FormError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def definition_files(folder: Path = DEFINITIONS_DIR) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in FORM_SUFFIXES)


def load_file(path: Path, *, references: Iterable[str] = DEFAULT_REFERENCES) -> CheckResult:
    """Load one definition (.yaml, or an XLSForm .xlsx / .xls / .csv), collecting its errors instead of
    raising."""
    try:
        if path.suffix.lower() in (".xlsx", ".xlsm", ".xls", ".csv"):
            from forms.xlsform import read_xlsform

            result = read_xlsform(path, references=references)
            return CheckResult(path, result.form, warnings=result.warnings)
        return CheckResult(path, load_yaml(path, references=references))
    except FormDefinitionError as exc:
        return CheckResult(path, None, exc.errors)


def check_files(paths: Iterable[Path]) -> list[CheckResult]:
    paths = list(paths)
    results = [load_file(p) for p in paths]
    seen: dict[str, Path] = {}
    for r in results:
        if r.form is None:
            continue
        first = seen.setdefault(r.form.form_id, r.path)
        if first != r.path:
            r.errors.append(
                FormError.make(
                    "duplicate_name",
                    Location(file=str(r.path), column="form_id"),
                    name=r.form.form_id,
                    first=first,
                )
            )
            r.form = None
    return results


def load_catalog(folder: Path = DEFINITIONS_DIR) -> dict[str, FormDef]:
    """form_id -> FormDef for every definition in the folder; FormDefinitionError if any is bad."""
    results = check_files(definition_files(folder))
    errors = [e for r in results for e in r.errors]
    if errors:
        raise FormDefinitionError(errors)
    return {r.form.form_id: r.form for r in results if r.form is not None}
