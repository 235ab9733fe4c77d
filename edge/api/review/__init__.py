"""Inspectors' review: accounts and roles, the review page, decisions with an append-only audit trail."""
