"""Accounts: users, passwords, refresh-token families."""
