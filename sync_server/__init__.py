"""The bureau sync server: device API under /api/v1, admin CLI `sync-server`, consolidated export."""

__version__ = "0.1.0"
