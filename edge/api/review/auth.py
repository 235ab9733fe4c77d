"""Accounts, roles, sessions, machine tokens and login rate limiting for the review page.

* Passwords: argon2id (argon2-cffi defaults, RFC 9106 low-memory profile); hashes are upgraded on login
  when the parameters change.
* Sessions: a random 256-bit cookie value (HttpOnly, SameSite=Strict, Secure over https); the database
  keeps only its sha256, so a copied database does not log anyone in. 12 h absolute, 2 h idle.
* CSRF: synchronizer token per session, sent by the page in `X-CSRF-Token` on every mutating request;
  requests authenticated by a bearer token need none (a browser never attaches one by itself).
* Machine tokens: `sgt_` + 256 random bits, shown once, sha256 at rest, carrying their user's role.
* Passwords (`password_problem`): at least MIN_PASSWORD characters without the surrounding blanks, at
  least MIN_DISTINCT different characters, not containing the user name, not one of the most common passwords.
* Failed logins: back-off per (user name, address), per name and per address (`LoginLimiter`, described in
  edge/api/review/login_limit.py). The client address is the TCP peer (proxy headers only from
  `api.trusted_proxies`).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from edge.api.review.login_limit import LoginLimiter
from edge.storage import review_db as db
from edge.storage.store import Store, utc_text

Role = Literal["viewer", "inspector", "admin"]
ROLES: tuple[Role, ...] = ("viewer", "inspector", "admin")
RANK = {r: i for i, r in enumerate(ROLES)}
USER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{1,63}$")
MIN_PASSWORD = 10
MIN_DISTINCT = 5
# The most common passwords of MIN_PASSWORD characters or more (breach lists; Vietnamese and Chinese
# favourites included), compared without case. Shorter ones fail the length rule already.
_COMMON = """
1234567890 0123456789 0987654321 12345678910 123456789a a123456789 1234567890a 123456789123 1234512345
1234567899 123123123123 12341234 147258369 1472583690 123qweasdzxc 1q2w3e4r5t 1q2w3e4r5t6y 1qaz2wsx3edc
1qazxsw23edc zaq12wsxcde3 qwertyuiop qwertyuiop123 qwerty1234 qwerty12345 qwerty123456 qwe1234567
asdfghjkl1 asdfghjkl123 zxcvbnm123 zxcvbnm1234 abc1234567 abcd123456 abcd1234567 abcdefghij abcdefg123
password12 password123 password1234 password12345 passw0rd123 p@ssw0rd123 p@ssword123 password!23
iloveyou12 iloveyou123 letmein123 welcome123 welcome1234 changeme123 trustno1234 sunshine123 princess123
football123 baseball123 superman123 monkey12345 dragon12345 master12345 shadow12345 michael123
admin12345 admin123456 administrator admin@1234 root123456 default123 guest12345 test123456 testtest123
matkhau123 matkhau1234 matkhau12345 anhyeuem123 emyeuanh123 anhyeuem1234 vietnam123 vietnam1234
woaini1314 woaini520 woaini123456 5201314520 1314520520 a5201314 woaini5201314 aini1314520
smartgate1 smartgate123 smartgate2025 smartgate2026 cuakhau123 huunghi123
"""
COMMON_PASSWORDS = frozenset(w for w in _COMMON.split() if len(w) >= MIN_PASSWORD)
SESSION_COOKIE = "sg_session"
CSRF_HEADER = "X-CSRF-Token"
TOKEN_PREFIX = "sgt_"
SESSION_TTL = timedelta(hours=12)
SESSION_IDLE = timedelta(hours=2)
TOUCH_EVERY = timedelta(minutes=1)  # last_seen is written at most this often


class AuthError(ValueError):
    """A user-management request that cannot be done (bad name, short password, unknown user)."""


@dataclass(frozen=True)
class Principal:
    """Who is calling: a person (session or personal token) or the gate's shared API token."""

    name: str
    role: Role
    via: Literal["session", "token"]
    user_id: int | None = None
    csrf: str | None = None  # the session's CSRF token (sessions only)

    def has(self, role: Role) -> bool:
        return RANK[self.role] >= RANK[role]


@dataclass(frozen=True)
class User:
    id: int
    name: str
    role: Role
    created_at: str
    disabled: bool


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def password_problem(name: str, password: str) -> str | None:
    """Why `password` is refused for user `name`, or None when it is acceptable."""
    core = password.strip()
    if len(core) < MIN_PASSWORD:
        return (f"password must have at least {MIN_PASSWORD} characters"
                + (" besides leading and trailing blanks" if len(password) >= MIN_PASSWORD else ""))
    if len(set(core.lower())) < MIN_DISTINCT:
        return f"password must use at least {MIN_DISTINCT} different characters"
    lowered = core.lower()
    if len(name) >= 3 and name.lower() in lowered:
        return "password must not contain the user name"
    if lowered in COMMON_PASSWORDS:
        return "password is one of the most common passwords; choose another"
    return None


class Auth:
    def __init__(self, store: Store, hasher: PasswordHasher | None = None, limiter: LoginLimiter | None = None,
                 shared_token: str | None = None) -> None:
        """`shared_token`: the gate's api.token; on review routes it acts as a read-only `viewer`."""
        self.store = store
        self.hasher = hasher or PasswordHasher()
        self.limiter = limiter or LoginLimiter()
        self.shared_token = shared_token
        self._dummy: str | None = None

    @property
    def _dummy_hash(self) -> str:
        """Verified against when the user does not exist, so both cases take the same time."""
        if self._dummy is None:
            self._dummy = self.hasher.hash(secrets.token_hex(16))
        return self._dummy

    # -- users -------------------------------------------------------------------------------

    def add_user(self, name: str, role: str, password: str) -> User:
        if not USER_NAME.fullmatch(name):
            raise AuthError("user name: 2-64 characters, letters, digits, '.', '_' or '-', starting alphanumeric")
        if role not in ROLES:
            raise AuthError(f"role must be one of {', '.join(ROLES)}")
        problem = password_problem(name, password)
        if problem:
            raise AuthError(problem)
        pw_hash = self.hasher.hash(password)
        try:
            with db.write(self.store) as c:
                c.execute("INSERT INTO users (name, role, password_hash, created_at) VALUES (?, ?, ?, ?)",
                          (name, role, pw_hash, db.now_text()))
        except sqlite3.IntegrityError:
            raise AuthError(f"user {name!r} exists already") from None
        user = self.get_user(name)
        assert user is not None
        return user

    def set_password(self, name: str, password: str) -> None:
        problem = password_problem(name, password)
        if problem:
            raise AuthError(problem)
        user = self._require_user(name)
        with db.write(self.store) as c:
            c.execute("UPDATE users SET password_hash = ? WHERE id = ?", (self.hasher.hash(password), user.id))
            c.execute("DELETE FROM sessions WHERE user_id = ?", (user.id,))

    def set_disabled(self, name: str, disabled: bool) -> None:
        """Disabling also ends the user's sessions and revokes their tokens."""
        user = self._require_user(name)
        with db.write(self.store) as c:
            c.execute("UPDATE users SET disabled = ? WHERE id = ?", (int(disabled), user.id))
            if disabled:
                c.execute("DELETE FROM sessions WHERE user_id = ?", (user.id,))
                c.execute("UPDATE api_tokens SET revoked = 1 WHERE user_id = ?", (user.id,))

    def get_user(self, name: str) -> User | None:
        row = db.conn(self.store).execute(
            "SELECT id, name, role, created_at, disabled FROM users WHERE name = ?", (name,)).fetchone()
        return User(row[0], row[1], row[2], row[3], bool(row[4])) if row else None

    def list_users(self) -> list[User]:
        rows = db.conn(self.store).execute(
            "SELECT id, name, role, created_at, disabled FROM users ORDER BY name").fetchall()
        return [User(r[0], r[1], r[2], r[3], bool(r[4])) for r in rows]

    def _require_user(self, name: str) -> User:
        user = self.get_user(name)
        if user is None:
            raise AuthError(f"no user {name!r}")
        return user

    # -- machine tokens ----------------------------------------------------------------------

    def new_token(self, name: str, label: str | None = None) -> str:
        """A new bearer token for `name`; only its hash is kept, so this is the one time it is seen."""
        user = self._require_user(name)
        if user.disabled:
            raise AuthError(f"user {name!r} is disabled")
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        with db.write(self.store) as c:
            c.execute("INSERT INTO api_tokens (token_hash, user_id, label, created_at) VALUES (?, ?, ?, ?)",
                      (sha256(token), user.id, label, db.now_text()))
        return token

    def token_principal(self, token: str) -> Principal | None:
        if not token:
            return None
        if self.shared_token and hmac.compare_digest(token.encode(), self.shared_token.encode()):
            return Principal(name="api-token", role="viewer", via="token")
        if not token.startswith(TOKEN_PREFIX):
            return None
        row = db.conn(self.store).execute(
            "SELECT u.id, u.name, u.role FROM api_tokens t JOIN users u ON u.id = t.user_id"
            " WHERE t.token_hash = ? AND t.revoked = 0 AND u.disabled = 0", (sha256(token),)).fetchone()
        if row is None:
            return None
        return Principal(name=row[1], role=row[2], via="token", user_id=row[0])

    # -- login and sessions ------------------------------------------------------------------

    def login(self, name: str, password: str, ip: str) -> tuple[str, Principal] | float:
        """(cookie value, principal) on success, else the seconds to wait (0.0 = plain failure).

        Callers answer 401 for 0.0 and 429 with Retry-After for more, and must not tell which of
        user name or password was wrong.
        """
        slot = self.limiter.attempt(name, ip)  # reserved before the (slow) hash check: no parallel guessing
        if isinstance(slot, float):
            return slot
        try:
            row = db.conn(self.store).execute(
                "SELECT id, name, role, password_hash, disabled FROM users WHERE name = ?", (name,)).fetchone()
            ok = False
            try:
                ok = self.hasher.verify(row[3] if row else self._dummy_hash, password)
            except (VerifyMismatchError, VerificationError, InvalidHashError):
                ok = False
            if not ok or row is None or row[4]:
                slot.failure()
                return 0.0  # this attempt was judged: a plain 401; the back-off applies to the next one
            slot.success()
        finally:
            slot.release()  # an error before judging gives the place back
        if self.hasher.check_needs_rehash(row[3]):
            with db.write(self.store) as c:
                c.execute("UPDATE users SET password_hash = ? WHERE id = ?", (self.hasher.hash(password), row[0]))
        cookie = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(32)
        now = datetime.now(UTC)
        with db.write(self.store) as c:
            c.execute("DELETE FROM sessions WHERE expires_at < ?", (utc_text(now),))  # housekeeping
            c.execute("INSERT INTO sessions (id_hash, user_id, csrf, created_at, last_seen, expires_at, ip)"
                      " VALUES (?, ?, ?, ?, ?, ?, ?)",
                      (sha256(cookie), row[0], csrf, utc_text(now), utc_text(now), utc_text(now + SESSION_TTL), ip))
        return cookie, Principal(name=row[1], role=row[2], via="session", user_id=row[0], csrf=csrf)

    def session_principal(self, cookie: str | None, touch: bool = True) -> Principal | None:
        """The session's user, or None (unknown, expired, idle too long, user disabled). `touch=False`: a
        check that is not the user's activity (an open event stream) and does not extend the idle time."""
        if not cookie:
            return None
        row = db.conn(self.store).execute(
            "SELECT u.id, u.name, u.role, s.csrf, s.last_seen, s.expires_at FROM sessions s"
            " JOIN users u ON u.id = s.user_id WHERE s.id_hash = ? AND u.disabled = 0", (sha256(cookie),)).fetchone()
        if row is None:
            return None
        now = datetime.now(UTC)
        last_seen = db.parse_time(row[4])
        if now >= db.parse_time(row[5]) or now - last_seen >= SESSION_IDLE:
            self.logout(cookie)
            return None
        if touch and now - last_seen >= TOUCH_EVERY:
            with db.write(self.store) as c:
                c.execute("UPDATE sessions SET last_seen = ? WHERE id_hash = ?", (utc_text(now), sha256(cookie)))
        return Principal(name=row[1], role=row[2], via="session", user_id=row[0], csrf=row[3])

    def logout(self, cookie: str) -> None:
        with db.write(self.store) as c:
            c.execute("DELETE FROM sessions WHERE id_hash = ?", (sha256(cookie),))
