"""Enrollment by file (issue 13 item 1, protocol revision 1.15), the bureau's side.

- write_file: a new device of the school and a file carrying it (what an online enrollment gives, and the first
  pull as a sealed USB answer bundle), sealed under a fresh one-time code. `sync-server enrollment-file` and
  学校与设备 call it and show the code once; the server keeps neither the code nor the token.
- file_token: called by the API for every device token (sync_server.api.authenticate): the token of a computer
  enrolled by file names its installation; the first one heard from is bound, any other refused.
- bind_bundle: the same for a USB bundle, by the installation id in its header (forms.usb_installation), to be
  called by the bureau's USB import once the bundle opened with the device's key.

    written = write_file(state, school_code="S001", server_url="https://10.1.2.3:8700", fingerprint=None,
                         actor="cli")
    Path(out, written.file_name).write_bytes(written.data); print(written.code)
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import urlsplit

from forms import enrollment_file as EF
from forms import usb_bundle as U
from sync_server.errors import ServiceError
from sync_server.services import enrollment_files as files
from sync_server.services import generation
from sync_server.services.common import sha256_hex
from sync_server.services.pin_reset import encoded_reset_key
from sync_server.services.schools import DeviceInfo, revoke_device
from sync_server.state import ServerState
from sync_server.usb import SERVER_APP
from sync_server.usb import _pull as pull_pages

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Written:
    data: bytes
    file_name: str
    code: str  # shown once; the server keeps it nowhere
    file_id: str
    device_id: str
    school_code: str
    school_name: str


def write_file(
    state: ServerState,
    *,
    school_code: str,
    server_url: str,
    fingerprint: str | None,
    actor: str,
    kdf_n: int = EF.SCRYPT_N,
) -> Written:
    """Make the school's next device and its enrollment file. ServiceError (404 unknown_school) when there is
    no such school; nothing is kept then."""
    address = urlsplit(server_url.strip())
    if address.scheme not in ("http", "https") or not address.netloc:
        raise ServiceError(
            "bad_server_url",
            f"服务器地址“{server_url}”不对：应如 https://10.1.2.3:8700",
            f"the server address '{server_url}' is not one: e.g. https://10.1.2.3:8700",
            details={"field": "server"},
        )
    secret = str(state.config["SECRET_KEY"])
    now = state.now()
    with state.db.ReadSession.begin() as s:
        school = files.school_for_file(s, school_code)
        school_id, code_of_school, name = school.id, school.code, school.name
    device_id = str(uuid.uuid4())
    token = EF.new_file_token(device_id)
    key = U.device_key(secret, device_id)
    # The first pull, as an online enrollment's first sync would read it: forms, roster, the school's records.
    device = DeviceInfo(device_id, school_id, code_of_school, name, "", "", now, None, None)
    standing = generation.check(
        state.db.Session,
        state.db.ReadSession,
        device_id=device_id,
        school_id=school_id,
        claimed=None,
        cursor=0,
        now=now,
    )
    assert isinstance(
        standing, generation.Standing
    )  # a device that claims nothing is never restarted
    pages, forms = pull_pages(state, device, standing, since=0, params={})
    answer_header = replace(  # a bundle in one sealed file (format 1), which every client reads
        U.new_header(
            kind=U.TO_SCHOOL,
            school_code=code_of_school,
            device_id=device_id,
            app_version=SERVER_APP,
            now=now,
        ),
        format=U.FORMAT,
    )
    answer = U.seal(
        answer_header,
        {
            "push": [],
            "pull": {"since": 0, "pages": pages},
            "forms": forms,
            "pin_reset_key": encoded_reset_key(secret, device_id),
            "usb_key": U.encode_key(key),
        },
        key,
    )
    header = EF.new_header(school_code=code_of_school, school_name=name, now=now, n=kdf_n)
    payload = {
        "server_url": server_url,
        "fingerprint": fingerprint,
        "device_id": device_id,
        "token": token,
        "school": {"code": code_of_school, "name": name},
        "pin_reset_key": encoded_reset_key(secret, device_id),
        "usb_key": U.encode_key(key),
        "answer": U.b64(answer),
    }
    code = EF.new_code()
    data = EF.seal(header, payload, code)
    with state.db.Session.begin() as s:
        files.add_file_device(
            s,
            school=files.school_for_file(s, code_of_school),
            device_id=device_id,
            file_id=header.file_id,
            token=token,
            now=now,
            actor=actor,
        )
    log.info("enrollment file %s written for school %s", header.file_id, code_of_school)
    return Written(
        data, EF.file_name(header), code, header.file_id, device_id, code_of_school, name
    )


def _bind(
    state: ServerState,
    device_id: str,
    installation_id: str | None,
    *,
    via: str,
    token_hash: str | None = None,
) -> None:
    with state.db.Session.begin() as s:
        bound = files.bind(
            s,
            device_id=device_id,
            installation_id=installation_id,
            via=via,
            now=state.now(),
            token_hash=token_hash,
        )
    if bound:
        log.info("enrollment file of device %s bound (%s)", device_id, via)


def file_token(state: ServerState, token: str) -> str:
    """The token to look up for a request's bearer token: a computer enrolled by file sends the file's token
    with its installation id; that computer is bound to the file if none was (ServiceError 403 if another
    was, or the file was revoked unused), and the file's token is returned. Any other token: unchanged."""
    parts = EF.split_installed_token(token)
    if parts is None:
        return token
    canonical, device_id, installation = parts
    _bind(state, device_id, installation, via=files.ONLINE, token_hash=sha256_hex(canonical))
    return canonical


def bind_bundle(
    state: ServerState, device_id: str, installation_id: str | None, token: object = None
) -> None:
    """For the bureau's USB import, once the bundle proved authentic with the device's key (its header is
    authenticated): a device enrolled by file is bound to the installation the header names
    (forms.usb_installation.bundle_installation), or the bundle is refused (ServiceError 403, nothing
    applied). A device enrolled online: nothing to do. `token`, the one the bundle carries (format 2): a
    computer that still holds the file's token while the device's token was rotated away is another
    computer, as online - even when an older bureau program left the file unbound."""
    parts = EF.split_installed_token(token) if isinstance(token, str) else None
    token_hash = sha256_hex(parts[0]) if parts is not None and parts[1] == device_id else None
    _bind(state, device_id, installation_id, via=files.USB, token_hash=token_hash)


def write_into(
    instance: Path, db_url: str, *, school_code: str, folder: Path, server_url: str | None
) -> tuple[Written, Path, str | None]:
    """`sync-server enrollment-file`: the server's own app on this instance and database (its secret key),
    the file written atomically into `folder`; (what was written, its path, the pinned fingerprint)."""
    from sync_server.app import create_app
    from sync_server.state import get_state
    from sync_server.tls import served_fingerprint

    if not folder.is_dir():
        raise ServiceError(
            "no_folder",
            f"找不到文件夹 {folder}（U盘是否已插好？）",
            f"no such folder: {folder} (is the stick plugged in?)",
            details={"field": "out"},
        )
    app = create_app({"INSTANCE_PATH": str(instance), "DATABASE_URL": db_url})
    state = get_state(app)
    try:
        with state.db.ReadSession.begin() as s:  # an unknown school is said first (before --server)
            files.school_for_file(s, school_code)
        address = server_url or app.config.get("PUBLIC_URL")
        if not address:
            raise ServiceError(
                "no_server_url",
                "请用 --server 给出学校电脑连接本服务器的地址（如 https://10.1.2.3:8700）",
                "give the address school computers reach this server at with --server "
                "(e.g. https://10.1.2.3:8700)",
                details={"field": "server"},
            )
        fingerprint = served_fingerprint(app.config, instance)
        written = write_file(
            state,
            school_code=school_code,
            server_url=str(address),
            fingerprint=fingerprint,
            actor="cli",
        )
        target = folder / written.file_name
        try:
            U.write_atomic(target, written.data)
        except (OSError, U.BundleError):
            # Not on the stick (full, pulled out): the file's device is revoked, no unused credential stays.
            with state.db.Session.begin() as s:
                revoke_device(s, written.device_id, now=state.now(), actor="cli")
            raise
    finally:
        state.db.close()
    return written, target, fingerprint
