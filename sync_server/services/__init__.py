"""Service functions: each takes a session and never opens or commits one (the caller owns the transaction)."""
