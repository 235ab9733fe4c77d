"""`smartgate user …`: local accounts for the review page and bearer tokens for machines.

    smartgate user add NAME --role inspector          # password asked twice (or --password-env VAR)
    smartgate user list
    smartgate user token NAME [--label TEXT]          # prints a new token once; only its hash is kept
    smartgate user passwd NAME | disable NAME | enable NAME

The database is `storage.database` of `--config` (default: var/smartgate.db, the demo's), or `--db`.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from collections.abc import Callable
from pathlib import Path

from edge.api.review.auth import ROLES, Auth, AuthError


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    u = sub.add_parser("user", help="review-page accounts (viewer, inspector, admin) and machine tokens")
    u.add_argument("--config", help="gate config; its storage.database is used")
    u.add_argument("--db", help="SQLite database path (overrides --config)")
    us = u.add_subparsers(dest="user_command", required=True)
    add = us.add_parser("add", help="create an account")
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=ROLES)
    add.add_argument("--password-env", metavar="VAR", help="read the password from this environment variable")
    us.add_parser("list", help="list accounts")
    tok = us.add_parser("token", help="create a bearer token for NAME (shown once)")
    tok.add_argument("name")
    tok.add_argument("--label", help="what the token is for, e.g. the host that uses it")
    pw = us.add_parser("passwd", help="set a new password (ends the user's sessions)")
    pw.add_argument("name")
    pw.add_argument("--password-env", metavar="VAR")
    for cmd, text in (("disable", "lock the account, end its sessions, revoke its tokens"),
                      ("enable", "unlock the account")):
        us.add_parser(cmd, help=text).add_argument("name")


def _db_path(args: argparse.Namespace, database_of: Callable[[str], str]) -> Path:
    if args.db:
        return Path(args.db)
    if args.config:
        return Path(database_of(args.config))
    from edge.storage.config import StorageConfig

    return Path(StorageConfig().database)


def _password(args: argparse.Namespace) -> str:
    if args.password_env:
        pw = os.environ.get(args.password_env)
        if not pw:
            raise AuthError(f"environment variable {args.password_env} is empty or not set")
        return pw
    if not sys.stdin.isatty():
        raise AuthError("no terminal to ask for the password: use --password-env VAR")
    pw = getpass.getpass("password: ")
    if getpass.getpass("again: ") != pw:
        raise AuthError("the two passwords differ")
    return pw


def main_user(args: argparse.Namespace, database_of: Callable[[str], str]) -> int:
    """`database_of(config_path)`: the gate config's storage.database (the CLI loads the config; this layer
    does not know the whole config)."""
    from edge.domain.settings import ConfigError
    from edge.storage.store import Store, StoreError

    try:
        path = _db_path(args, database_of)
        with Store(path) as store:
            auth = Auth(store)
            cmd = args.user_command
            if cmd == "add":
                user = auth.add_user(args.name, args.role, _password(args))
                print(f"user {user.name} ({user.role}) added to {path}")
            elif cmd == "list":
                for u in auth.list_users():
                    print(f"{u.name:24} {u.role:10} {u.created_at}{'  DISABLED' if u.disabled else ''}")
            elif cmd == "token":
                token = auth.new_token(args.name, args.label)
                print(token)
                print(f"(bearer token for {args.name}; shown once, only its hash is stored)", file=sys.stderr)
            elif cmd == "passwd":
                auth.set_password(args.name, _password(args))
                print(f"password of {args.name} changed; their sessions ended")
            else:
                auth.set_disabled(args.name, cmd == "disable")
                print(f"user {args.name} {cmd}d")
    except (AuthError, ConfigError, StoreError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0
