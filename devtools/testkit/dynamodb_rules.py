"""Refuse, in tests, DynamoDB requests the real service rejects with ValidationException but moto accepts.

`request_problems` reads one call's low-level client parameters; `install` runs it before every call of a client;
`install_on_every_client` installs it on every DynamoDB client the process creates (tests/conftest.py does, at import).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from botocore.client import BaseClient
from botocore.model import OperationModel
from botocore.session import Session

# "Reserved words in DynamoDB" (developer guide), case-insensitive: never a bare attribute name in an expression.
_RESERVED_TEXT = """
ABORT ABSOLUTE ACTION ADD AFTER AGENT AGGREGATE ALL ALLOCATE ALTER ANALYZE AND ANY ARCHIVE ARE ARRAY AS ASC ASCII
ASENSITIVE ASSERTION ASYMMETRIC AT ATOMIC ATTACH ATTRIBUTE AUTH AUTHORIZATION AUTHORIZE AUTO AVG BACK BACKUP BASE BATCH
BEFORE BEGIN BETWEEN BIGINT BINARY BIT BLOB BLOCK BOOLEAN BOTH BREADTH BUCKET BULK BY BYTE CALL CALLED CALLING CAPACITY
CASCADE CASCADED CASE CAST CATALOG CHAR CHARACTER CHECK CLASS CLOB CLOSE CLUSTER CLUSTERED CLUSTERING CLUSTERS COALESCE
COLLATE COLLATION COLLECTION COLUMN COLUMNS COMBINE COMMENT COMMIT COMPACT COMPILE COMPRESS CONDITION CONFLICT CONNECT
CONNECTION CONSISTENCY CONSISTENT CONSTRAINT CONSTRAINTS CONSTRUCTOR CONSUMED CONTINUE CONVERT COPY CORRESPONDING COUNT
COUNTER CREATE CROSS CUBE CURRENT CURSOR CYCLE DATA DATABASE DATE DATETIME DAY DEALLOCATE DEC DECIMAL DECLARE DEFAULT
DEFERRABLE DEFERRED DEFINE DEFINED DEFINITION DELETE DELIMITED DEPTH DEREF DESC DESCRIBE DESCRIPTOR DETACH DETERMINISTIC
DIAGNOSTICS DIRECTORIES DISABLE DISCONNECT DISTINCT DISTRIBUTE DO DOMAIN DOUBLE DROP DUMP DURATION DYNAMIC EACH ELEMENT
ELSE ELSEIF EMPTY ENABLE END EQUAL EQUALS ERROR ESCAPE ESCAPED EVAL EVALUATE EXCEEDED EXCEPT EXCEPTION EXCEPTIONS
EXCLUSIVE EXEC EXECUTE EXISTS EXIT EXPLAIN EXPLODE EXPORT EXPRESSION EXTENDED EXTERNAL EXTRACT FAIL FALSE FAMILY FETCH
FIELDS FILE FILTER FILTERING FINAL FINISH FIRST FIXED FLATTERN FLOAT FOR FORCE FOREIGN FORMAT FORWARD FOUND FREE FROM
FULL FUNCTION FUNCTIONS GENERAL GENERATE GET GLOB GLOBAL GO GOTO GRANT GREATER GROUP GROUPING HANDLER HASH HAVE HAVING
HEAP HIDDEN HOLD HOUR IDENTIFIED IDENTITY IF IGNORE IMMEDIATE IMPORT IN INCLUDING INCLUSIVE INCREMENT INCREMENTAL INDEX
INDEXED INDEXES INDICATOR INFINITE INITIALLY INLINE INNER INNTER INOUT INPUT INSENSITIVE INSERT INSTEAD INT INTEGER
INTERSECT INTERVAL INTO INVALIDATE IS ISOLATION ITEM ITEMS ITERATE JOIN KEY KEYS LAG LANGUAGE LARGE LAST LATERAL LEAD
LEADING LEAVE LEFT LENGTH LESS LEVEL LIKE LIMIT LIMITED LINES LIST LOAD LOCAL LOCALTIME LOCALTIMESTAMP LOCATION LOCATOR
LOCK LOCKS LOG LOGED LONG LOOP LOWER MAP MATCH MATERIALIZED MAX MAXLEN MEMBER MERGE METHOD METRICS MIN MINUS MINUTE
MISSING MOD MODE MODIFIES MODIFY MODULE MONTH MULTI MULTISET NAME NAMES NATIONAL NATURAL NCHAR NCLOB NEW NEXT NO NONE
NOT NULL NULLIF NUMBER NUMERIC OBJECT OF OFFLINE OFFSET OLD ON ONLINE ONLY OPAQUE OPEN OPERATOR OPTION OR ORDER
ORDINALITY OTHER OTHERS OUT OUTER OUTPUT OVER OVERLAPS OVERRIDE OWNER PAD PARALLEL PARAMETER PARAMETERS PARTIAL
PARTITION PARTITIONED PARTITIONS PATH PERCENT PERCENTILE PERMISSION PERMISSIONS PIPE PIPELINED PLAN POOL POSITION
PRECISION PREPARE PRESERVE PRIMARY PRIOR PRIVATE PRIVILEGES PROCEDURE PROCESSED PROJECT PROJECTION PROPERTY PROVISIONING
PUBLIC PUT QUERY QUIT QUORUM RAISE RANDOM RANGE RANK RAW READ READS REAL REBUILD RECORD RECURSIVE REDUCE REF REFERENCE
REFERENCES REFERENCING REGEXP REGION REINDEX RELATIVE RELEASE REMAINDER RENAME REPEAT REPLACE REQUEST RESET RESIGNAL
RESOURCE RESPONSE RESTORE RESTRICT RESULT RETURN RETURNING RETURNS REVERSE REVOKE RIGHT ROLE ROLES ROLLBACK ROLLUP
ROUTINE ROW ROWS RULE RULES SAMPLE SATISFIES SAVE SAVEPOINT SCAN SCHEMA SCOPE SCROLL SEARCH SECOND SECTION SEGMENT
SEGMENTS SELECT SELF SEMI SENSITIVE SEPARATE SEQUENCE SERIALIZABLE SESSION SET SETS SHARD SHARE SHARED SHORT SHOW SIGNAL
SIMILAR SIZE SKEWED SMALLINT SNAPSHOT SOME SOURCE SPACE SPACES SPARSE SPECIFIC SPECIFICTYPE SPLIT SQL SQLCODE SQLERROR
SQLEXCEPTION SQLSTATE SQLWARNING START STATE STATIC STATUS STORAGE STORE STORED STREAM STRING STRUCT STYLE SUB
SUBMULTISET SUBPARTITION SUBSTRING SUBTYPE SUM SUPER SYMMETRIC SYNONYM SYSTEM TABLE TABLESAMPLE TEMP TEMPORARY
TERMINATED TEXT THAN THEN THROUGHPUT TIME TIMESTAMP TIMEZONE TINYINT TO TOKEN TOTAL TOUCH TRAILING TRANSACTION TRANSFORM
TRANSLATE TRANSLATION TREAT TRIGGER TRIM TRUE TRUNCATE TTL TUPLE TYPE UNDER UNDO UNION UNIQUE UNIT UNKNOWN UNLOGGED
UNNEST UNPROCESSED UNSIGNED UNTIL UPDATE UPPER URL USAGE USE USER USERS USING UUID VACUUM VALUE VALUED VALUES VARCHAR
VARIABLE VARIANCE VARINT VARYING VIEW VIEWS VIRTUAL VOID WAIT WHEN WHENEVER WHERE WHILE WINDOW WITH WITHIN WITHOUT WORK
WRAPPED WRITE YEAR ZONE
"""
RESERVED_WORDS = frozenset(_RESERVED_TEXT.split())
FUNCTIONS = frozenset(
    {"attribute_exists", "attribute_not_exists", "attribute_type", "begins_with", "contains", "size"}
    | {"if_not_exists", "list_append"}
)
# Syntax, not attribute names, where an operator or a clause is expected: right after a complete operand.
KEYWORDS = frozenset({"AND", "OR", "NOT", "BETWEEN", "IN", "SET", "REMOVE", "ADD", "DELETE"})
UPDATE_CLAUSES = frozenset({"SET", "REMOVE", "ADD", "DELETE"})
EXPRESSIONS = tuple(f"{kind}Expression" for kind in ("KeyCondition", "Filter", "Condition", "Update", "Projection"))
SINGLE_REQUEST_OPERATIONS = frozenset({"PutItem", "UpdateItem", "DeleteItem", "GetItem", "Query", "Scan"})
MAX_TRANSACTION_ACTIONS = 100
MAX_BATCH_WRITE_REQUESTS = 25
MAX_BATCH_GET_KEYS = 100
_LEXEME = re.compile(r"[#:]\w+|\w+|<>|<=|>=|\S")
_NAME = re.compile(r"#?[A-Za-z_]\w*")

Path = tuple[str, ...]


class DynamoDBRequestError(AssertionError):
    """A request DynamoDB would answer with ValidationException (moto may accept it)."""


@dataclass
class _Uses:
    names: set[str] = field(default_factory=set)
    values: set[str] = field(default_factory=set)
    reserved: set[str] = field(default_factory=set)
    targets: list[Path] = field(default_factory=list)


def _map(value: object) -> Mapping[str, object]:
    return value if isinstance(value, Mapping) else {}


def _seq(value: object) -> Sequence[object]:
    return value if isinstance(value, (list, tuple)) else ()


def _read_path(lexemes: Sequence[str], i: int, names: Mapping[str, object], uses: _Uses) -> tuple[Path, int]:
    """The document path at lexemes[i] (names joined by dots, [n] indexes) and the index after it."""
    parts: list[str] = []
    while True:
        lexeme = lexemes[i]
        if lexeme.startswith("#"):
            uses.names.add(lexeme)
            parts.append(str(names.get(lexeme, lexeme)))  # resolved, so "#a" and "a" are one path
        else:
            if lexeme.upper() in RESERVED_WORDS:
                uses.reserved.add(lexeme)
            parts.append(lexeme)
        i += 1
        while i + 2 < len(lexemes) and lexemes[i] == "[" and lexemes[i + 2] == "]":
            parts.append(f"[{lexemes[i + 1]}]")
            i += 3
        if i + 1 >= len(lexemes) or lexemes[i] != "." or not _NAME.fullmatch(lexemes[i + 1]):
            return tuple(parts), i
        i += 1


def _scan(expression: str, *, update: bool, names: Mapping[str, object], uses: _Uses) -> None:
    """Record one expression's placeholders, bare reserved words and (update) target paths."""
    lexemes = _LEXEME.findall(expression)
    operand_next = not update  # an update expression opens with a clause keyword, as if after an operand
    target_next = False
    depth = i = 0
    while i < len(lexemes):
        lexeme, upper = lexemes[i], lexemes[i].upper()
        if lexeme.startswith(":"):
            uses.values.add(lexeme)
            operand_next = False
        elif _NAME.fullmatch(lexeme):
            if (not operand_next and upper in KEYWORDS) or (operand_next and upper == "NOT"):
                operand_next, target_next = True, update and upper in UPDATE_CLAUSES
            elif not (operand_next and lexeme.lower() in FUNCTIONS and lexemes[i + 1 : i + 2] == ["("]):
                path, i = _read_path(lexemes, i, names, uses)
                if target_next and depth == 0:
                    uses.targets.append(path)
                operand_next = target_next = False
                continue
        elif lexeme in {"(", ")"}:
            depth += 1 if lexeme == "(" else -1
            operand_next = lexeme == "("
        elif lexeme == ",":
            operand_next, target_next = True, update and depth == 0
        else:
            operand_next = lexeme not in {"[", "]"}  # comparators and + - want an operand next
        i += 1


def _dotted(path: Path) -> str:
    return "".join(part if part.startswith("[") else f".{part}" for part in path).lstrip(".")


def unit_problems(where: str, request: Mapping[str, object]) -> list[str]:
    """Problems of one request body that carries its own expressions and placeholder maps."""
    problems: list[str] = []
    names, values = request.get("ExpressionAttributeNames"), request.get("ExpressionAttributeValues")
    for label, given in (("ExpressionAttributeNames", names), ("ExpressionAttributeValues", values)):
        if given is not None and not _map(given):
            problems.append(f"{where}: {label} must not be empty")
    uses = _Uses()
    for field_name in EXPRESSIONS:
        if isinstance(expression := request.get(field_name), str):
            _scan(expression, update=field_name == "UpdateExpression", names=_map(names), uses=uses)
    for label, defined, used, kind in (
        ("ExpressionAttributeNames", set(_map(names)), uses.names, "name used in the document path"),
        ("ExpressionAttributeValues", set(_map(values)), uses.values, "value used in expression"),
    ):
        if unused := ", ".join(sorted(defined - used)):
            problems.append(f"{where}: Value provided in {label} unused in expressions: keys: {{{unused}}}")
        problems += [f"{where}: An expression attribute {kind} is not defined: {p}" for p in sorted(used - defined)]
    problems += [f"{where}: Attribute name is a reserved keyword; reserved keyword: {w}" for w in sorted(uses.reserved)]
    for index, path in enumerate(uses.targets):
        for other in uses.targets[:index]:
            if path[: len(other)] == other[: len(path)]:  # equal, or one inside the other
                problems.append(f"{where}: Two document paths overlap: {_dotted(other)} and {_dotted(path)}")
    return problems


def _transact_write_problems(items: Sequence[object]) -> list[str]:
    actions = [
        (f"TransactWriteItems TransactItems[{i}].{kind}", kind, _map(body))
        for i, item in enumerate(items)
        for kind, body in _map(item).items()
    ]
    # The key schema is unknown here: learn each table's key names from the Key maps of the same request.
    key_names = {str(body.get("TableName")): set(_map(body.get("Key"))) for _, _, body in actions if "Key" in body}
    problems: list[str] = []
    seen: dict[tuple[str, ...], str] = {}
    for where, kind, body in actions:
        problems += unit_problems(where, body)
        table, key = str(body.get("TableName")), _map(body.get("Key"))
        if kind == "Put" and (wanted := key_names.get(table)) and wanted <= set(item := _map(body.get("Item"))):
            key = {name: item[name] for name in wanted}
        if not key:
            continue
        ident = (table, *sorted(f"{name}={value!r}" for name, value in key.items()))
        if ident in seen:
            problems.append(
                f"{where}: Transaction request cannot include multiple operations on one item (also {seen[ident]})"
            )
        seen.setdefault(ident, where)
    return problems


def request_problems(operation: str, params: Mapping[str, object]) -> list[str]:
    """What DynamoDB would reject in this call's low-level parameters (an empty list: nothing found)."""
    if operation in SINGLE_REQUEST_OPERATIONS:
        return unit_problems(operation, params)
    problems: list[str] = []
    items, tables = _seq(params.get("TransactItems")), _map(params.get("RequestItems"))
    if len(items) > MAX_TRANSACTION_ACTIONS:
        problems.append(f"{operation}: {len(items)} actions, at most {MAX_TRANSACTION_ACTIONS} are allowed")
    if operation == "TransactWriteItems":
        problems += _transact_write_problems(items)
    elif operation == "TransactGetItems":
        for index, item in enumerate(items):
            problems += unit_problems(f"{operation} TransactItems[{index}].Get", _map(_map(item).get("Get")))
    elif operation == "BatchWriteItem":
        if (count := sum(len(_seq(requests)) for requests in tables.values())) > MAX_BATCH_WRITE_REQUESTS:
            problems.append(f"{operation}: Too many items requested ({count}, at most {MAX_BATCH_WRITE_REQUESTS})")
    elif operation == "BatchGetItem":
        if (count := sum(len(_seq(_map(spec).get("Keys"))) for spec in tables.values())) > MAX_BATCH_GET_KEYS:
            problems.append(f"{operation}: Too many items requested ({count}, at most {MAX_BATCH_GET_KEYS})")
        for table, spec in tables.items():
            problems += unit_problems(f"{operation} RequestItems[{table}]", _map(spec))
    return problems


def _refuse(params: Mapping[str, object], model: OperationModel, **_: object) -> None:
    if problems := request_problems(model.name, params):
        raise DynamoDBRequestError(f"DynamoDB would reject {model.name}:\n  " + "\n  ".join(problems))


def install(client: BaseClient) -> None:
    """Check every request of this DynamoDB client before it is built; installing twice registers once."""
    # before-parameter-build, last: the final params, after boto3's resource layer built expressions and values.
    client.meta.events.register_last(
        "before-parameter-build.dynamodb", _refuse, unique_id="devtools.testkit.dynamodb_rules"
    )


def uninstall(client: BaseClient) -> None:
    """Stop checking this client: for the tests that ask DynamoDB Local itself what it refuses."""
    client.meta.events.unregister("before-parameter-build.dynamodb", unique_id="devtools.testkit.dynamodb_rules")


_create_client = Session.create_client


def _create_checked_client(self: Session, service_name: str, *args: Any, **kwargs: Any) -> BaseClient:
    client = _create_client(self, service_name, *args, **kwargs)
    if service_name == "dynamodb":
        install(client)
    return client


def install_on_every_client() -> None:
    """Check every DynamoDB client created from now on, by any boto3 or botocore session (resources included).

    Clients the tests, the handlers, the CLI and the local stack build alike: none can send what DynamoDB refuses.
    """
    # Session.create_client is where every client of every session is made; installing is idempotent per client.
    setattr(Session, "create_client", _create_checked_client)  # noqa: B010 - mypy refuses assigning a method
