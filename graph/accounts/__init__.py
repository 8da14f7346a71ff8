"""Accounts: users, sign-in, tokens."""
