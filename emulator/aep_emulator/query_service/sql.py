"""SQL text as Query Service handles it before any engine sees it: statements split, ``$key`` parameters
substituted, and each statement classified (a SELECT, a CTAS/ITAS/DROP that writes to Catalog, a session command
answered by the PostgreSQL endpoint itself, or something the emulator does not support)."""

from __future__ import annotations

import re
from dataclasses import dataclass

#: Adobe's cap on an explicit ``LIMIT`` (``53400 LIMIT exceeds max value``).
MAX_LIMIT = 100_000
_IDENT = r'(?:"[^"]+"|`[^`]+`|[A-Za-z_][A-Za-z0-9_$.]*)'
_CTAS = re.compile(
    rf"^\s*CREATE\s+TABLE\s+(?P<ine>IF\s+NOT\s+EXISTS\s+)?(?P<name>{_IDENT})\s*"
    r"(?:WITH\s*\((?P<options>[^)]*)\)\s*)?AS\s+(?P<select>.+)$",
    re.IGNORECASE | re.DOTALL,
)
_ITAS = re.compile(rf"^\s*INSERT\s+INTO\s+(?P<name>{_IDENT})\s+(?P<select>(?:\(|SELECT|WITH|VALUES).*)$", re.I | re.S)
_DROP = re.compile(rf"^\s*DROP\s+TABLE\s+(?P<ie>IF\s+EXISTS\s+)?(?P<name>{_IDENT})\s*$", re.IGNORECASE)
_CURSOR = r'(?P<name>"[^"]+"|[A-Za-z_][A-Za-z0-9_$]*)'
_DECLARE = re.compile(
    rf"^\s*DECLARE\s+{_CURSOR}\s+(?:BINARY\s+)?(?:INSENSITIVE\s+)?(?:(?:NO\s+)?SCROLL\s+)?CURSOR\s+"
    r"(?:(?P<hold>WITH|WITHOUT)\s+HOLD\s+)?FOR\s+(?P<select>.+)$",
    re.IGNORECASE | re.DOTALL,
)
_FETCH = re.compile(
    rf"^\s*(?:FETCH|MOVE)\s+(?:(?P<direction>NEXT|ALL|FORWARD(?:\s+(?:ALL|\d+))?|\d+)\s+)?(?:(?:FROM|IN)\s+)?{_CURSOR}$",
    re.IGNORECASE,
)
_CLOSE = re.compile(rf"^\s*CLOSE\s+(?:(?P<all>ALL)|{_CURSOR})$", re.IGNORECASE)
_LIMIT = re.compile(r"\bLIMIT\s+(\d+)", re.IGNORECASE)
_PARAM = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")
_OPTION = re.compile(r"(\w+)\s*=\s*'([^']*)'")
#: First words of statements that only read (DuckDB runs them as they are).
READS = frozenset({"SELECT", "WITH", "VALUES", "TABLE", "FROM", "EXPLAIN", "DESCRIBE", "SUMMARIZE", "(", "PIVOT"})
#: Session and transaction commands the PostgreSQL endpoint answers itself.
SESSION = frozenset({"SET", "RESET", "SHOW", "BEGIN", "START", "COMMIT", "END", "ROLLBACK", "ABORT", "DISCARD"})
#: What Adobe's ``excludeHidden`` hides: commands a PostgreSQL client issues that the user did not write.
HIDDEN_WORDS = SESSION | {"DECLARE", "FETCH", "CLOSE", "DEALLOCATE", "PREPARE", "EXECUTE", "LISTEN", "UNLISTEN"}


class SqlError(Exception):
    """A failed statement: SQLSTATE-like ``code``, message and Adobe's ``errorType``."""

    def __init__(self, code: str, message: str, error_type: str = "USER_ERROR") -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.error_type = error_type

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message, "errorType": self.error_type}


@dataclass
class Statement:
    """One classified statement: ``kind`` is ``read``, ``ctas``, ``itas``, ``drop``, ``show_tables``,
    ``session``, ``view``, ``declare``, ``fetch`` (FETCH and MOVE), ``close`` or ``unsupported``;
    ``table``/``select`` for the writes, the cursor's name and query for the cursor commands (``table`` is
    empty for ``CLOSE ALL``), ``rows`` for FETCH/MOVE (None: ALL) and ``hold`` for ``DECLARE ... WITH HOLD``."""

    text: str
    kind: str
    word: str
    table: str = ""
    select: str = ""
    if_exists: bool = False
    schema_title: str | None = None
    rows: int | None = 1
    hold: bool = False

    @property
    def hidden(self) -> bool:
        lowered = self.text.lower()
        return self.word in HIDDEN_WORDS or "pg_catalog" in lowered or "information_schema" in lowered


def split(text: str) -> list[str]:
    """Statements of ``text`` separated by ``;`` outside quotes, dollar quotes and comments (blank ones dropped)."""
    out: list[str] = []
    start, i, n = 0, 0, len(text)
    while i < n:
        ch = text[i]
        if ch in ("'", '"', "`"):
            end = text.find(ch, i + 1)
            while end != -1 and end + 1 < n and text[end + 1] == ch:  # a doubled quote
                end = text.find(ch, end + 2)
            i = n if end == -1 else end + 1
        elif text.startswith("--", i):
            end = text.find("\n", i)
            i = n if end == -1 else end + 1
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            i = n if end == -1 else end + 2
        elif text.startswith("$$", i):
            end = text.find("$$", i + 2)
            i = n if end == -1 else end + 2
        elif ch == ";":
            out.append(text[start:i])
            start = i = i + 1
        else:
            i += 1
    out.append(text[start:])
    return [s.strip() for s in out if strip_comments(s).strip()]


def strip_comments(text: str) -> str:
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    return re.sub(r"--[^\n]*", " ", text)


def unquote(name: str) -> str:
    """A table name as written (quotes and backquotes removed); Query Service table names are lower-case."""
    if name[:1] in ('"', "`") and name[-1:] == name[:1]:
        return name[1:-1]
    return name.lower()


def substitute(sql: str, parameters: dict[str, str]) -> str:
    """``$key`` replaced by ``parameters[key]`` (no type checking, as Adobe documents); an unknown key stays."""
    return _PARAM.sub(lambda m: str(parameters[m.group(1)]) if m.group(1) in parameters else m.group(0), sql)


def missing_parameters(sql: str, parameters: dict[str, str]) -> list[str]:
    return sorted({m.group(1) for m in _PARAM.finditer(sql) if m.group(1) not in parameters})


def check_limit(sql: str) -> None:
    for match in _LIMIT.finditer(sql):
        if int(match.group(1)) > MAX_LIMIT:
            raise SqlError("53400", f"LIMIT exceeds max value: {match.group(1)} > {MAX_LIMIT}")


def classify(text: str) -> Statement:
    body = strip_comments(text).strip()
    word = (re.match(r"\(|[A-Za-z]+", body) or re.match(r"\S*", body)).group(0).upper()  # type: ignore[union-attr]
    match = _CTAS.match(body)
    if match:
        options = dict((k.lower(), v) for k, v in _OPTION.findall(match.group("options") or ""))
        return Statement(
            text,
            "ctas",
            word,
            table=unquote(match.group("name")),
            select=_unwrap(match.group("select")),
            if_exists=bool(match.group("ine")),
            schema_title=options.get("schema"),
        )
    match = _ITAS.match(body)
    if match:
        return Statement(text, "itas", word, table=unquote(match.group("name")), select=_unwrap(match.group("select")))
    match = _DROP.match(body)
    if match:
        return Statement(text, "drop", word, table=unquote(match.group("name")), if_exists=bool(match.group("ie")))
    cursor = _cursor_command(text, body.rstrip(";").strip(), word)
    if cursor is not None:
        return cursor
    if re.fullmatch(r"SHOW\s+TABLES", body, re.IGNORECASE):
        return Statement(text, "show_tables", word)
    if word in SESSION:
        return Statement(text, "session", word)
    if word in READS:
        return Statement(text, "read", word)
    if re.match(r"(CREATE\s+(OR\s+REPLACE\s+)?(TEMP\w*\s+)?VIEW|DROP\s+VIEW)\b", body, re.IGNORECASE):
        return Statement(text, "view", word)
    return Statement(text, "unsupported", word)


def _cursor_command(text: str, body: str, word: str) -> Statement | None:
    """DECLARE / FETCH / MOVE / CLOSE, the commands a driver's server-side cursor sends (forward-only)."""
    if word == "DECLARE" and (match := _DECLARE.match(body)):
        hold = (match.group("hold") or "").upper() == "WITH"
        return Statement(
            text, "declare", word, table=unquote(match.group("name")), select=_unwrap(match.group("select")), hold=hold
        )
    if word in ("FETCH", "MOVE") and (match := _FETCH.match(body)):
        direction = (match.group("direction") or "NEXT").upper().split()
        count = direction[-1]
        rows = None if count == "ALL" else int(count) if count.isdigit() else 1
        return Statement(text, "fetch", word, table=unquote(match.group("name")), rows=rows)
    if word == "CLOSE" and (match := _CLOSE.match(body)):
        return Statement(text, "close", word, table="" if match.group("all") else unquote(match.group("name")))
    return None


def _unwrap(select: str) -> str:
    """``(SELECT ...)`` without its parentheses (Adobe's CTAS form) and without a trailing ``;``."""
    select = select.strip().rstrip(";").strip()
    while select.startswith("(") and select.endswith(")") and _balanced(select[1:-1]):
        select = select[1:-1].strip()
    return select


def _balanced(text: str) -> bool:
    depth = 0
    for ch in text:
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if depth < 0:
            return False
    return depth == 0


def table_name(dataset_name: str) -> str:
    """The table Query Service names a dataset: lower-case, non-alphanumerics as ``_``, no ``__``."""
    name = re.sub(r"[^a-z0-9]", "_", dataset_name.lower())
    name = re.sub(r"_{2,}", "_", name)
    return name or "dataset"
