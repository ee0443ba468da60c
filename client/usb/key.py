"""The device's USB bundle key (protocol revision 1.13), kept in the settings table like the PIN reset key:
handed over in the enroll answer and every pull answer (`usb_key`, base64url), and in a USB answer bundle."""

from __future__ import annotations

from sqlalchemy.orm import Session

from client.store.prefs import get_setting, set_setting
from forms.usb_bundle import decode_key

USB_KEY_SETTING = "usb_key"


def remember_usb_key(session: Session, value: object) -> bool:
    """Keep the key the server sent; anything that is not a 32-byte base64url key is ignored. True if kept."""
    if decode_key(value) is None:
        return False
    if get_setting(session, USB_KEY_SETTING) != value:
        set_setting(session, USB_KEY_SETTING, value)
    return True


def usb_key(session: Session) -> bytes | None:
    return decode_key(get_setting(session, USB_KEY_SETTING))
