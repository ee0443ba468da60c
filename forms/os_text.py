"""What the system said about a file (an OSError), in Chinese for the Chinese half of a message: the OS
speaks English ("No such file or directory") whatever the clerk reads. The English half keeps the system's
own words."""

from __future__ import annotations

import errno

_ZH = {
    errno.ENOENT: "找不到这个文件或文件夹",
    errno.EACCES: "没有读写权限",
    errno.EPERM: "没有读写权限",
    errno.EISDIR: "这是一个文件夹，不是文件",
    errno.ENOTDIR: "路径中有一部分不是文件夹",
    errno.ENOSPC: "磁盘已满",
    errno.EROFS: "磁盘是只读的（可能打开了写保护开关）",
    errno.EIO: "读写出错（U盘或磁盘可能已损坏或被拔出）",
    errno.ENAMETOOLONG: "文件名太长",
    errno.EBUSY: "文件正被其他程序使用",
    errno.EINVAL: "文件名或路径不合法",
    errno.ENODEV: "设备不存在（U盘可能被拔出了）",
    errno.ENXIO: "设备不存在（U盘可能被拔出了）",
    errno.EMFILE: "打开的文件太多",
    errno.EFBIG: "文件太大",
}
# Windows: ERROR_SHARING_VIOLATION, ERROR_LOCK_VIOLATION, ERROR_NOT_READY, ERROR_DEVICE_NOT_CONNECTED
_ZH_WINERROR = {
    32: "文件正被其他程序使用",
    33: "文件正被其他程序使用",
    21: "设备未就绪（U盘可能被拔出了）",
    1167: "设备未连接（U盘可能被拔出了）",
}


def en_reason(exc: OSError) -> str:
    return exc.strerror or str(exc)


def zh_reason(exc: OSError) -> str:
    """The reason in Chinese; the system's words in brackets when it is not one of the usual ones."""
    winerror = getattr(exc, "winerror", None)
    if winerror in _ZH_WINERROR:
        return _ZH_WINERROR[winerror]
    if exc.errno in _ZH:
        return _ZH[exc.errno]
    return f"系统错误（{en_reason(exc)}）"
