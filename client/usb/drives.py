"""USB sticks (U盘) to offer for a USB sync, and whether one can take a bundle. No Qt.

- Windows: each drive letter whose GetDriveTypeW is DRIVE_REMOVABLE and which holds a medium, with its volume
  label, file system, free space and the read-only flag (ctypes, kernel32).
- Linux: mounts under /media, /run/media and /mnt whose block device is removable (/sys/block/<disk>/removable
  is 1, or the disk hangs off a USB bus), with the mount's file system and free space; a mount with `ro` is
  read-only. `root` is where / is (tests pass a made-up tree of proc/self/mounts, sys/block and mount folders).
- A folder chosen by hand (no stick found, or a stick the system does not call removable) is described the
  same way (`describe_folder`).

`room_problem` refuses early, before anything is written, when a stick is read-only or too small;
`probe_writable` proves a folder takes a file; `os_error` turns what the system said while writing or
reading a stick into a message the clerk can act on.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import re
import shutil
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

from forms.os_text import en_reason, zh_reason
from forms.usb_bundle import BundleError

log = logging.getLogger(__name__)

LINUX_MOUNT_ROOTS = ("media", "run/media", "mnt")
FAT32_LIMIT = 4 * 1024**3 - 1  # the largest file FAT32 holds
DRIVE_REMOVABLE = 2  # GetDriveTypeW
FILE_READ_ONLY_VOLUME = 0x00080000  # GetVolumeInformationW flags
SEM_FAILCRITICALERRORS = 0x0001  # no "insert a disk" box for an empty card reader
_OCTAL = re.compile(r"\\([0-7]{3})")
# Windows errors meaning the medium went away (ERROR_NOT_READY, ERROR_GEN_FAILURE, ERROR_DEV_NOT_EXIST,
# ERROR_DEVICE_NOT_CONNECTED, ERROR_NO_MEDIA_IN_DRIVE ...)
_GONE_WINERRORS = frozenset({21, 31, 55, 483, 1110, 1112, 1167})
_GONE_ERRNOS = frozenset({errno.ENOENT, errno.EIO, errno.ENODEV, errno.ENXIO, errno.ESHUTDOWN})
_READ_ONLY_ERRNOS = frozenset({errno.EROFS, errno.EACCES, errno.EPERM})


class DriveError(BundleError):
    """A stick that cannot take or give a bundle: the reason in Chinese and English."""


@dataclass(frozen=True)
class Drive:
    path: Path  # where files go: E:\\ or /media/clerk/KINGSTON
    label: str  # the volume label ("" when it has none)
    free: int  # bytes
    total: int  # bytes
    filesystem: str = ""  # FAT32, exFAT, NTFS / vfat, exfat, ntfs3 ...
    read_only: bool = False
    removable: bool = True  # False: a folder chosen by hand

    @property
    def fat32(self) -> bool:
        return self.filesystem.lower() in ("fat32", "vfat", "fat", "msdos")

    def name(self) -> str:
        """KINGSTON (E:) on Windows, KINGSTON elsewhere, the folder when it has no label."""
        if sys.platform == "win32" and len(self.path.drive) == 2:
            return f"{self.label} ({self.path.drive})" if self.label else f"({self.path.drive})"
        return self.label or str(self.path)


def size_text(n: int) -> str:
    """Bytes as Windows Explorer shows them (1024-based): 812 KB, 3.2 MB, 7.5 GB."""
    if n < 1024**2:
        return f"{max(0, n) / 1024:.0f} KB"
    if n < 1024**3:
        return f"{n / 1024**2:.1f} MB"
    return f"{n / 1024**3:.1f} GB"


# -- finding sticks ---------------------------------------------------------------------------------------


def removable_drives(*, root: Path | None = None) -> list[Drive]:
    """The removable drives plugged in now, in drive-letter or mount-point order. Never raises."""
    try:
        if root is None and sys.platform == "win32":
            return windows_drives()
        return linux_drives(root or Path("/"))
    except Exception:  # a stick being pulled out while it is looked at: show what could be read
        log.exception("could not list removable drives")
        return []


def windows_drives() -> list[Drive]:
    if sys.platform != "win32":
        return []
    import ctypes
    from ctypes import wintypes

    kernel32 = ctypes.windll.kernel32
    old_mode = kernel32.SetErrorMode(SEM_FAILCRITICALERRORS)
    try:
        found: list[Drive] = []
        mask = kernel32.GetLogicalDrives()
        for i in range(26):
            if not mask & (1 << i):
                continue
            root = f"{chr(ord('A') + i)}:\\"
            if kernel32.GetDriveTypeW(root) != DRIVE_REMOVABLE:
                continue
            label = ctypes.create_unicode_buffer(261)
            fs_name = ctypes.create_unicode_buffer(261)
            flags = wintypes.DWORD()
            if not kernel32.GetVolumeInformationW(
                root, label, 261, None, None, ctypes.byref(flags), fs_name, 261
            ):
                continue  # a card reader with no card
            free, total = ctypes.c_ulonglong(), ctypes.c_ulonglong()
            if not kernel32.GetDiskFreeSpaceExW(
                root, ctypes.byref(free), ctypes.byref(total), None
            ):
                continue
            found.append(
                Drive(
                    path=Path(root),
                    label=label.value,
                    free=int(free.value),
                    total=int(total.value),
                    filesystem=fs_name.value,
                    read_only=bool(flags.value & FILE_READ_ONLY_VOLUME),
                )
            )
        return found
    finally:
        kernel32.SetErrorMode(old_mode)


def _unescape(field: str) -> str:
    """/proc/self/mounts writes a space as \\040 (also tab, newline, backslash)."""
    return _OCTAL.sub(lambda m: chr(int(m.group(1), 8)), field)


def _mounts(root: Path) -> list[tuple[str, str, str, set[str]]]:
    """(device, mount point, file system, options) of each mount."""
    for name in ("proc/self/mounts", "proc/mounts", "etc/mtab"):
        table = root / name
        if table.is_file():
            break
    else:
        return []
    out = []
    for line in table.read_text("utf-8", errors="surrogateescape").splitlines():
        fields = line.split()
        if len(fields) >= 4:
            device, point, fstype, options = (_unescape(f) for f in fields[:4])
            out.append((device, point, fstype, set(options.split(","))))
    return out


def _under_mount_roots(point: str) -> bool:
    relative = point.strip("/")
    return any(relative.startswith(r + "/") for r in LINUX_MOUNT_ROOTS)


def _disk_of(root: Path, device: str) -> str | None:
    """The disk under /sys/block a device node belongs to: sdb for /dev/sdb1, mmcblk0 for /dev/mmcblk0p1."""
    node = root / device.lstrip("/")
    if node.is_symlink():  # /dev/disk/by-label/..., /dev/mapper/...
        node = Path(os.path.realpath(node))
    name = node.name
    blocks = root / "sys" / "block"
    if (blocks / name).exists():
        return name
    if blocks.is_dir():
        for disk in sorted(blocks.iterdir()):
            if (disk / name).is_dir():
                return disk.name
    return None


def _is_removable(root: Path, disk: str) -> bool:
    entry = root / "sys" / "block" / disk
    try:
        if (entry / "removable").read_text().strip() == "1":
            return True
    except OSError:
        pass
    # Many USB sticks and card readers say removable=0; the device path says where they hang.
    real = os.path.realpath(entry)
    return "/usb" in real[len(os.path.realpath(root)) :]


def linux_drives(root: Path) -> list[Drive]:
    found: list[Drive] = []
    seen: set[str] = set()
    for device, point, fstype, options in _mounts(root):
        if not device.startswith("/dev/") or not _under_mount_roots(point) or point in seen:
            continue
        disk = _disk_of(root, device)
        if disk is None or not _is_removable(root, disk):
            continue
        where = root / point.lstrip("/")
        try:
            usage = shutil.disk_usage(where)
        except OSError:
            continue  # unmounted meanwhile
        seen.add(point)
        found.append(
            Drive(
                path=where,
                label=Path(point).name,
                free=usage.free,
                total=usage.total,
                filesystem=fstype,
                read_only="ro" in options or not os.access(where, os.W_OK),
            )
        )
    return sorted(found, key=lambda d: str(d.path))


def describe_folder(folder: Path) -> Drive:
    """A folder chosen by hand, described as a drive (its file system's free space)."""
    usage = shutil.disk_usage(folder)
    return Drive(
        path=folder,
        label="",
        free=usage.free,
        total=usage.total,
        read_only=not os.access(folder, os.W_OK),
        removable=False,
    )


# -- can it take a bundle ---------------------------------------------------------------------------------


def room_problem(drive: Drive, needed: int) -> DriveError | None:
    """Why a bundle of about `needed` bytes cannot go onto this drive, or None."""
    where = drive.name()
    if drive.read_only:
        return DriveError(
            "stick_read_only",
            f"U盘“{where}”是只读的，不能写入（请拨开U盘侧面的写保护开关，或换一个U盘）；没有导出",
            f"the stick '{where}' is read-only (slide its write-protect switch off, or use another "
            "stick); nothing was exported",
        )
    if drive.free < needed:
        return DriveError(
            "stick_too_small",
            f"U盘“{where}”只剩 {size_text(drive.free)}，这次导出约需 {size_text(needed)}；"
            "请删掉U盘上不用的文件或换一个U盘；没有导出",
            f"the stick '{where}' has {size_text(drive.free)} free and this export needs about "
            f"{size_text(needed)}; free some space or use another stick; nothing was exported",
        )
    return None


def probe_writable(folder: Path) -> None:
    """Write, flush and remove a small file: a write-protected or full stick is refused before the export."""
    probe = folder / f".usbsync-probe-{uuid.uuid4().hex[:8]}"
    try:
        with open(probe, "wb") as fh:
            fh.write(b"usbsync")
            fh.flush()
            os.fsync(fh.fileno())
        probe.unlink()
    except OSError as exc:
        with contextlib.suppress(OSError):
            probe.unlink()
        raise os_error(exc, folder, writing=True) from None


def os_error(exc: OSError, folder: Path, *, writing: bool) -> DriveError:
    """What the system said about a stick, as what the clerk can do."""
    nothing = "没有导出" if writing else "未导入任何数据"
    nothing_en = "nothing was exported" if writing else "nothing was imported"
    winerror = getattr(exc, "winerror", None)
    if exc.errno == errno.ENOSPC:
        return DriveError(
            "stick_full",
            f"U盘已满（{folder}）；请删掉U盘上不用的文件或换一个U盘；{nothing}",
            f"the stick is full ({folder}); free some space or use another stick; {nothing_en}",
        )
    if winerror in _GONE_WINERRORS or exc.errno in _GONE_ERRNOS:
        return DriveError(
            "stick_removed",
            f"读写U盘时出错，U盘可能被拔出了（{folder}）；请插好U盘再试；{nothing}",
            f"the stick could not be read or written, it may have been pulled out ({folder}); plug "
            f"it in and try again; {nothing_en}",
        )
    if exc.errno in _READ_ONLY_ERRNOS:
        return DriveError(
            "stick_read_only",
            f"U盘不能写入（{folder}）：可能打开了写保护开关；{nothing}",
            f"the stick cannot be written ({folder}): its write-protect switch may be on; {nothing_en}",
        )
    return DriveError(
        "stick_error",
        f"读写U盘时出错（{folder}）：{zh_reason(exc)}；{nothing}",
        f"the stick could not be read or written ({folder}): {en_reason(exc)}; {nothing_en}",
    )
