"""Sync by USB stick (U盘, issue 13, protocol revision 1.13): the outbox exported as a bundle file, and the
bureau's answer bundle imported - the same push batches and pull pages an online sync uses. No Qt."""
