"""The outbox in the server: each process runs one e-mail sender (db/outbox/worker.py)."""
