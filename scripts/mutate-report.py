"""Summarise a `mutmut run` for `make mutate`: the share of mutants killed, per module and in all, and
every mutant that was not killed with its diff, in reports/mutation.md and (the summary) on stdout.

Exits 1 when less than --min percent of the mutants are killed. A timeout counts as killed: the tests
did not pass. A survivor listed in EQUIVALENT (README, "Mutation testing") is one no behaviour can tell
from the original; any other is a gap in the tests, marked as such.
"""

import argparse
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

MUTMUT = Path(sys.executable).parent / "mutmut"
KILLED = ("killed", "timeout", "caught by type check")
# A mutant's name: the module, then x_<function> or xǁ<Class>ǁ<method>, then __mutmut_<n>.
MODULE_OF = re.compile(r"^(?P<module>[\w.]+?)\.x[_ǁ]")
RESULT = re.compile(r"^\s*(?P<name>\S+): (?P<status>.+)$")

# Mutants whose every behaviour is the original's, each with the reason (also in README's table).
SQL_CASE = "the PRAGMA in lower case: SQLite's keywords have no case"
PRAGMA_CASE = "the PRAGMA's name in capitals: SQLite's pragma names have no case"
SAME_CODEC = "the codec's name in capitals: the same codec"
SAME_FIRST = "a split with another limit or from the right: the same first field for every input it gets"
EQUIVALENT: dict[str, str] = {
    "api.errors.x_code_for__mutmut_5": '"ERROR" for "error": lower-cased on the next line',
    "api.errors.x_code_for__mutmut_6": "strip() for strip('_'): no HTTP phrase"
    " starts or ends with a space or a sign",
    "api.errors.x_code_for__mutmut_17": "strip('XX_XX'): the same '_', and lower-cased text has no 'X'",
    "api.history.engine.x__sqlite_wal__mutmut_3": SQL_CASE,
    "api.history.engine.x__sqlite_wal__mutmut_4": PRAGMA_CASE,
    "api.history.engine.x__sqlite_wal__mutmut_7": SQL_CASE,
    "api.history.engine.x__sqlite_wal__mutmut_8": PRAGMA_CASE,
    "api.history.engine.x_created_processor__mutmut_3": "bind_processor(None): the type's own UTC conversion,"
    " which SQLite, MariaDB and PostgreSQL bind as given",
    "api.history.engine.x_created_processor__mutmut_4": "the fallback for a type without a bind processor:"
    " a TypeDecorator always has one",
    "api.history.engine.x_created_processor__mutmut_11": "formats every value, not only datetimes: created is"
    " NOT NULL, so the value is always a datetime",
    "api.history.engine.x_make_engine__mutmut_5": SAME_FIRST,
    "api.history.engine.x_make_engine__mutmut_6": SAME_FIRST + " (a scheme has at most one '+')",
    "api.history.engine.x_make_engine__mutmut_10": SAME_FIRST,
    "api.history.engine.x_make_engine__mutmut_13": SAME_FIRST,
    "api.history.engine.x_make_engine__mutmut_16": SAME_FIRST,
    "api.ops.tokens.x_create_token__mutmut_8": "token_urlsafe(None): its default is the same 32 bytes",
    "api.ops.tokens.x_hash_token__mutmut_7": SAME_CODEC,
    "api.ops.tokens.xǁTokenStoreǁ__init____mutmut_7": 'the "before the first look" marker "" for None:'
    ' neither is "missing" nor a file signature',
    "api.ops.tokens.xǁTokenStoreǁ__init____mutmut_11": 'float("-INF"): float() reads it as "-inf"',
    "api.server.logger.xǁHardenedLoggerǁaccess__mutmut_6": SAME_FIRST,
    "api.server.logger.xǁHardenedLoggerǁaccess__mutmut_9": SAME_FIRST,
    "api.server.logger.xǁHardenedLoggerǁaccess__mutmut_48": "4 decimals of milliseconds for 3: a timedelta"
    " counts whole microseconds",
    "api.web.auth.x_token_name_or_none__mutmut_10": "looks up a missing token too: the store answers None"
    " for one",
    "api.web.validation.x_parse_json_object__mutmut_17": 'the default charset "UTF-8": lower-cased next',
    "api.web.validation.x_parse_json_object__mutmut_32": SAME_CODEC,
    "api.web.validation.x_read_body__mutmut_2": "get_data(cache=None) for cache=False: both are false",
    "api.web.validation.xǁ_DuplicateKeyǁ__init____mutmut_1": "the exception's args: only its key is read",
    "model.serving.artifacts.x__write_atomic__mutmut_4": "another name for the temporary file: it is renamed"
    " over the artifact at once",
    "model.serving.artifacts.x__write_atomic__mutmut_5": "another name for the temporary file: it is renamed"
    " over the artifact at once",
    "model.serving.artifacts.x_dump_json__mutmut_4": "ensure_ascii=None for False: both are false",
    "model.serving.artifacts.x_save__mutmut_19": "gzip without compresslevel=9: 9 is its default",
}


def mutmut(*args: str) -> str:
    """Run a mutmut command in the checkout; return its stdout."""
    # Our own venv's mutmut, with arguments this script makes.
    done = subprocess.run([str(MUTMUT), *args], capture_output=True, text=True, check=True)  # noqa: S603
    return done.stdout


def results() -> dict[str, str]:
    """Return ``{mutant name: status}`` of every mutant of the last run."""
    statuses: dict[str, str] = {}
    for line in mutmut("results", "--all", "true").splitlines():
        match = RESULT.match(line)
        if match:
            statuses[match["name"]] = match["status"].strip()
    return statuses


def module_of(name: str) -> str:
    """Return the dotted module a mutant belongs to."""
    match = MODULE_OF.match(name)
    return match["module"] if match else name.rsplit(".", 1)[0]


def percent(part: int, whole: int) -> float:
    """Return ``part`` of ``whole`` in percent (100 of nothing)."""
    return 100.0 * part / whole if whole else 100.0


def summary(statuses: dict[str, str], seconds: int | None) -> list[str]:
    """Return the summary lines: the totals, then one line per module."""
    by_module: dict[str, Counter[str]] = {}
    for name, status in statuses.items():
        by_module.setdefault(module_of(name), Counter())[status] += 1
    total = Counter(statuses.values())
    killed = sum(total[status] for status in KILLED)
    took = f" in {seconds // 60} min {seconds % 60} s" if seconds is not None else ""
    lines = [
        f"mutants: {len(statuses)}, killed: {killed} ({percent(killed, len(statuses)):.1f}%){took}",
        "by status: " + ", ".join(f"{status} {count}" for status, count in sorted(total.items())),
        "",
        f"{'module':<32} {'mutants':>8} {'killed':>7} {'%':>6}",
    ]
    for module, counts in sorted(by_module.items()):
        count, dead = sum(counts.values()), sum(counts[status] for status in KILLED)
        lines.append(f"{module:<32} {count:>8} {dead:>7} {percent(dead, count):>6.1f}")
    return lines


def survivors(statuses: dict[str, str]) -> list[tuple[str, str, str]]:
    """Return ``(name, status, why)`` of every mutant not killed; why is empty for a gap in the tests."""
    return [
        (name, status, EQUIVALENT.get(name, ""))
        for name, status in sorted(statuses.items())
        if status not in KILLED
    ]


def report(statuses: dict[str, str], lines: list[str]) -> str:
    """Return the Markdown report: the summary, then each survivor with its reason and its diff."""
    parts = ["# Mutation testing (make mutate)", "", "```", *lines, "```", "", "## Not killed", ""]
    left = survivors(statuses)
    if not left:
        parts.append("None.")
    for name, status, why in left:
        parts += [f"### {name}: {status}", "", f"Equivalent: {why}" if why else "**Not explained: a gap.**"]
        parts += ["", "```diff", mutmut("show", name).strip(), "```", ""]
    return "\n".join(parts) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Print the summary and the survivors, write the report; 1 if too few mutants were killed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--min", type=float, default=90.0, help="the least percentage killed that passes")
    parser.add_argument("--seconds", type=int, help="how long the run took, for the summary")
    parser.add_argument("--out", type=Path, default=Path("reports/mutation.md"))
    args = parser.parse_args(argv)
    statuses = results()
    if not statuses:
        print("no mutation results: run `mutmut run` first", file=sys.stderr)
        return 1
    lines = summary(statuses, args.seconds)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(report(statuses, lines))
    print("\n".join(lines))
    print("\nnot killed:")
    for name, status, why in survivors(statuses) or [("none", "", "")]:
        print(f"  {name} {status}: {why or 'NOT EXPLAINED'}" if status else "  none")
    print(f"\nfull report, with each survivor's diff: {args.out}")
    killed = sum(1 for status in statuses.values() if status in KILLED)
    if percent(killed, len(statuses)) < args.min:
        print(f"FAIL: under {args.min:.0f}% of the mutants killed", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
