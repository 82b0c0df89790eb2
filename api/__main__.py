"""Operator commands: ``python -m api token create|revoke|list NAME [--file PATH]``."""

import argparse
import sys
from pathlib import Path

from api.config import Settings
from api.tokens import create_token, list_tokens, revoke_token


def _parser():
    """Build the argument parser."""
    parser = argparse.ArgumentParser(prog="python -m api", description="Operate the sentiment API.")
    groups = parser.add_subparsers(dest="group", required=True)
    token = groups.add_parser("token", help="manage bearer tokens")
    token.add_argument("--file", type=Path, default=None, help="tokens file (default: $API_TOKENS_FILE)")
    actions = token.add_subparsers(dest="action", required=True)
    actions.add_parser("create", help="create a token and print it").add_argument("name")
    actions.add_parser("revoke", help="revoke a token").add_argument("name")
    actions.add_parser("list", help="list token names")
    return parser


def main(argv=None):
    """Run one command; return the exit status."""
    args = _parser().parse_args(argv)
    path = args.file or Settings().TOKENS_FILE
    try:
        if args.action == "create":
            token = create_token(path, args.name)
            print(f"created token {args.name!r} in {path}; it is shown once, keep it now:", file=sys.stderr)
            print(token)
        elif args.action == "revoke":
            if not revoke_token(path, args.name):
                print(f"no token named {args.name!r} in {path}", file=sys.stderr)
                return 1
            print(f"revoked {args.name!r}; running workers drop it within seconds")
        else:
            for name, created in list_tokens(path):
                print(f"{name}\t{created}")
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
