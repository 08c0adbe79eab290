"""`semsearch count`: how many documents of a collection of a running service match a filter."""

import argparse
from urllib.parse import quote

from app.cli.client import add_api_key_argument, add_url_argument, parse_filter, post_once
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


def documents_path(collection: str, operation: str) -> str:
    return f"/collections/{quote(collection, safe='')}/documents/{operation}"


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    body = {} if args.filter is None else {"filter": parse_filter(args.filter, parser)}
    reply = post_once(args, "count", documents_path(args.collection, "count"), body)
    if reply is None:
        return EXIT_FAILED
    print(reply.json()["count"])
    return EXIT_OK
