"""analytics.recording.bulk.insert stores exactly what the ORM would, on either database."""

import uuid
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from django.db import connection

from accounts.models import Account
from analytics.models import Request, RequestPayload
from analytics.recording import bulk
from analytics.recording.write_behind import PayloadRow
from lib import ids
from tests.factories import make_account

pytestmark = pytest.mark.django_db


def full_request(account: Account | None, **overrides: object) -> Request:
    """A request with a value in every kind of column: UUID, datetime, JSON, decimal, FK."""
    fields: dict[str, object] = {
        "id": uuid.uuid4(),
        "timestamp": datetime(2026, 11, 26, 9, 30, 15, 123456, tzinfo=UTC),
        "method": "POST",
        "path": "/v1/messages",
        "account": account,
        "status_code": 200,
        "success": True,
        "error_message": "ünïcode ✓",
        "is_stream": True,
        "response_time_ms": 1234,
        "routing_trace": [{"account": account and account.name, "outcome": "served"}],
        "model": "claude-sonnet-4-6",
        "input_tokens": 10,
        "output_tokens": 20,
        "cost_usd": Decimal("0.00012345"),
        "output_tokens_per_second": 41.5,
        **overrides,
    }
    return Request(**fields)


def columns(row: Request) -> dict[str, object]:
    return {f.attname: getattr(row, f.attname) for f in Request._meta.concrete_fields}


def test_rows_read_back_as_the_orm_would_store_them() -> None:
    account = make_account(name="bulk")
    ours, theirs = full_request(account), full_request(account)
    ours_id = ours.id

    bulk.insert([ours])
    Request.objects.bulk_create([theirs])

    stored_ours = columns(Request.objects.get(pk=ours_id))
    stored_theirs = columns(Request.objects.get(pk=theirs.id))
    assert {**stored_ours, "id": None} == {**stored_theirs, "id": None}
    assert stored_ours["cost_usd"] == Decimal("0.00012345")
    assert stored_ours["timestamp"] == datetime(2026, 11, 26, 9, 30, 15, 123456, tzinfo=UTC)


def test_nulls_defaults_and_json_payloads_round_trip() -> None:
    request = full_request(None, cost_usd=None, model=None, routing_trace=[])
    payload = RequestPayload(request=request, data={"request": {"headers": {"a": "b"}}})

    bulk.insert([request])
    bulk.insert([payload])

    row = Request.objects.get(pk=request.id)
    assert (row.account_id, row.cost_usd, row.model, row.routing_trace) == (None, None, None, [])
    assert RequestPayload.objects.get(pk=request.id).data == {"request": {"headers": {"a": "b"}}}


def test_plain_rows_are_stored_as_instances_of_the_named_model() -> None:
    # The recorder passes slotted rows, not Model instances (write_behind.PayloadRow).
    request = full_request(None)
    bulk.insert([request])
    data = {"request": {"body": None}, "meta": {"accountId": "no_account"}}

    bulk.insert([PayloadRow(request_id=str(request.id), data=data)], RequestPayload)

    assert RequestPayload.objects.get(pk=request.id).data == data


def test_json_text_already_written_is_stored_as_that_json_not_as_a_string() -> None:
    request = full_request(None)
    bulk.insert([request])
    text = '{"request": {"body": "aGk=", "headers": {"a": "\\u00e9"}}, "meta": null}'

    bulk.insert([PayloadRow(request_id=str(request.id), data=bulk.RawJSON(text))], RequestPayload)

    stored = RequestPayload.objects.get(pk=request.id).data
    assert stored == {"request": {"body": "aGk=", "headers": {"a": "é"}}, "meta": None}
    # A query inside the JSON sees it as an object, not as one long string.
    assert RequestPayload.objects.filter(data__request__body="aGk=").count() == 1


def test_a_field_that_changes_its_stored_value_is_converted() -> None:
    # EncryptedTextField is a TextField subclass that encrypts: never written as is.
    account = Account(name="bulk-secret", api_key="sk-ant-api03-bulk-secret-key-0001")

    bulk.insert([account])

    assert Account.objects.get(name="bulk-secret").api_key == account.api_key
    with connection.cursor() as cursor:
        cursor.execute("SELECT api_key FROM accounts_account WHERE name = %s", ["bulk-secret"])
        (raw,) = cursor.fetchone()
    assert "bulk-secret-key" not in raw


def test_nothing_to_insert_runs_no_query(django_assert_num_queries: object) -> None:
    with django_assert_num_queries(0):  # type: ignore[operator]
        bulk.insert([])


def test_many_rows_in_one_call() -> None:
    account = make_account(name="bulk-many")

    bulk.insert([full_request(account) for _ in range(250)])

    assert Request.objects.filter(account=account).count() == 250


@pytest.fixture
def statements(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The number of values bound to each statement bulk.insert runs from now on."""
    counts: list[int] = []
    real_execute = bulk._execute

    def counted(conn: object, cursor: object) -> tuple[object, str]:
        execute, placeholder = real_execute(conn, cursor)  # type: ignore[arg-type]

        def run(sql: str, params: list) -> object:
            counts.append(len(params))
            return execute(sql, params)

        return run, placeholder

    monkeypatch.setattr(bulk, "_execute", counted)
    return counts


def test_more_rows_than_one_statement_takes_are_all_stored_in_a_few_statements(
    statements: list[int],
) -> None:
    account = make_account(name="many")
    rows = [full_request(account, response_time_ms=n) for n in range(bulk.MAX_ROWS + 7)]
    per_statement = min(
        bulk.MAX_ROWS, connection.ops.bulk_batch_size(Request._meta.concrete_fields, rows)
    )

    bulk.insert(rows)

    width = len(Request._meta.concrete_fields)
    sizes = list(bulk.statement_sizes(len(rows), per_statement))
    assert statements == [size * width for size in sizes]
    assert len(statements) <= -(-len(rows) // per_statement) + 5  # a few more than full ones
    stored = sorted(Request.objects.values_list("response_time_ms", flat=True))
    assert stored == list(range(bulk.MAX_ROWS + 7))


SAMPLES = {
    "UUIDField": [
        uuid.uuid4(),
        str(uuid.uuid4()),
        uuid.uuid4().hex,
        ids.uuid7_text(),  # the proxy's own ids: a short cut on SQLite
        str(uuid.uuid4()).upper(),
        None,
    ],
    "DateTimeField": [
        datetime(2026, 11, 26, 9, 30, 15, 123456, tzinfo=UTC),
        datetime(2026, 11, 26, 9, 30, tzinfo=UTC),  # no microseconds: str() leaves them out
        datetime(2026, 11, 26, 9, 30, 15, tzinfo=timezone(timedelta(hours=-5))),
        None,
    ],
    "JSONField": [[], [{"account": "a", "outcome": "served"}], {"a": [1, "ü", None]}, "x", None],
}


@pytest.mark.parametrize(
    ("model", "name"),
    [
        (Request, "id"),
        (Request, "timestamp"),
        (Request, "account"),
        (Request, "routing_trace"),
        (RequestPayload, "request"),
        (RequestPayload, "data"),
    ],
)
def test_short_cut_converters_give_what_the_field_gives(model: type, name: str) -> None:
    field = model._meta.get_field(name)
    kind = (field.target_field if field.is_relation else field).get_internal_type()
    convert = bulk.converter(field, connection)
    for value in SAMPLES[kind]:
        assert _comparable(convert(value)) == _comparable(field.get_db_prep_save(value, connection))


def _comparable(value: object) -> object:
    # PostgreSQL's JSON adapter wraps the value (psycopg's Jsonb): compare what it wraps.
    return getattr(value, "obj", value)


@pytest.mark.parametrize(
    ("count", "most", "sizes"),
    [(32, 500, [32]), (27, 500, [16, 8, 2, 1]), (1, 500, [1]), (0, 500, []),
     (1100, 500, [500, 500, 64, 32, 4]), (7, 3, [3, 3, 1])],
)  # fmt: skip
def test_rows_go_in_a_handful_of_statement_sizes(count: int, most: int, sizes: list[int]) -> None:
    # SQLite keeps each prepared statement's last bound values (a batch of payloads): one
    # statement per row count from 1 to 32 grew the server by gigabytes.
    assert list(bulk.statement_sizes(count, most)) == sizes


def test_rows_per_statement_can_be_capped_lower(statements: list[int]) -> None:
    # The recorder's payloads: what a statement keeps bound is at most `most` bodies.
    account = make_account(name="capped")
    rows = [full_request(account, response_time_ms=n) for n in range(70)]

    bulk.insert(rows, most=32)

    width = len(Request._meta.concrete_fields)
    assert statements == [32 * width, 32 * width, 4 * width, 2 * width]
    assert Request.objects.filter(account=account).count() == 70


def test_every_row_of_an_odd_batch_is_written() -> None:
    rows = [full_request(None, id=uuid.uuid4()) for _ in range(27)]

    bulk.insert(rows)

    assert Request.objects.count() == 27
