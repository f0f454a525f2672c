"""Database servers as study storage: URL handling, and the one line for a server that
cannot be used. Imports neither Optuna nor TensorFlow, so that a wrong URL, password or
database is refused in well under a second."""

from __future__ import annotations

import re

from seqtune.errors import UserError, exception_chain

#: Query parameters that carry a password in the URLs SQLAlchemy and its drivers accept.
SECRET_KEYS = ("password", "passwd", "pwd", "pass", "sslpassword", "secret")
_URL_TOKEN = re.compile(r"[A-Za-z][\w+.-]*://[^\s'\"()<>]+")  # the URLs a message quotes
_USERINFO = re.compile(r"(://[^:/@\s]*:)[^@\s]*@")  # user:password@, an empty user included
_QUERY = re.compile(
    r"((?:^|[?&;,(\s])(?:" + "|".join(SECRET_KEYS) + r")=)[^&#;\s'\")]*", re.IGNORECASE
)


def mask_url(url: str) -> str:
    """The storage URL (or a message quoting it) with every password replaced by ***.

    Every form SQLAlchemy accepts: ``user:password@``, an empty user name (``:password@``),
    a password as a query parameter (``?password=…``), percent-encoded or not. The URL is
    parsed with SQLAlchemy's own ``make_url`` where it parses, and the password it finds
    is masked wherever it appears in the text, whatever form carried it.

    Examples
    --------
    >>> mask_url("postgresql://seq:tune@127.0.0.1/db")
    'postgresql://seq:***@127.0.0.1/db'
    >>> mask_url("postgresql://127.0.0.1/db?user=seq&password=tune")
    'postgresql://127.0.0.1/db?user=seq&password=***'
    """
    secrets = [
        secret
        for token in _URL_TOKEN.findall(url)
        if not token.startswith(("sqlite", "journal:"))
        for secret in _secrets_of(token)
    ]
    masked = _QUERY.sub(r"\1***", _USERINFO.sub(r"\1***@", url))
    from urllib.parse import quote, quote_plus

    for secret in sorted(secrets, key=len, reverse=True):
        for form in {secret, quote(secret, safe=""), quote_plus(secret)}:
            masked = masked.replace(form, "***")
    return masked


def normalize_storage(url: str, flag: str = "--storage") -> str:
    """A storage URL as seqtune keeps it: a SQLite file made absolute (a relative one
    would name another file from another folder); an in-memory SQLite database refused
    (it vanishes with the process, and the study folder would name nothing)."""
    if not url.startswith("sqlite"):
        return url
    import sqlalchemy

    try:
        parsed = sqlalchemy.engine.make_url(url)
    except Exception:
        raise UserError("not a SQLite URL (e.g. sqlite:////abs/path/study.db)", flag) from None
    database = parsed.database
    if not database or database == ":memory:" or database.startswith("file::memory:"):
        raise UserError(
            "an in-memory SQLite database vanishes when the process ends: give a file "
            "(sqlite:////absolute/path.db) or leave --storage out (the study folder's own "
            "optuna.db)",
            flag,
        )
    if database.startswith("file:"):
        return url
    from pathlib import Path

    path = Path(database).expanduser()
    if path.is_absolute():
        return url
    return parsed.set(database=str(path.resolve())).render_as_string(hide_password=False)


def is_server(url: str | None) -> bool:
    """A database server (PostgreSQL, MySQL), as opposed to the study folder's own SQLite
    file or a journal file: many machines, heartbeats, retries."""
    return bool(url) and not url.startswith(("sqlite", "journal:"))  # type: ignore[union-attr]


def database_name(url: str) -> str:
    import sqlalchemy

    try:
        return sqlalchemy.engine.make_url(url).database or "?"
    except Exception:
        return "?"


def server_problem(exc: BaseException, url: str) -> str:
    """The one line for a database server that cannot be used, never with the password."""
    import sqlalchemy

    try:
        parsed = sqlalchemy.engine.make_url(url)
        where = f"{parsed.host or 'localhost'}:{parsed.port or 'default port'}"
        user = parsed.username
    except Exception:
        return "not a database URL (e.g. postgresql://USER:PASSWORD@HOST:PORT/DATABASE)"
    text = " ".join(mask_url(str(c)) for c in exception_chain(exc)).lower()
    if isinstance(exc, ModuleNotFoundError) or "no module named" in text:
        return f"no database driver for {parsed.drivername}: install seqtune[postgres] (psycopg)"
    if "password authentication failed" in text or "access denied" in text:
        return f"the server at {where} refused user {user!r}: wrong password (or user)"
    if "no password supplied" in text:
        return f"the server at {where} asks user {user!r} for a password: give it in the URL"
    if "does not exist" in text and "database" in text:
        return (
            f"database {database_name(url)!r} does not exist on the server at {where}: "
            "create it (createdb) or fix the URL"
        )
    if "optuna storage upgrade" in text or ("schema" in text and "optuna" in text):
        return (
            f"the Optuna tables in database {database_name(url)!r} were made by another "
            "Optuna version: run `optuna storage upgrade --storage URL` once, with every "
            "worker stopped"
        )
    reach = (
        "connection refused",
        "could not connect",
        "timeout",
        "timed out",
        "no route",
        "name or service not known",
        "connection failed",
        "unreachable",
        "server closed",
    )
    if any(k in text for k in reach):
        return (
            f"the database server at {where} is unreachable (is it running, and does it "
            "listen there?)"
        )
    first = (mask_url(str(exc)).splitlines() or [""])[0][:200]
    for secret in _secrets_of(url):
        first = first.replace(secret, "***")
    return f"cannot open storage {mask_url(url)}: {type(exc).__name__}: {first}"


def _secrets_of(url: str) -> list[str]:
    """The password(s) a URL carries (see :func:`mask_url`), for masking text that quotes
    them without the URL around them."""
    import sqlalchemy

    try:
        parsed = sqlalchemy.engine.make_url(url.strip())
    except Exception:
        return []
    found = [str(parsed.password)] if parsed.password else []
    for key, value in parsed.query.items():
        if key.lower() in SECRET_KEYS:
            found.extend(str(v) for v in (value if isinstance(value, tuple) else (value,)) if v)
    return [s for s in found if len(s) >= 3]  # a shorter one would mask unrelated text


def probe_server(url: str, study: str | None = None) -> None:
    """Connect once (and, given ``study``, look its name up) before anything slow runs;
    raise UserError with :func:`server_problem`'s line. Writes nothing."""
    import sqlalchemy

    try:
        engine = sqlalchemy.create_engine(
            url,
            poolclass=sqlalchemy.pool.NullPool,
            connect_args={"connect_timeout": 10} if url.startswith("postgresql") else {},
        )
    except Exception as exc:
        raise UserError(server_problem(exc, url), "--storage") from None
    try:
        with engine.connect() as conn:
            if study is None:
                return
            if not sqlalchemy.inspect(conn).has_table("studies"):
                raise UserError(
                    f"database {database_name(url)!r} holds no Optuna study: launch one "
                    "with `seqtune launch SPEC --storage URL`",
                    "--storage",
                )
            names = [
                row[0] for row in conn.execute(sqlalchemy.text("SELECT study_name FROM studies"))
            ]
            if study not in names:
                known = f" (it holds: {', '.join(sorted(names)[:8])})" if names else ""
                raise UserError(
                    f"storage {mask_url(url)} holds no study named '{study}'{known}", "--study"
                )
    except UserError:
        raise
    except Exception as exc:
        raise UserError(server_problem(exc, url), "--storage") from None
    finally:
        engine.dispose()
