"""The command line: each command parses its flags, loads config and calls one function."""

from __future__ import annotations

import argparse
import functools
import gc
import os
import sys

from sitegen import __version__
from sitegen.errors import SitegenError


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    # A build holds tens of thousands of acyclic records; the default collector would
    # rescan them every few hundred allocations (a third of a no-op rebuild's time).
    gc.set_threshold(10_000, 20, 100)
    try:
        return args.command(args)
    except SitegenError as exc:
        if args.debug:
            raise
        print(f"sitegen: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("sitegen: interrupted", file=sys.stderr)
        return 130
    except OSError as exc:  # the machine, not the data: a full disk, a vanished mount
        if args.debug:
            raise
        where = f": {exc.filename}" if exc.filename else ""
        print(f"sitegen: error: {exc.strerror or exc}{where} (--debug shows where)", file=sys.stderr)
        return 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sitegen", description="Static report sites from benchmark runs.")
    parser.add_argument("--version", action="version", version=f"sitegen {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    # the global flags are taken after a command too (`sitegen build --debug`); SUPPRESS: a
    # command's parser leaves the value given before it alone when they are not repeated there
    after = argparse.ArgumentParser(add_help=False)
    after.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks")
    commands = parser.add_subparsers(title="commands")
    add_command = functools.partial(commands.add_parser, parents=[after])

    build = add_command("build", help="build the site, re-reading only what changed")
    build.add_argument("--config", help="config file (default: sitegen.yaml when present)")
    build.add_argument("--root", action="append", default=[], metavar="DIR", help="a run root (repeatable)")
    build.add_argument("--out", metavar="DIR", help="output directory: new, empty or made by sitegen")
    _allow_foreign_out(build)
    build.add_argument("--full", action="store_true", help="ignore the cache and rebuild everything")
    build.add_argument("--executor", choices=["local", "ray"], help="how runs are read (ray: Ray tasks)")
    build.add_argument("--workers", type=int, metavar="N", help="parallel readers (0: one per core)")
    build.add_argument("--report", metavar="FILE", help="also write the build report here")
    build.add_argument("--strict", action="store_true", help="exit non-zero when any run failed to read")
    build.add_argument("--quiet", "-q", action="store_true", help="print only problems")
    build.set_defaults(command=_build)

    snapshot = add_command("snapshot", help="print a processing job's snapshot (DataJuicer's JSON)")
    snapshot.add_argument("job_dir", metavar="JOB_DIR", help="a DataJuicer job dir")
    snapshot.add_argument("--human-readable", action="store_true", help="a short summary instead of JSON")
    snapshot.set_defaults(command=_snapshot)

    run = add_command("run", help="run a benchmark matrix on Ray, then build the site")
    run.add_argument("--matrix", required=True, metavar="M.yaml", help="the benchmark matrix")
    run.add_argument("--datasets", metavar="D.json", help="{dataset: {format: path}} for {dataset:…}")
    run.add_argument("--sink", choices=["none", "mlflow", "wandb"], default="none",
                     help="where results go besides disk (mlflow: the matrix's mlflow block)")
    run.add_argument("--ray-address", metavar="ADDR",
                     help="submit each entry as a job to this cluster (its job server, http://HOST:8265)")
    run.add_argument("--session-name", metavar="NAME", help="default: nightly-run-<date>-<time>")
    run.add_argument("--results-dir", metavar="DIR", help="default: the matrix's results_dir")
    run.add_argument("--out", metavar="DIR", help="the site's output directory (default: the config's out)")
    _allow_foreign_out(run)
    run.add_argument("--no-build", action="store_true", help="do not build the site afterwards")
    run.add_argument("--dry-run", action="store_true",
                     help="print each entry: command, timeout, resources, requirements; run nothing")
    run.add_argument("--quiet", "-q", action="store_true", help="print only problems while building")
    run.set_defaults(command=_run)

    serve = add_command("serve", help="preview the site on 127.0.0.1; --watch rebuilds it on changes")
    serve.add_argument("--config", help="config file (default: sitegen.yaml when present)")
    serve.add_argument("--root", action="append", default=[], metavar="DIR", help="a run root (repeatable)")
    serve.add_argument("--out", metavar="DIR", help="the site's output directory")
    _allow_foreign_out(serve)
    serve.add_argument("--port", type=int, default=8000, metavar="N", help="default 8000; 0 picks a free one")
    serve.add_argument("--watch", action="store_true", help="build, then rebuild when inputs change; "
                       "open pages reload themselves")
    serve.set_defaults(command=_serve)

    compute = add_command("compute", help="print this machine's compute metadata as JSON")
    compute.set_defaults(command=_compute)
    return parser


def _allow_foreign_out(command: argparse.ArgumentParser) -> None:
    command.add_argument("--allow-foreign-out", action="store_true",
                         help="write into an --out that is not empty and was not made by sitegen "
                              "(its index.html, runs.json … are replaced)")


def _build(args: argparse.Namespace) -> int:
    from sitegen.config import load_config, with_default_roots
    from sitegen.pipeline import build
    from sitegen.reporting import ConsoleReporter

    config = load_config(
        args.config, roots=args.root, out=args.out,
        **{"build.executor": args.executor, "build.workers": args.workers},
    )
    if not config.roots:
        config = with_default_roots(config)  # or an error saying how to configure roots
        if not args.quiet:
            print("no roots configured: building the bundled example runs (set 'roots' in sitegen.yaml "
                  "or pass --root DIR for your own)", file=sys.stderr)
    build(config, full=args.full, strict=args.strict, report_file=args.report,
          reporter=ConsoleReporter(quiet=args.quiet), allow_foreign_out=args.allow_foreign_out)
    return 0


def _serve(args: argparse.Namespace) -> int:
    from sitegen.serve import serve

    serve(args.config, roots=args.root, out=args.out, port=args.port, watch=args.watch,
          allow_foreign_out=args.allow_foreign_out)
    return 0


def _snapshot(args: argparse.Namespace) -> int:
    import msgspec

    from sitegen.errors import ConfigError
    from sitegen.readers.eventlog import snapshot_of
    from sitegen.render.processing import snapshot_text

    if not os.path.isdir(args.job_dir):
        what = "is not a directory" if os.path.exists(args.job_dir) else "does not exist"
        raise ConfigError(f"{args.job_dir}: {what}; give a DataJuicer job dir (it holds events.jsonl)")
    snapshot, warnings = snapshot_of(args.job_dir)
    if snapshot is None:
        raise ConfigError(f"{args.job_dir}: not a processing job (no events.jsonl, events_*.jsonl "
                          "or job_summary.json there)")
    if args.human_readable:
        sys.stdout.write(snapshot_text(snapshot, warnings))
        return 0
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)
    sys.stdout.write(msgspec.json.format(msgspec.json.encode(snapshot), indent=2).decode() + "\n")
    return 0


def _compute(args: argparse.Namespace) -> int:
    import msgspec

    from sitegen.compute import collect

    sys.stdout.write(msgspec.json.format(msgspec.json.encode(collect()), indent=2).decode() + "\n")
    return 0


def _run(args: argparse.Namespace) -> int:
    import msgspec

    from sitegen.config import load_config
    from sitegen.out_dir import check_out_dir
    from sitegen.runner.session import plan_for, run_session

    if args.dry_run:
        from sitegen.runner.plan import describe

        sys.stdout.write(describe(plan_for(args.matrix, args.datasets, args.session_name, args.results_dir)))
        return 0
    config = None
    if not args.no_build:  # a bad config or output dir is found before the session runs
        config = load_config(None, out=args.out)
        check_out_dir(config.out, (), allow_foreign=args.allow_foreign_out)
    session = run_session(args.matrix, args.datasets, session_name=args.session_name,
                          results_dir=args.results_dir, sink=args.sink, ray_address=args.ray_address)
    if config is not None:
        from sitegen.pipeline import build
        from sitegen.reporting import ConsoleReporter

        config = msgspec.structs.replace(config, roots=[session.results_dir])
        build(config, reporter=ConsoleReporter(quiet=args.quiet), allow_foreign_out=args.allow_foreign_out)
    return 1 if session.failed else 0
