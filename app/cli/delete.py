"""`semsearch delete`: delete documents of a collection of a running service by ids or by a
metadata filter."""

import argparse

from app.cli.client import add_api_key_argument, add_url_argument, parse_filter, post_once
from app.cli.count import documents_path
from app.cli.output import EXIT_FAILED, EXIT_OK, plural

MAX_IDS = 10_000

EPILOG = """\
examples:
  semsearch delete --collection docs --ids guide.md faq.jsonl#line=3
  semsearch delete --collection docs --filter '{"source": "old/notes.md"}'
  semsearch delete --collection docs --filter '{"year": {"$lt": 2015}}'

The delete runs in one transaction on the service: all of it happens, or none. Unknown ids are
not errors. An empty filter is refused; to delete everything, delete the collection.

exit status: 0 on success, 1 when the service refused the request or could not be reached,
2 for a usage error."""


def add_parser(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    parser = commands.add_parser(
        "delete",
        help="delete documents of a collection by ids or by metadata filter",
        description="Delete documents of a collection of a running service, by ids or by a\n"
        "metadata filter, and print how many were deleted.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--collection", required=True, help="collection name")
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--ids", nargs="+", metavar="ID", help=f"document ids (at most {MAX_IDS:,})")
    which.add_argument("--filter", help='metadata filter as JSON, e.g. \'{"source": "a.md"}\'')
    add_url_argument(parser)
    add_api_key_argument(parser)


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    if args.ids is not None:
        if len(args.ids) > MAX_IDS:
            parser.error(f"--ids: at most {MAX_IDS:,} ids, got {len(args.ids):,}")
        body: dict[str, object] = {"ids": args.ids}
    else:
        body = {"filter": parse_filter(args.filter, parser)}
    reply = post_once(args, "delete", documents_path(args.collection, "delete"), body)
    if reply is None:
        return EXIT_FAILED
    print(f"deleted {plural(reply.json()['deleted'], 'document')}")
    return EXIT_OK
