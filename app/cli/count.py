"""`semsearch count`: how many documents of a collection of a running service match a filter."""

import argparse
import json
import sys
from typing import Any
from urllib.parse import quote

import httpx

from app.cli.client import ServiceClient, add_api_key_argument, add_url_argument, error_message
from app.cli.output import EXIT_FAILED, EXIT_OK

EPILOG = """\
examples:
  semsearch count --collection docs
  semsearch count --collection docs --filter '{"lang": "en", "year": {"$gte": 2020}}'

exit status: 0 on success, 1 when the service refused the request or could not be reached."""


def add_parser(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    parser = commands.add_parser(
        "count",
        help="count the documents of a collection, or those matching a filter",
        description="Print how many documents of a collection of a running service match a\n"
        "metadata filter (every document without one).",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--collection", required=True, help="collection name")
    parser.add_argument("--filter", help='metadata filter as JSON, e.g. \'{"lang": "en"}\'')
    add_url_argument(parser)
    add_api_key_argument(parser)


def parse_filter(raw: str, parser: argparse.ArgumentParser) -> dict[str, Any]:
    """`--filter` as a JSON object, or a usage error saying what is wrong."""
    try:
        parsed = json.loads(raw)
    except ValueError as exc:
        parser.error(f"--filter is not valid JSON ({exc})")
    if not isinstance(parsed, dict):
        parser.error('--filter must be a JSON object, e.g. {"lang": "en"}')
    return parsed


def post_documents(
    args: argparse.Namespace, command: str, operation: str, body: dict[str, Any]
) -> Any:
    """POST `body` once to `/collections/{--collection}/documents/{operation}`: the reply's
    JSON, or None after printing why it failed."""
    client = ServiceClient(args.url, args.api_key)
    path = f"/collections/{quote(args.collection, safe='')}/documents/{operation}"
    try:
        response = client.send_once("POST", path, json=body)
    except httpx.HTTPError as exc:
        print(f"semsearch {command}: cannot reach {client.url}: {exc}", file=sys.stderr)
        return None
    finally:
        client.close()
    if response.status_code >= 400:
        print(f"semsearch {command}: {error_message(response)}", file=sys.stderr)
        return None
    return response.json()


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    body = {} if args.filter is None else {"filter": parse_filter(args.filter, parser)}
    reply = post_documents(args, "count", "count", body)
    if reply is None:
        return EXIT_FAILED
    print(reply["count"])
    return EXIT_OK
