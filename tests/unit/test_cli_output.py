"""The CLI's exit-code table and its formatting: pure functions, no server."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from rich.console import Console

from hexagone.cli import output
from hexagone.cli.client import ApiClient, api_error
from hexagone.cli.output import (
    CliError,
    cell,
    error_lines,
    exit_code_for,
    list_table,
    problem_code,
    record_table,
)

pytestmark = pytest.mark.unit

BASE = "https://hexagone.dev/problems/"


def problem(code: str, status: int, **extra: Any) -> dict[str, Any]:
    return {
        "type": BASE + code,
        "status": status,
        "detail": f"{code} happened.",
        "request_id": "req-1",
        **extra,
    }


@pytest.mark.parametrize(
    ("status", "code", "expected"),
    [
        (401, "unauthenticated", output.AUTH),
        (401, "mfa-required", output.AUTH),
        (403, "forbidden", output.FORBIDDEN),
        (403, "quota-exceeded", output.FORBIDDEN),
        (404, "not-found", output.NOT_FOUND),
        (409, "conflict", output.CONFLICT),
        (409, "no-valid-host", output.CONFLICT),
        (400, "invalid-input", output.INVALID),
        (422, "validation", output.INVALID),
        (400, "malformed-json", output.INVALID),
        (413, "payload-too-large", output.INVALID),
        (429, "rate-limited", output.RATE_LIMITED),
        (500, "internal", output.SERVER),
        (502, "driver-error", output.SERVER),
        (503, "temporary-error", output.SERVER),
        (418, "teapot", output.GENERIC),
    ],
)
def test_every_api_problem_maps_to_one_exit_code(status: int, code: str, expected: int) -> None:
    assert exit_code_for(status, problem(code, status)) == expected


def test_statuses_alone_map_when_the_body_is_not_a_problem() -> None:
    assert exit_code_for(404) == output.NOT_FOUND
    assert exit_code_for(504) == output.SERVER
    assert exit_code_for(401, {"detail": "no type"}) == output.AUTH


def test_exit_codes_are_distinct_and_avoid_success() -> None:
    named = [
        output.GENERIC,
        output.USAGE,
        output.AUTH,
        output.FORBIDDEN,
        output.NOT_FOUND,
        output.CONFLICT,
        output.INVALID,
        output.SERVER,
        output.CONNECTION,
        output.RATE_LIMITED,
        output.INTEGRITY,
    ]
    assert len(set(named)) == len(named) and output.OK not in named
    assert set(output.EXIT_CODES.values()) <= set(named)


def test_problem_code_is_the_last_segment_of_the_type() -> None:
    assert problem_code({"type": BASE + "mfa-required"}) == "mfa-required"
    assert problem_code({}) == ""


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, ""),
        (True, "yes"),
        (False, "no"),
        (3, "3"),
        ([], ""),
        ({}, ""),
        (["a", "b"], "a, b"),
        ({"b": 1, "a": [2]}, '{"a":[2],"b":1}'),
        ([{"id": 1}], '[{"id":1}]'),
    ],
)
def test_cells_are_plain_text(value: Any, text: str) -> None:
    assert cell(value) == text


def render(renderable: Any) -> str:
    console = Console(width=200, record=True, file=open("/dev/null", "w"))  # noqa: SIM115
    console.print(renderable)
    text = console.export_text()
    console.file.close()
    return text


def test_list_table_has_one_row_per_item_and_the_chosen_columns() -> None:
    text = render(
        list_table(
            [{"id": "a1", "name": "C1", "extra": "hidden"}, {"id": "b2", "name": "C2"}], ["id", "name"]
        )
    )
    assert "ID" in text and "NAME" in text and "C1" in text and "C2" in text and "hidden" not in text


def test_record_table_shows_every_field_in_order() -> None:
    text = render(record_table({"name": "R", "mfa_required": False, "residency": {}}))
    lines = [line.split() for line in text.strip().splitlines()]
    assert lines == [["name", "R"], ["mfa_required", "no"], ["residency"]]


def test_error_lines_say_the_detail_the_fields_the_next_step_and_the_request_id() -> None:
    err = CliError(
        "The request does not match the schema: name: too short.",
        output.INVALID,
        request_id="req-9",
        problem={
            "errors": [{"field": "name", "message": "too short"}, {"field": "country", "message": "bad"}]
        },
    )
    assert error_lines(err) == [
        "Error: The request does not match the schema: name: too short.",
        "  country: bad",
        "(request id req-9)",
    ]
    hidden = CliError("The organisation does not exist, or you cannot see it.", output.NOT_FOUND, problem={})
    assert error_lines(hidden)[1] == output.NEXT_STEP[output.NOT_FOUND]


def test_json_output_is_the_raw_structure(capsys: pytest.CaptureFixture[str]) -> None:
    output.print_list([{"id": "x"}], ["id"], "json", raw={"items": [{"id": "x"}], "next_cursor": None})
    assert json.loads(capsys.readouterr().out) == {"items": [{"id": "x"}], "next_cursor": None}
    output.say("Done.", "json")
    assert capsys.readouterr().out == ""


def client_answering(status: int, body: Any, content_type: str = "application/problem+json") -> ApiClient:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            status,
            content=json.dumps(body).encode(),
            headers={"content-type": content_type, "x-request-id": "req-h"},
        )

    return ApiClient("http://api.test", "secret-token", transport=httpx.MockTransport(handler))


def test_api_problems_become_cli_errors_with_detail_request_id_and_code() -> None:
    api = client_answering(404, problem("not-found", 404))
    with pytest.raises(CliError) as caught:
        api.get("/v1/organisations/x")
    assert (caught.value.exit_code, caught.value.message, caught.value.request_id) == (
        output.NOT_FOUND,
        "not-found happened.",
        "req-1",
    )


def test_a_non_json_error_still_has_a_message_and_the_header_request_id() -> None:
    response = httpx.Response(502, text="Bad Gateway", headers={"x-request-id": "req-lb"})
    err = api_error(response)
    assert (err.exit_code, err.message, err.request_id) == (output.SERVER, "Bad Gateway", "req-lb")


def test_an_unreachable_server_is_exit_code_9_and_says_what_to_check() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    api = ApiClient("http://127.0.0.1:9", transport=httpx.MockTransport(refuse))
    with pytest.raises(CliError) as caught:
        api.get("/v1/health")
    assert caught.value.exit_code == output.CONNECTION and "check the URL" in caught.value.message


def test_pages_follow_next_cursor_only_with_all() -> None:
    seen: list[str | None] = []

    def handler(request: httpx.Request) -> httpx.Response:
        cursor = request.url.params.get("cursor")
        seen.append(cursor)
        body = {
            "items": [{"id": cursor or "first"}],
            "next_cursor": None if cursor == "c2" else ("c2" if cursor == "c1" else "c1"),
        }
        return httpx.Response(200, json=body)

    api = ApiClient("http://api.test", transport=httpx.MockTransport(handler))
    assert len(list(api.pages("/v1/x", {}, 1, None, follow=False))) == 1
    seen.clear()
    items = [i["id"] for body in api.pages("/v1/x", {}, 1, None, follow=True) for i in body["items"]]
    assert items == ["first", "c1", "c2"] and seen == [None, "c1", "c2"]


HOSTILE = ["SHA256:5a:ab:67:smile:", ":smile: [bold]loud[/bold]", "[red]x", ":ab:", "[link=http://x]y[/link]"]


@pytest.mark.parametrize("value", HOSTILE)
def test_tables_print_data_verbatim_without_emoji_or_markup(value: str) -> None:
    """A key fingerprint ``…5a:ab:67…`` once came out with an emoji in it: data is never markup."""
    listed = render(list_table([{"id": "a1", "fingerprint": value}], ["id", "fingerprint"], title=value))
    assert value in listed and "🆎" not in listed and "😄" not in listed
    shown = render(record_table({"fingerprint": value, value: "key"}))
    assert value in shown and "🆎" not in shown


@pytest.mark.parametrize("value", HOSTILE)
def test_the_cli_console_prints_data_verbatim(value: str, capsys: pytest.CaptureFixture[str]) -> None:
    output.print_list([{"id": "a1", "name": value}], ["id", "name"], "table")
    output.print_record({"name": value}, "table")
    output.print_list([], ["id"], "table", empty=value)
    captured = capsys.readouterr()
    assert captured.out.count(value) == 2 and value in captured.err
    assert "🆎" not in captured.out + captured.err


def test_a_problem_that_says_what_to_do_gets_no_second_advice() -> None:
    """A 403 used to end with the API's "Ask an administrator…" and then the CLI's own; an
    unpriced quote (404) with "Check the name or id with the matching `list` command"."""
    forbidden = CliError(
        "Your roles do not allow 'project.create' here: ask an administrator of the organisation for a "
        "role that allows it.", output.FORBIDDEN, problem=problem("forbidden", 403))
    assert [ln for ln in error_lines(forbidden) if "administrator" in ln.lower()] == [error_lines(forbidden)[0]]
    unpriced = CliError("Flavor q1 has no price in region local yet: ask the operator to set one.",
                        output.NOT_FOUND, problem=problem("not-priced", 404))
    assert output.NEXT_STEP[output.NOT_FOUND] not in error_lines(unpriced)
