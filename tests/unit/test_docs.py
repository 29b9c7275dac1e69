"""The docs cannot drift from the code.

Every command line that README.md, docs/*.md, bench/README.md and minimesos/README.md show (in
fenced code blocks and in inline code spans) is checked against what it names:

* ``halyard ...`` and ``deploy ...``: the command and each subcommand exist (the click group of
  ``halyard.cli.main``, its subcommands imported as ``halyard`` itself imports them), each flag is
  an option of that (sub)command, and a lowercase value given to an option with fixed choices is
  one of them (``-o yaml|json``);
* ``minimesos/...``: the file exists (the run dir ``minimesos/.run/`` excepted: ``up`` makes it);
  for the scripts that hand over to ``minimesos/cli.py SUBCOMMAND``, each flag is one that
  subcommand's argparse parser accepts, and a first argument with fixed choices is one of them
  (``minimesos/agent stop|start|restart K``). The parser is taken from ``cli.main`` before it
  parses anything: nothing runs;
* ``make TARGET``: the Makefile defines the target (``NAME=value`` words are make's variables).

Every file an inline code span names (``engine/launch.py``, ``views/cluster.js``, ``examples/hello.yaml``)
is in the repository: a module renamed or moved cannot leave its old name in the docs.

Every relative link (``[text](page.md#heading)``) leads to a file that exists, and to a heading
of it. In docs/architecture.md, the map, every class (``Launcher``), method (``Engine.handle``)
and function (``decode_offer``) an inline code span names is defined in ``framework/``.

Every endpoint (``METHOD /path``, methods joined by ``|`` or ``/``) any of those pages names is in
the API's OpenAPI document, and every endpoint of that document is named in docs/api.md. Every
option of ``halyard scheduler`` is in a command line of docs/scheduler.md, and every command and
subcommand of ``halyard`` is in some page's command lines.

The notation the checker reads (a synopsis is a command line too): ``[...]`` and ``(...)`` group
and are ignored; ``a|b`` are alternatives (each one is checked: ``halyard apps list|show``,
``--a|--b``); ``...``, ``# comments``, a ``$ `` prompt and leading ``NAME=value`` assignments are
ignored; a line ending in ``\\`` goes on. A standalone ``|`` is an alternative too, never a pipe.
"""
from __future__ import annotations

import argparse
import ast
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from unittest import mock

import click
import pytest

from halyard.api.server import create_app
from halyard.cli import deploy as deploy_cli
from halyard.cli.main import COMMANDS, cli

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), ROOT / "bench" / "README.md",
         ROOT / "minimesos" / "README.md"]
API_PAGE = ROOT / "docs" / "api.md"
SCHEDULER_PAGE = ROOT / "docs" / "scheduler.md"
MINIMESOS = ROOT / "minimesos"

#: Endpoints the pages name that are not Halyard's: the registry's API that digest pinning calls, the
#: Mesos master's scheduler API that the simulator (docs/simulator.md) speaks, and the master's
#: operator API that the operator stream reads (docs/agents.md).
FOREIGN = {("HEAD", "/v2/<name>/manifests/<tag>"), ("POST", "/api/v1")}
#: Pages about another program's API (the Mesos master the simulator plays): their endpoints and
#: source files are that program's, not Halyard's.
FOREIGN_PAGES = {ROOT / "docs" / "simulator.md"}
#: Files the pages name that are not the repository's: Docker's credentials file (whose format
#: ``--registry-credentials`` reads), ZooKeeper's config in the run dir, Mesos' own source and docs.
FOREIGN_FILES = {"config.json", "zoo.cfg", "src/master/main.cpp"}

# --- reading the pages --------------------------------------------------------------------------

FENCE = re.compile(r"^\s*(```|~~~)")
SPAN = re.compile(r"(`+)(.+?)\1", re.S)


def snippets(text: str) -> Iterator[tuple[int, str]]:
    """(line number, text) of each line of a fenced code block (a line ending in ``\\`` joined with
    the next) and of each inline code span outside them, in the page's order."""
    yield from sorted([*fenced_lines(text), *inline_spans(text)], key=lambda item: item[0])


def blocks(text: str) -> Iterator[tuple[bool, list[tuple[int, str]]]]:
    """The page as alternating runs of lines: (fenced?, [(line number, line), ...])."""
    fenced, run = False, []
    for number, line in enumerate(text.splitlines(), 1):
        if FENCE.match(line):
            yield fenced, run
            fenced, run = not fenced, []
        else:
            run.append((number, line))
    yield fenced, run


def fenced_lines(text: str) -> Iterator[tuple[int, str]]:
    for fenced, run in blocks(text):
        i = 0
        while fenced and i < len(run):
            number, line = run[i]
            i += 1
            while line.rstrip().endswith("\\") and i < len(run):
                line = line.rstrip()[:-1] + " " + run[i][1].strip()
                i += 1
            yield number, line


def inline_spans(text: str) -> Iterator[tuple[int, str]]:
    """The inline code spans outside fenced blocks, each with the line it starts on: a span may
    wrap onto the next line (not past a blank one), and a table cell's escaped pipe ``\\|`` is a
    pipe."""
    for fenced, run in blocks(text):
        if fenced or not run:
            continue
        first, prose = run[0][0], "\n".join(line for _, line in run)
        for match in SPAN.finditer(prose):
            if "\n\n" not in match.group(2) and not match.group(2).isspace():
                yield (first + prose.count("\n", 0, match.start()),
                       " ".join(match.group(2).replace("\\|", "|").split()))


def tokens(line: str) -> list[str]:
    """A command line's words: a ``$ `` prompt, ``NAME=value`` assignments and a trailing comment
    dropped; the synopsis' brackets and parentheses stripped; ``...`` left out."""
    line = re.sub(r"(^|\s)#(\s.*|$)", "", line.strip())
    line = re.sub(r"^\$\s+", "", line)
    try:
        words = shlex.split(line)
    except ValueError:  # an unbalanced quote in prose: words as written
        words = line.split()
    words = [w.strip("[]()") for w in words]
    words = [w for w in words if w and w.strip(".") != ""]
    while words and re.fullmatch(r"[A-Z_][A-Z0-9_]*=\S*", words[0]):
        words.pop(0)
    return words


def program(word: str) -> str | None:
    """Which checked program a command line starts with: halyard, deploy, make, or minimesos/..."""
    if word.startswith(("minimesos/", "./minimesos/")):
        return "minimesos"
    name = word.rsplit("/", 1)[-1] if word.startswith((".venv/", "./", "/")) else word
    return name if name in ("halyard", "deploy", "make") else None


def command_lines(text: str) -> Iterator[tuple[int, list[str]]]:
    """(line number, words) of every checked command line in a page's text."""
    for number, snippet in snippets(text):
        words = tokens(snippet)
        if words and program(words[0]) is not None:
            yield number, words


def alternatives(word: str) -> list[str]:
    return [w for w in word.split("|") if w]


# --- halyard and deploy: click ------------------------------------------------------------------

def option_names(command: click.Command, ctx: click.Context) -> dict[str, click.Option]:
    names: dict[str, click.Option] = {}
    params = [*command.params, command.get_help_option(ctx)]
    for param in params:
        if isinstance(param, click.Option):
            for name in (*param.opts, *param.secondary_opts):
                names[name] = param
    return names


def check_click(command: click.Command, ctx: click.Context, words: list[str], seen: set[str]) -> list[str]:
    """Problems of ``words`` (what follows the command's name) for a click command or group."""
    where = ctx.command_path
    seen.add(where)
    options = option_names(command, ctx)
    problems: list[str] = []
    i = 0
    while i < len(words):
        word = words[i]
        i += 1
        if word.startswith("-") and word != "-":
            flag, _, inline = word.partition("=")
            for name in alternatives(flag):
                option = options.get(name)
                if option is None:
                    problems.append(f"{where}: no option {name}")
                    continue
                value = inline or (words[i] if not option.is_flag and i < len(words) else "")
                if not option.is_flag and not inline:
                    i += 1
                if isinstance(option.type, click.Choice) and re.fullmatch(r"[a-z][a-z0-9|_-]*", value):
                    problems += [f"{where} {name}: {v!r} is not one of {', '.join(option.type.choices)}"
                                 for v in alternatives(value) if v not in option.type.choices]
        elif isinstance(command, click.Group):
            for name in alternatives(word):
                sub = command.get_command(ctx, name)
                if sub is None:
                    problems.append(f"{where}: no subcommand {name!r}")
                else:
                    sub_ctx = click.Context(sub, parent=ctx, info_name=name, **sub.context_settings)
                    problems += check_click(sub, sub_ctx, words[i:], seen)
            return problems
    return problems


def root_context(command: click.Command, name: str) -> click.Context:
    return click.Context(command, info_name=name, **command.context_settings)


# --- minimesos: argparse ------------------------------------------------------------------------

class _Parsed(Exception):
    """Raised instead of parsing: carries the parser ``cli.main`` built."""


@cache
def minimesos_parser() -> argparse.ArgumentParser:
    """The parser of ``minimesos/cli.py``, as its ``main`` builds it; stopped before it parses."""
    sys.path.insert(0, str(MINIMESOS))
    import cli as minimesos_cli  # the minimesos directory's own module (standard library only)

    def stop(parser: argparse.ArgumentParser, *args: object, **kwargs: object) -> None:
        raise _Parsed(parser)

    with mock.patch.object(argparse.ArgumentParser, "parse_args", stop):
        try:
            minimesos_cli.main([])
        except _Parsed as parsed:
            return parsed.args[0]
    raise AssertionError("minimesos/cli.py's main parsed nothing")  # pragma: no cover


def subparser(name: str) -> argparse.ArgumentParser | None:
    for action in minimesos_parser()._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action.choices.get(name)
    return None  # pragma: no cover


def check_minimesos(words: list[str]) -> list[str]:
    script = words[0].removeprefix("./")
    relative = script.removeprefix("minimesos/")
    if relative.startswith(".run/") or relative == ".run":
        return []  # the run dir: made by minimesos/up
    path = MINIMESOS / relative
    if not path.exists():
        return [f"{script}: no such file"]
    handover = re.search(r'cli\.py"?\s+(\w+)\s+"\$@"', path.read_text(errors="replace")) if path.is_file() else None
    if handover is None:
        return [f"{script} takes no arguments here: {' '.join(words[1:])}"] if len(words) > 1 and \
            any(w.startswith("-") for w in words[1:]) else []
    parser = subparser(handover.group(1))
    if parser is None:
        return [f"{script}: minimesos/cli.py has no subcommand {handover.group(1)!r}"]
    problems = []
    positionals = [a for a in parser._actions if not a.option_strings]
    first = True
    for i, word in enumerate(words[1:], 1):
        if word.startswith("-"):
            problems += [f"{script}: no option {name}" for name in alternatives(word.partition("=")[0])
                         if name not in parser._option_string_actions]
        elif first and positionals and positionals[0].choices and (i == 1 or not words[i - 1].startswith("-")):
            first = False
            problems += [f"{script}: {v!r} is not one of {', '.join(positionals[0].choices)}"
                         for v in alternatives(word) if v not in positionals[0].choices]
    return problems


# --- make ---------------------------------------------------------------------------------------

def check_make(words: list[str]) -> list[str]:
    """Every target exists; a variable given as ``NAME=VALUE`` is one the Makefile reads (``$(NAME)``)."""
    makefile = (ROOT / "Makefile").read_text()
    variables = [w.partition("=")[0] for w in words[1:] if re.fullmatch(r"[A-Z_][A-Z0-9_]*=\S*", w)]
    return [f"make: no target {target!r}" for word in words[1:] if not word.startswith("-") and "=" not in word
            for target in alternatives(word) if not re.search(rf"^{re.escape(target)}:", makefile, re.M)] + \
        [f"make: no variable {name}" for name in variables if f"$({name})" not in makefile]


# --- one line, one page -------------------------------------------------------------------------

def check_line(words: list[str], seen: set[str] | None = None) -> list[str]:
    """Problems of one command line (its words as :func:`tokens` gives them)."""
    seen = set() if seen is None else seen
    which = program(words[0])
    if which == "halyard":
        return check_click(cli, root_context(cli, "halyard"), words[1:], seen)
    if which == "deploy":
        return check_click(deploy_cli.deploy, root_context(deploy_cli.deploy, "deploy"), words[1:], seen)
    if which == "make":
        return check_make(words)
    return check_minimesos(words)


def command_problems(text: str, seen: set[str] | None = None) -> list[str]:
    """Every problem of every command line in a page's text, each with its line number."""
    return [f"line {number}: {' '.join(words)}: {problem}"
            for number, words in command_lines(text) for problem in check_line(words, seen)]


# --- endpoints ----------------------------------------------------------------------------------

METHODS = "GET|POST|PUT|PATCH|DELETE|HEAD"
ENDPOINT = re.compile(rf"\b((?:{METHODS})(?:\s*[|/]\s*(?:{METHODS}))*)\s+(/[^\s`]*)")


def paths_of(written: str) -> list[str]:
    """The paths a written path stands for: its query left out, ``[/optional]`` parts with and
    without, ``a|b`` in its last segment each."""
    path = re.sub(r"\[\?[^\]]*\]", "", written)
    path = path.split("?", 1)[0].rstrip(".,:;)")
    optional = re.search(r"\[(/[^\]]*)\]", path)
    if optional:
        return (paths_of(path[:optional.start()] + path[optional.end():])
                + paths_of(path[:optional.start()] + optional.group(1) + path[optional.end():]))
    head, _, last = path.rpartition("/")
    return [f"{head}/{alt}" for alt in last.split("|")] if "|" in last else [path]


def shape(path: str) -> tuple[str, ...]:
    """A path with every parameter (``{id}``, ``{app_id}``, ``<digest>``) the same."""
    return tuple("{}" if re.fullmatch(r"\{[^}]*\}|<[^>]*>", s) else s for s in path.strip("/").split("/"))


def named_endpoints(text: str) -> Iterator[tuple[int, str, str]]:
    """(line number, method, path) of every endpoint a page's text names (wrapped onto the next
    line or not; a table cell's escaped pipe ``\\|`` is a pipe)."""
    text = text.replace("\\|", "|")
    for match in ENDPOINT.finditer(text):
        number = text.count("\n", 0, match.start()) + 1
        for method in re.split(r"\s*[|/]\s*", match.group(1)):
            for path in paths_of(match.group(2)):
                yield number, method, path


@cache
def served() -> frozenset[tuple[str, tuple[str, ...]]]:
    """(method, path shape) of every endpoint in the OpenAPI document (with the release desk's)."""
    doc = create_app(backend=None, release_desk=object()).openapi()  # type: ignore[arg-type]
    return frozenset((method.upper(), shape(path)) for path, item in doc["paths"].items() for method in item)


def endpoint_problems(text: str) -> list[str]:
    return [f"line {number}: {method} {path}: not in the OpenAPI document"
            for number, method, path in named_endpoints(text)
            if (method, path) not in FOREIGN and (method, shape(path)) not in served()]


# --- files -------------------------------------------------------------------------------------

FILE = re.compile(r"[\w./-]+\.(?:py|js|css|html|sh|yaml|json|md|cfg|toml|cpp)\b")


@cache
def repository_files() -> frozenset[str]:
    """The repository's files: tracked, and new ones not ignored (a module added is found before its commit)."""
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                            capture_output=True, text=True, check=True).stdout.split()
    return frozenset(listed)


def file_problems(text: str) -> list[str]:
    """Every file an inline code span names that the repository lacks: a path is matched on whole
    components from its end (``engine/launch.py`` is ``framework/engine/launch.py``). Placeholders
    (``SERVICE.yaml``, ``views/NAME.js``), URL paths (``/openapi.json``), the run dir
    (``.run/...``) and :data:`FOREIGN_FILES` are not files of the repository."""
    files = repository_files()
    problems = []
    for number, span in inline_spans(text):
        for name in FILE.findall(span):
            name = name.removeprefix("./")
            stem = name.rsplit("/", 1)[-1].split(".")[0]
            if (name.startswith(("/", ".run/", "minimesos/.run/")) or name in FOREIGN_FILES
                    or re.fullmatch(r"[A-Z_]+", stem) and name not in files):
                continue
            if not any(f == name or f.endswith("/" + name) for f in files):
                problems.append(f"line {number}: {name}: no such file in the repository")
    return problems


# --- links -------------------------------------------------------------------------------------

LINK = re.compile(r"\]\(([^)\s]+)\)")


def anchor(heading: str) -> str:
    """A heading's anchor as GitHub makes it: lowercase, punctuation dropped, spaces as hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    return {anchor(line.lstrip("#")) for fenced, run in blocks(page.read_text()) if not fenced
            for _, line in run if re.match(r"#{1,6} ", line)}


def link_problems(page: Path, text: str | None = None) -> list[str]:
    """Every relative link of a page whose file, or heading, is not there."""
    text = page.read_text() if text is None else text
    problems = []
    for fenced, run in blocks(text):
        for number, line in ([] if fenced else run):
            for target in LINK.findall(line):
                if re.match(r"[a-z]+:", target):
                    continue  # http:, https:, mailto:
                path, _, heading = target.partition("#")
                linked = (page.parent / path).resolve() if path else page
                if not linked.exists():
                    problems.append(f"line {number}: {target}: no such file")
                elif heading and linked.suffix == ".md" and heading not in anchors(linked):
                    problems.append(f"line {number}: {target}: no such heading")
    return problems


# --- the names the map gives -------------------------------------------------------------------

ARCHITECTURE = ROOT / "docs" / "architecture.md"
FRAMEWORK = ROOT / "framework"
CLASS_NAME = re.compile(r"([A-Z][a-z0-9]\w*)(?:\.(\w+))?(?:\(.*\))?")
FUNCTION_NAME = re.compile(r"(_?[a-z][a-z0-9]*(?:_[a-z0-9]+)+)(?:\(.*\))?")
#: Names the map gives that are not Halyard's code: Marathon's and Mesos' own, the executor's package.
FOREIGN_NAMES = {"AppNormalization", "DiscoveryInfo", "check_status", "halyard_executor"}


@cache
def definitions() -> tuple[dict[str, frozenset[str]], frozenset[str]]:
    """framework/'s classes (each with what its body defines) and every function and method name."""
    classes: dict[str, set[str]] = {}
    functions: set[str] = set()
    for path in FRAMEWORK.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef):
                body = classes.setdefault(node.name, set())
                for item in node.body:
                    if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                        body.add(item.name)
                    elif isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
                        body.add(item.target.id)
                    elif isinstance(item, ast.Assign):
                        body |= {t.id for t in item.targets if isinstance(t, ast.Name)}
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                functions.add(node.name)
    return {name: frozenset(body) for name, body in classes.items()}, frozenset(functions)


def package_file_problems(text: str) -> list[str]:
    """In the map's section of a package (a heading that starts with `` `pkg/` ``), a module named
    without a directory (``members.py``) is that package's: it must be in ``framework/pkg/``. (The
    repository-wide check accepts any file whose path ends so, e.g. another package's.)"""
    problems = []
    for section in re.split(r"(?m)^### ", text)[1:]:
        package = re.match(r"`([a-z_]+)/`", section)
        if not package:
            continue
        for number, span in inline_spans(section):
            for name in FILE.findall(span):
                if "/" not in name and name.endswith(".py") and not (FRAMEWORK / package[1] / name).exists():
                    problems.append(f"{package[1]}/: {name}: not in framework/{package[1]}/")
    return problems


def name_problems(text: str) -> list[str]:
    """Every class, ``Class.member`` or function an inline code span names that framework/ does not
    define (Marathon's event types and :data:`FOREIGN_NAMES` aside)."""
    from halyard.api.event_json import MARATHON_TYPES

    classes, functions = definitions()
    problems = []
    for number, span in inline_spans(text):
        if match := CLASS_NAME.fullmatch(span):
            name, member = match.groups()
            if name in FOREIGN_NAMES:
                continue
            if name not in classes:
                problems.append(f"line {number}: {span}: no class {name} in framework/")
            elif member and member not in classes[name]:
                problems.append(f"line {number}: {span}: {name} has no {member}")
        elif (match := FUNCTION_NAME.fullmatch(span)) and match.group(1) not in FOREIGN_NAMES | MARATHON_TYPES:
            if match.group(1) not in functions:
                problems.append(f"line {number}: {span}: no function {match.group(1)} in framework/")
    return problems


# --- the pages ----------------------------------------------------------------------------------

@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_command_line_names_commands_and_flags_that_exist(page):
    assert command_problems(page.read_text()) == []


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_endpoint_named_is_in_the_openapi_document(page):
    if page in FOREIGN_PAGES:
        pytest.skip("a page about the Mesos master's API")
    assert endpoint_problems(page.read_text()) == []


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_file_named_exists(page):
    if page in FOREIGN_PAGES:
        pytest.skip("a page about the Mesos master's source")
    assert file_problems(page.read_text()) == []


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_link_leads_somewhere(page):
    assert link_problems(page) == []


def test_the_map_names_classes_methods_and_functions_that_exist():
    assert name_problems(ARCHITECTURE.read_text()) == []


def test_the_map_names_each_package_s_own_modules():
    assert package_file_problems(ARCHITECTURE.read_text()) == []


def test_the_api_page_names_every_endpoint_the_api_serves():
    named = {(method, shape(path)) for _, method, path in named_endpoints(API_PAGE.read_text())}
    missing = sorted(f"{method} /{'/'.join(path)}" for method, path in served() - named)
    assert missing == []


def test_the_scheduler_page_shows_every_option_of_halyard_scheduler():
    ctx = root_context(cli, "halyard")
    scheduler = cli.get_command(ctx, "scheduler")
    shown = {word.partition("=")[0] for _, words in command_lines(SCHEDULER_PAGE.read_text())
             if words[:2] == ["halyard", "scheduler"] for word in words if word.startswith("-")}
    options = {p.opts[0] for p in scheduler.params if isinstance(p, click.Option)}
    assert sorted(options - shown) == []


def test_every_command_and_subcommand_is_shown_somewhere():
    seen: set[str] = set()
    for page in PAGES:
        command_problems(page.read_text(), seen)
    ctx = root_context(cli, "halyard")
    wanted = {f"halyard {name}" for name in COMMANDS}
    for name in ("apps", "job"):
        group = cli.get_command(ctx, name)
        wanted |= {f"halyard {name} {sub}" for sub in group.commands}
    assert sorted(wanted - seen) == []


# --- the checker itself: it fails on what it is there to catch ------------------------------------

@pytest.mark.parametrize("line, problem", [
    ("halyard plan --cluster C APP --bogus", "halyard plan: no option --bogus"),
    ("halyard nosuch --help", "halyard: no subcommand 'nosuch'"),
    ("halyard apps frobnicate ID", "halyard apps: no subcommand 'frobnicate'"),
    ("halyard apps list|shove ID", "halyard apps: no subcommand 'shove'"),
    ("halyard job logs JOB RUN [--stderr] [--lines N] [--tail N]", "halyard job logs: no option --tail"),
    ("halyard validate FILE -o table", "halyard validate -o: 'table' is not one of yaml, json"),
    ("halyard scheduler --master M --zk Z [--discovery-format serverset|etcd]",
     "halyard scheduler --discovery-format: 'etcd' is not one of serverset, curator"),
    ("deploy hello 1 dev --services examples/services --dry-run", "deploy: no option --dry-run"),
    ("minimesos/up --agents 3 --nodes 2", "minimesos/up: no option --nodes"),
    ("minimesos/agent explode 1", "minimesos/agent: 'explode' is not one of stop, start, restart"),
    ("minimesos/registry start|pause", "minimesos/registry: 'pause' is not one of start, stop, status"),
    ("minimesos/teleport", "minimesos/teleport: no such file"),
    ("make bench-all", "make: no target 'bench-all'"),
])
def test_a_planted_mistake_is_caught(line, problem):
    assert problem in check_line(tokens(line))


@pytest.mark.parametrize("line", [
    "halyard --help", "halyard apps list|show ID [--api URL] [-o json]", "halyard job run FILE [--env ENV] [--wait [--timeout S]]",
    "halyard validate FILE [--env ENV] [-o yaml|json]", "HALYARD_API=http://h:8080 halyard apps list",
    "$ halyard rebalance /web --dry-run", ".venv/bin/halyard plan --compare binpack,spread --cluster C APP",
    "deploy hello 1 dev --services examples/services   # a comment --not-a-flag",
    "minimesos/up --auth", "minimesos/zk stop|start|restart", "minimesos/.run/cluster.env", "make run",
    "make run HA=1",
])
def test_a_correct_line_passes(line):
    assert check_line(tokens(line)) == []


def test_command_lines_are_read_from_fences_continuations_and_spans():
    page = ("Run `halyard plan --strategy spread` or `halyard.rebalance=false`, and `deploy`:\n"
            "```sh\n"
            "$ halyard scheduler --master URL \\\n"
            "    --zk ZK   # the state\n"
            "echo done\n"
            "```\n"
            "`minimesos/up --auth` and ``make test``\n")
    assert list(command_lines(page)) == [
        (1, ["halyard", "plan", "--strategy", "spread"]), (1, ["deploy"]),
        (3, ["halyard", "scheduler", "--master", "URL", "--zk", "ZK"]),
        (7, ["minimesos/up", "--auth"]), (7, ["make", "test"])]
    planted = page.replace("--zk ZK", "--zk ZK --zookeeper ZK")
    assert command_problems(planted) == [
        "line 3: halyard scheduler --master URL --zk ZK --zookeeper ZK: halyard scheduler: no option --zookeeper"]


def test_a_span_or_an_endpoint_wrapped_onto_the_next_line_is_read_whole():
    page = ("Use `halyard plan --cluster C\n--bogus APP` here, `GET|DELETE\n/v2/apps/{id}` and `PATCH\n"
            "/v2/nope`.\n\n| `minimesos/agent stop\\|explode K` | a table |\n")
    assert list(inline_spans(page)) == [(1, "halyard plan --cluster C --bogus APP"), (2, "GET|DELETE /v2/apps/{id}"),
                                        (3, "PATCH /v2/nope"), (6, "minimesos/agent stop|explode K")]
    assert command_problems(page) == [
        "line 1: halyard plan --cluster C --bogus APP: halyard plan: no option --bogus",
        "line 6: minimesos/agent stop|explode K: minimesos/agent: 'explode' is not one of stop, start, restart"]
    assert endpoint_problems(page) == ["line 3: PATCH /v2/nope: not in the OpenAPI document"]


def test_endpoints_are_read_with_alternatives_optional_parts_and_queries():
    text = ("`GET|DELETE /v2/apps/{id}[?force=true]`, `GET /v2/groups[/{id}]`, "
            "`GET /v1/jobs/{id}/runs/{runId}/stdout|stderr`, `POST /v1/plan?compare=a,b`.")
    assert [(m, p) for _, m, p in named_endpoints(text)] == [
        ("GET", "/v2/apps/{id}"), ("DELETE", "/v2/apps/{id}"), ("GET", "/v2/groups"), ("GET", "/v2/groups/{id}"),
        ("GET", "/v1/jobs/{id}/runs/{runId}/stdout"), ("GET", "/v1/jobs/{id}/runs/{runId}/stderr"),
        ("POST", "/v1/plan")]
    assert endpoint_problems(text) == []
    assert endpoint_problems("`GET /v2/nope` and `PATCH /v2/queue` and `DELETE /v1/plan`") == [
        "line 1: GET /v2/nope: not in the OpenAPI document", "line 1: PATCH /v2/queue: not in the OpenAPI document",
        "line 1: DELETE /v1/plan: not in the OpenAPI document"]


def test_a_file_that_moved_is_caught():
    text = ("`engine/launch.py` and `views/cluster.js`; `SERVICE.yaml`, `/openapi.json`, `minimesos/.run/cluster.env`,\n"
            "`engine/app_updates.py` (now task_updates.py) and `model.py`\n")
    assert file_problems(text) == ["line 2: engine/app_updates.py: no such file in the repository",
                                   "line 2: model.py: no such file in the repository"]


def test_a_broken_link_is_caught():
    page = ROOT / "docs" / "api.md"
    text = ("[ok](scheduler.md#deployments-that-end), [here](#events), [web](https://example.org/x.md),\n"
            "[gone](placement.md#no-such-part) and [moved](engine.md)\n")
    assert link_problems(page, text) == ["line 2: placement.md#no-such-part: no such heading",
                                         "line 2: engine.md: no such file"]


def test_a_name_the_map_gives_that_moved_is_caught():
    text = ("`Engine.handle`, `Launcher`, `decode_offer`, `Offers(...)`, `status_update_event`, `AppNormalization`;\n"
            "`Engine.converge_all`, `SchedulerStep`, `app_updates_of`\n")
    assert name_problems(text) == ["line 2: Engine.converge_all: Engine has no converge_all",
                                   "line 2: SchedulerStep: no class SchedulerStep in framework/",
                                   "line 2: app_updates_of: no function app_updates_of in framework/"]


def test_a_module_the_map_gives_to_the_wrong_package_is_caught():
    text = ("# Architecture\n\n### `lb/`: `halyard lb`\n\n`render.py` and `members.py`\n\n"
            "### `engine/`: events\n\n`members.py`, `store/zk.py`\n")
    assert package_file_problems(text) == ["lb/: members.py: not in framework/lb/"]
