"""Form versions from the bureau: fetched, read within limits, stored, withdrawn; and the keys of the PULL
issues that keep a pulled item this client could not apply.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from client.store.formset import FormSet
from client.store.issues import IssueKind, open_issues
from client.store.models import (
    FormVersion,
    SyncIssue,
)
from client.store.prefs import get_setting, set_setting
from forms.errors import FormDefinitionError
from forms.loader import load_yaml_text
from forms.model import FormDef

log = logging.getLogger(__name__)


def _iso(value: dt.datetime) -> str:
    return value.isoformat(timespec="seconds")


K_WITHDRAWN = "sync.withdrawn_forms"  # [[form_id, version], ...] the bureau withdrew
# A form version from the server, as UTF-8 (the shipped ones are under 8 KB).
MAX_FORM_DEFINITION_BYTES = 1024 * 1024
# When a PULL issue's item is tried again: at the end of every sync, or (a form version this program could
# not use: the server's text never changes) once this program was updated.
RETRY_EVERY_SYNC = "every_sync"
RETRY_NEW_CLIENT = "new_client"


@dataclass(frozen=True)
class FetchedForm:
    """A form version from the server, read and checked, ready to store."""

    form_id: str
    version: str
    definition: str
    sha256: str
    form: FormDef


@dataclass(frozen=True)
class UnusableForm:
    """A form version this client could not fetch, read or use; `retry` says when it is tried again."""

    form_id: str
    version: str
    sha256: str
    reason: str
    message_zh: str
    message_en: str
    retry: str = RETRY_EVERY_SYNC


class PullItemError(Exception):
    """One pulled item cannot be applied; the sync keeps it as a PULL issue and goes on."""

    def __init__(self, reason: str, message_zh: str, message_en: str) -> None:
        super().__init__(f"{message_zh} / {message_en}")
        self.reason = reason
        self.message_zh = message_zh
        self.message_en = message_en


# A FormDef never changes once made: its sha256 is written once (each sync compared every shipped form's
# with the server's, writing its YAML again - ~25 ms a form, issue 14). Keyed by id, the form kept alive.
_SHA256: dict[int, tuple[FormDef, str]] = {}


def canonical_sha256(form: FormDef) -> str:
    """The server's sha256 of a form version: of its canonical YAML (forms.serialize.to_yaml)."""
    known = _SHA256.get(id(form))
    if known is not None and known[0] is form:
        return known[1]
    import hashlib

    from forms.serialize import to_yaml

    sha = hashlib.sha256(to_yaml(form).encode("utf-8")).hexdigest()
    if len(_SHA256) > 1000:  # forms made over and over (tests, imports): forget the old ones
        _SHA256.clear()
    _SHA256[id(form)] = (form, sha)
    return sha


def read_form_definition(
    definition: str, *, form_id: str, version: str, sha256: str
) -> FetchedForm | UnusableForm:
    """Check a form version's text as the server sent it (or as stored): its size first (nothing bigger is
    parsed), then the forms loader with its own limits, then that it is the version announced."""
    size = len(definition.encode("utf-8", "surrogatepass"))
    if size > MAX_FORM_DEFINITION_BYTES:
        return UnusableForm(
            form_id,
            version,
            sha256,
            "form_too_large",
            f"定义太大（{size // 1024} KB，最多 {MAX_FORM_DEFINITION_BYTES // 1024} KB）",
            f"its definition is too large ({size // 1024} KB, at most "
            f"{MAX_FORM_DEFINITION_BYTES // 1024} KB)",
            RETRY_NEW_CLIENT,
        )
    try:
        # Published by the server, which checked the identifiers then (an older version may predate them).
        form = load_yaml_text(definition, file=f"{form_id}-{version}.yaml", check_identifiers=False)
    except FormDefinitionError as exc:
        first = exc.errors[0] if exc.errors else None
        return UnusableForm(
            form_id,
            version,
            sha256,
            "form_refused",
            f"本程序读不懂它的定义（{first.location}：{first.message_zh}）"
            if first
            else "本程序读不懂它的定义",
            f"this program cannot read its definition ({first.location}: {first.message_en})"
            if first
            else "this program cannot read its definition",
            RETRY_NEW_CLIENT,
        )
    except (RecursionError, ValueError, TypeError) as exc:
        return UnusableForm(
            form_id,
            version,
            sha256,
            "form_refused",
            f"本程序读不懂它的定义（{type(exc).__name__}）",
            f"this program cannot read its definition ({type(exc).__name__})",
            RETRY_NEW_CLIENT,
        )
    if (form.form_id, form.version) != (form_id, version):
        return UnusableForm(
            form_id,
            version,
            sha256,
            "form_mismatch",
            f"服务器发来的定义是 {form.form_id} 版本 {form.version}，不是所宣布的版本",
            f"the definition sent is {form.form_id} version {form.version}, not the version announced",
        )
    return FetchedForm(form_id, version, definition, sha256, form)


def forms_to_fetch(
    session: Session, formset: FormSet, announced: Iterable[Mapping[str, Any]]
) -> list[tuple[str, str, str]]:
    """(form_id, version, sha256) of announced form versions this client does not hold yet."""
    out: list[tuple[str, str, str]] = []
    for f in announced:
        form_id, version = str(f.get("form_id") or ""), str(f.get("version") or "")
        sha = str(f.get("sha256") or "")
        if not form_id or not version:
            continue  # a malformed item: apply_pull_page keeps it as a problem
        row = session.get(FormVersion, (form_id, version))
        if row is not None and (not sha or row.sha256 == sha):
            continue
        local = formset.versions.get((form_id, version))
        if row is None and local is not None and sha and canonical_sha256(local) == sha:
            continue  # a shipped definition, the same text as the server's
        if (form_id, version, sha) not in out:
            out.append((form_id, version, sha))
    return out


def store_form_version(
    session: Session, formset: FormSet, fetched: FetchedForm, *, now: dt.datetime
) -> FormDef:
    """Keep a published form version (its YAML, already read by read_form_definition) and add it to the
    forms this client knows. Only definitions this client can use are stored: none is re-read in vain at
    every start."""
    row = session.get(FormVersion, (fetched.form_id, fetched.version))
    if row is None:
        session.add(
            FormVersion(
                form_id=fetched.form_id,
                version=fetched.version,
                definition=fetched.definition,
                sha256=fetched.sha256,
                received_at=now,
            )
        )
    else:
        row.definition, row.sha256, row.received_at = fetched.definition, fetched.sha256, now
    session.flush()
    formset.add(fetched.form)
    return fetched.form


def withdrawn_versions(session: Session) -> set[tuple[str, str]]:
    value = get_setting(session, K_WITHDRAWN) or []
    return {(str(p[0]), str(p[1])) for p in value if isinstance(p, list) and len(p) == 2}


def withdraw_form_version(
    session: Session, formset: FormSet, *, form_id: str, version: str, now: dt.datetime
) -> int:
    """The bureau withdrew a version: new records use the newest version left; records made with it stay
    as they are (readable, and they sync). Returns the number of PULL issues it closes (its own)."""
    known = withdrawn_versions(session)
    if (form_id, version) not in known:
        set_setting(session, K_WITHDRAWN, sorted([list(k) for k in known | {(form_id, version)}]))
    formset.withdraw(form_id, version)
    return resolve_pull_issue(session, form_key(form_id, version), "withdrawn", now)


def load_stored_forms(session: Session, formset: FormSet) -> int:
    """Add the form versions the bureau published (kept in form_versions) to a FormSet, and take out the
    withdrawn ones; call at start-up. A stored definition that does not load (too large, or kept by an
    older version of this program) is skipped with a warning, never read past the size limit."""
    n = 0
    for row in session.execute(select(FormVersion).order_by(FormVersion.received_at)).scalars():
        read = read_form_definition(
            row.definition, form_id=row.form_id, version=row.version, sha256=row.sha256
        )
        if isinstance(read, UnusableForm):
            log.warning(
                "stored form %s %s does not load: %s", row.form_id, row.version, read.message_en
            )
            continue
        formset.add(read.form)
        n += 1
    for form_id, version in sorted(withdrawn_versions(session)):
        formset.withdraw(form_id, version)
    return n


def form_key(form_id: str, version: str) -> str:
    return f"form {form_id} {version}"


def record_key(record_id: str) -> str:
    return f"record {record_id}"


def open_pull_issues(session: Session) -> list[SyncIssue]:
    return open_issues(session, kind=IssueKind.PULL)


def open_pull_issue(session: Session, key: str) -> SyncIssue | None:
    return next((i for i in open_pull_issues(session) if i.details.get("key") == key), None)


def resolve_pull_issue(session: Session, key: str, resolution: str, now: dt.datetime) -> int:
    issue = open_pull_issue(session, key)
    if issue is None:
        return 0
    issue.resolved_at = now
    issue.resolution = resolution
    return 1


class UnusableFormError(PullItemError):
    def __init__(self, unusable: UnusableForm, title: str) -> None:
        when_zh, when_en = (
            (
                "请把本程序更新到最新版本，或请教育局撤回或改正此版本",
                "update this program, or ask the bureau to withdraw or correct this version",
            )
            if unusable.retry == RETRY_NEW_CLIENT
            else ("每次同步时会再试", "it is tried again at every sync")
        )
        super().__init__(
            unusable.reason,
            f"教育局发布的表单“{title}”版本 {unusable.version} 本机无法使用：{unusable.message_zh}。"
            f"其他表单和记录照常同步；{when_zh}",
            f"form {unusable.form_id} version {unusable.version} from the bureau cannot be used here: "
            f"{unusable.message_en}. Other forms and records sync as usual; {when_en}",
        )
        self.retry = unusable.retry
