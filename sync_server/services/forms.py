"""Published form versions: publishing (checked by the form engine), listing, and loading for validation.

A version is stored as canonical YAML (forms.serialize.to_yaml), so the same form published from its .yaml
or from an XLSForm .xlsx has the same text and sha256. A form_id + version is published once: the same
definition again changes nothing, a different definition under the same version is refused. Its form id and
version must follow forms/identifiers.py (they are URL segments, file names and cells).

A version can be withdrawn (a bad one, say): it is no longer offered in /api/v1/forms, a `form_withdrawn`
change tells every device to stop offering it for new records (they fall back to the newest version left), and
it is never published again under the same number. Its definition stays: records made with it stay readable,
and pushes of them are still accepted.
"""

from __future__ import annotations

import datetime as dt
import functools
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from forms.catalog import definition_files, load_file
from forms.errors import FormDefinitionError, FormError
from forms.identifiers import FORM_ID, FORM_VERSION, shown_value
from forms.loader import load_yaml_text
from forms.model import FormDef
from forms.serialize import to_yaml
from sync_server.errors import ServiceError
from sync_server.models import FormVersion
from sync_server.services.changes import NewChange, form_change, write_changes
from sync_server.services.common import audit, naive_utc, sha256_hex


class FormFileError(ServiceError):
    """A definition file the form engine refuses; `errors` carry their locations."""

    def __init__(self, path: Path, errors: list[FormError]) -> None:
        first = errors[0]
        more_zh = f"（共 {len(errors)} 处错误）" if len(errors) > 1 else ""
        more_en = f" ({len(errors)} errors)" if len(errors) > 1 else ""
        super().__init__(
            "form_invalid",
            f"{first.location}：{first.message_zh}{more_zh}",
            f"{first.location}: {first.message_en}{more_en}",
            details={
                "errors": [
                    {
                        "code": e.code,
                        "location": str(e.location),
                        "message_zh": e.message_zh,
                        "message_en": e.message_en,
                    }
                    for e in errors
                ]
            },
        )
        self.path = path
        self.errors = errors


def read_form_file(path: Path) -> FormDef:
    """A .yaml/.yml or XLSForm .xlsx definition, checked by the form engine."""
    if path.suffix.lower() not in (".yaml", ".yml", ".xlsx"):
        raise ServiceError(
            "bad_form_file",
            f"不支持的文件类型“{path.suffix}”：请给出 .yaml 或 .xlsx 表单文件",
            f"unsupported file type '{path.suffix}': give a .yaml or .xlsx form definition",
        )
    if not path.is_file():
        raise ServiceError("no_such_file", f"找不到文件 {path}", f"no such file: {path}")
    result = load_file(path)
    if result.form is None:
        raise FormFileError(path, result.errors)
    return result.form


@dataclass(frozen=True, slots=True)
class Published:
    form_id: str
    version: str
    sha256: str
    title_zh: str
    published: bool  # False: this exact version was already there


def canonical_definition(form: FormDef) -> str:
    return to_yaml(form)


def check_identifiers(form_id: str, version: str) -> None:
    """ServiceError (422 `bad_identifier`) for a form id or version outside forms/identifiers.py.

    The loader already refuses them in a file; this guards every other way a FormDef reaches publishing."""
    for rule, value in ((FORM_ID, form_id), (FORM_VERSION, version)):
        problem = rule.problem(value)
        if problem is not None:
            raise ServiceError(
                "bad_identifier",
                problem.message_zh,
                problem.message_en,
                details={"field": rule.key, "value": shown_value(value), "rule": rule.rule_en},
            )


def publish_form(
    session: Session,
    form: FormDef,
    *,
    now: dt.datetime,
    actor: str = "cli",
    changes: list[NewChange] | None = None,
    definition: str | None = None,
) -> Published:
    """Store a new version and write a `form` change for every school (or, given a `changes` list, add it
    there for the caller to write with services.changes.write_changes)."""
    check_identifiers(form.form_id, form.version)
    if definition is None:
        definition = canonical_definition(form)
    digest = sha256_hex(definition)
    FORM_CACHE.put(digest, form, definition)
    title = form.title.get("zh") or form.form_id
    existing = session.execute(
        select(FormVersion).where(
            FormVersion.form_id == form.form_id, FormVersion.version == form.version
        )
    ).scalar_one_or_none()
    if existing is not None:
        if existing.withdrawn_at is not None:
            raise ServiceError(
                "version_withdrawn",
                f"表单 {form.form_id} 的版本 {form.version} 已撤回，不能再次发布；请提高 settings 中的 version",
                f"form {form.form_id} version {form.version} was withdrawn and cannot be published "
                "again; raise settings.version",
                status=409,
                details={"form_id": form.form_id, "version": form.version},
            )
        if existing.sha256 == digest:
            return Published(form.form_id, form.version, digest, title, False)
        raise ServiceError(
            "version_exists",
            f"表单 {form.form_id} 的版本 {form.version} 已发布且内容不同；修改表单后请提高 settings 中的 version",
            f"form {form.form_id} version {form.version} is already published with a different "
            "definition; raise settings.version when you change a form",
            status=409,
            details={"form_id": form.form_id, "version": form.version},
        )
    fv = FormVersion(
        form_id=form.form_id,
        version=form.version,
        sha256=digest,
        title_zh=title[:200],
        published_at=naive_utc(now),
        definition=definition,
    )
    session.add(fv)
    session.flush()
    audit(
        session,
        now=now,
        actor=actor,
        action="form.publish",
        object_id=f"{form.form_id}/{form.version}",
        details={"sha256": digest},
    )
    change = form_change(fv)
    if changes is None:
        write_changes(session, [change], now=naive_utc(now))
    else:
        changes.append(change)
    return Published(form.form_id, form.version, digest, title, True)


def has_forms(session: Session) -> bool:
    return session.execute(select(func.count()).select_from(FormVersion)).scalar_one() > 0


def publish_shipped_forms(session: Session, *, now: dt.datetime) -> list[Published]:
    """Publish forms/definitions if no form was ever published (a fresh server)."""
    if has_forms(session):
        return []
    changes: list[NewChange] = []
    out = []
    for path in definition_files():
        form, definition = _load_shipped(path, path.stat().st_mtime_ns)
        out.append(
            publish_form(
                session, form, now=now, actor="startup", changes=changes, definition=definition
            )
        )
    write_changes(session, changes, now=naive_utc(now))
    return out


@functools.lru_cache(maxsize=32)
def _load_shipped(path: Path, _mtime_ns: int) -> tuple[FormDef, str]:
    result = load_file(path)
    if result.form is None:
        raise FormDefinitionError(result.errors)
    return result.form, canonical_definition(result.form)


def latest_forms(session: Session, *, include_withdrawn: bool = False) -> list[FormVersion]:
    """The most recently published version of each form, withdrawn versions left out.

    With `include_withdrawn`, a form whose every version was withdrawn is there too, by its newest version:
    its records are kept, so they are still listed, reviewed and exported with that definition."""
    live = func.max(case((FormVersion.withdrawn_at.is_(None), FormVersion.id)))
    chosen = func.coalesce(live, func.max(FormVersion.id)) if include_withdrawn else live
    newest = (
        select(FormVersion.form_id, chosen.label("id")).group_by(FormVersion.form_id).subquery()
    )
    return list(
        session.execute(
            select(FormVersion)
            .join(newest, newest.c.id == FormVersion.id)
            .order_by(FormVersion.form_id)
        ).scalars()
    )


def get_version(session: Session, form_id: str, version: str) -> FormVersion | None:
    """A published version, withdrawn or not (its records still need it)."""
    return session.execute(
        select(FormVersion).where(FormVersion.form_id == form_id, FormVersion.version == version)
    ).scalar_one_or_none()


def current_version(session: Session, form_id: str) -> FormVersion | None:
    """The version offered for new records: the most recently published one not withdrawn."""
    return session.execute(
        select(FormVersion)
        .where(FormVersion.form_id == form_id, FormVersion.withdrawn_at.is_(None))
        .order_by(FormVersion.id.desc())
        .limit(1)
    ).scalar_one_or_none()


@dataclass(frozen=True, slots=True)
class Withdrawal:
    form_id: str
    version: str
    title_zh: str
    withdrawn_at: dt.datetime
    withdrawn: bool  # False: it was withdrawn before, nothing changed
    current: (
        str | None
    )  # the version now offered for new records (None: no version of this form left)


def unknown_version(form_id: str, version: str) -> ServiceError:
    shown = shown_value(version)
    return ServiceError(
        "unknown_form",
        f"没有表单 {shown_value(form_id)} 的版本 {shown}",
        f"no form {shown_value(form_id)} version {shown}",
        status=404,
        details={"form_id": shown_value(form_id), "version": shown},
    )


def withdraw_form(
    session: Session,
    form_id: str,
    version: str,
    *,
    now: dt.datetime,
    actor: str = "cli",
    audit_details: dict[str, str] | None = None,
) -> Withdrawal:
    """Withdraw a published version: audited, and a `form_withdrawn` change for every school (written last,
    like every change). Withdrawing it again changes nothing. Any version can be withdrawn, one whose id
    breaks today's identifier rules included (that is what it is for)."""
    fv = get_version(session, form_id, version)
    if fv is None:
        raise unknown_version(form_id, version)
    if fv.withdrawn_at is not None:
        current = current_version(session, form_id)
        return Withdrawal(
            fv.form_id,
            fv.version,
            fv.title_zh,
            fv.withdrawn_at,
            False,
            current.version if current else None,
        )
    fv.withdrawn_at = naive_utc(now)
    fv.withdrawn_by = actor[:100]
    session.flush()
    current = current_version(session, form_id)
    audit(
        session,
        now=now,
        actor=actor,
        action="form.withdraw",
        object_id=f"{fv.form_id}/{fv.version}"[:100],
        details={
            "sha256": fv.sha256,
            "current": current.version if current else None,
            **(audit_details or {}),
        },
    )
    write_changes(session, [form_withdrawn_change(fv)], now=naive_utc(now))
    return Withdrawal(
        fv.form_id,
        fv.version,
        fv.title_zh,
        fv.withdrawn_at,
        True,
        current.version if current else None,
    )


def form_withdrawn_change(fv: FormVersion) -> NewChange:
    """What devices pull when a version is withdrawn (docs/protocol.md, "Withdrawn form versions")."""
    return NewChange(
        school_id=None,
        type="form_withdrawn",
        payload={
            "type": "form_withdrawn",
            "form_id": fv.form_id,
            "version": fv.version,
            "sha256": fv.sha256,
        },
    )


class FormCache:
    """Parsed FormDefs by sha256 (a published version never changes), thread-safe, bounded."""

    def __init__(self, size: int = 64) -> None:
        self._size = size
        self._lock = threading.Lock()
        self._forms: OrderedDict[str, FormDef] = OrderedDict()
        # What each FormDef was parsed from (sha256, definition text): sent to the form engine's worker
        # processes (services.check_pool), which parse it once themselves.
        self._sources: dict[int, tuple[FormDef, str, str]] = {}
        self._versions: dict[tuple[str, str], FormDef] = {}  # the last one put of each version

    def put(self, sha256: str, form: FormDef, definition: str | None = None) -> None:
        with self._lock:
            replaced = self._forms.get(sha256)
            if replaced is not None and replaced is not form:
                self._sources.pop(id(replaced), None)
            self._forms[sha256] = form
            self._forms.move_to_end(sha256)
            self._versions[(form.form_id, form.version)] = form
            while len(self._forms) > self._size:
                _, gone = self._forms.popitem(last=False)
                self._sources.pop(id(gone), None)
                if self._versions.get((gone.form_id, gone.version)) is gone:
                    del self._versions[(gone.form_id, gone.version)]
            if definition is not None:
                self._sources[id(form)] = (form, sha256, definition)

    def by_sha(self, sha256: str) -> FormDef | None:
        """The FormDef of a published text this cache holds, if any (no database read)."""
        with self._lock:
            form = self._forms.get(sha256)
            if form is not None:
                self._forms.move_to_end(sha256)
        return form

    def by_version(self, form_id: str, version: str) -> FormDef | None:
        """The FormDef of a version this cache holds (the last put), if any; whether it is the version the
        database holds is for the caller to check (a push uses it only if its transaction finds it)."""
        with self._lock:
            return self._versions.get((form_id, version))

    def source(self, form: FormDef) -> tuple[str, str] | None:
        """(sha256, definition text) of a FormDef this cache holds, if it knows them."""
        with self._lock:
            found = self._sources.get(id(form))
        return (found[1], found[2]) if found is not None and found[0] is form else None

    def get(self, fv: FormVersion) -> FormDef:
        with self._lock:
            form = self._forms.get(fv.sha256)
            if form is not None:
                self._forms.move_to_end(fv.sha256)
                return form
        # Published once, checked then: a version from before forms/identifiers.py still loads.
        form = load_yaml_text(
            fv.definition, file=f"{fv.form_id}@{fv.version}", check_identifiers=False
        )
        self.put(fv.sha256, form, fv.definition)
        return form

    def lookup(self, session: Session, form_id: str, version: str) -> FormDef | None:
        fv = get_version(session, form_id, version)
        return None if fv is None else self.get(fv)


FORM_CACHE = FormCache()
