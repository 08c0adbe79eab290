"""`semsearch search`: search a collection of a running service and print a table or JSON."""

import argparse
from typing import Any
from urllib.parse import quote

from app.cli.client import add_api_key_argument, add_url_argument, parse_filter, post_once
from app.cli.output import EXIT_FAILED, EXIT_OK

PREVIEW_CHARS = 80

EPILOG = """\
examples:
  semsearch search "how do I reset my password" --collection docs
  semsearch search "error XJ-4471" --collection docs --mode hybrid -k 5
  semsearch search "kitten" --collection docs --filter '{"lang": "en"}' --json

exit status: 0 on success, 1 when the service refused the search or could not be reached."""


def add_parser(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    parser = commands.add_parser(
        "search",
        help="search a collection of a running service",
        description="Search a collection of a running service and print the best documents:\n"
        "rank, score, id and the start of the text.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("query", help="the query text")
    parser.add_argument("--collection", required=True, help="collection name")
    add_url_argument(parser)
    add_api_key_argument(parser)
    parser.add_argument("-k", type=int, default=10, help="number of results (default 10)")
    parser.add_argument(
        "--mode", choices=("dense", "lexical", "hybrid"), default="dense", help="default dense"
    )
    parser.add_argument("--filter", help='metadata filter as JSON, e.g. \'{"lang": "en"}\'')
    parser.add_argument("--json", action="store_true", help="print the service's JSON reply")


def one_line(text: str, width: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 3] + "..."


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """One search, tried once: a person waits on it."""
    body: dict[str, Any] = {"query": args.query, "k": args.k, "mode": args.mode}
    if args.filter is not None:
        body["filter"] = parse_filter(args.filter, parser)
    path = f"/collections/{quote(args.collection, safe='')}/search"
    response = post_once(args, "search", path, body)
    if response is None:
        return EXIT_FAILED
    if args.json:
        print(response.text)
        return EXIT_OK
    print_table(response.json()["results"])
    return EXIT_OK


def print_table(results: list[dict[str, Any]]) -> None:
    if not results:
        print("no results")
        return
    id_width = max(len("id"), *(len(hit["id"]) for hit in results))
    print(f"{'rank':>4}  {'score':>7}  {'id':<{id_width}}  text")
    for rank, hit in enumerate(results, start=1):
        text = one_line(hit["text"], PREVIEW_CHARS)
        print(f"{rank:>4}  {hit['score']:>7.3f}  {hit['id']:<{id_width}}  {text}")
