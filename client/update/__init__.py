"""Signed client updates (issue 16, docs/updates.md): checked during sync, downloaded resumably, verified
with The Update Framework (python-tuf's ngclient), staged, installed at the next start with the previous
version kept to roll back to if the new one fails its first start. Imports no Qt."""
