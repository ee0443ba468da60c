"""The PySide6 GUI: thin widgets over client.store and client.excel."""
