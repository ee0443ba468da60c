"""Sync by USB stick (U盘, issue 13, protocol revision 1.13): the outbox exported as a bundle file, and the
bureau's answer bundle imported - the same push batches and pull pages an online sync uses. No Qt.

bundle (export and import), history (the exports and answers this computer remembers), import_summary (what
an answer changed, in both languages, for the CLI and the GUI), stick_files (the sync files on a stick, by
their header), drives (the sticks plugged in), cli (the command lines), key (the device's USB key).
"""
