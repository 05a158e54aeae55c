"""Command line: `tlkeras demo` (also `python -m tlkeras demo`).

Its options, defaults and help texts come from `tlkeras.demo.DemoOptions`, the
one place they are written. Every option and the data budget are checked before
any training; an error exits with status 2 and one line, Ctrl-C with 130.
"""

import argparse
import dataclasses
import os
import sys


def _int_at_least(minimum):
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer >= {minimum}, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected an integer >= {minimum}, got {text!r}")
        return value

    parse.__name__ = "integer"
    return parse


def build_parser():
    from tlkeras.demo import DemoOptions

    parser = argparse.ArgumentParser(prog="tlkeras", description="Transfer learning with a conv autoencoder.")
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser(
        "demo",
        help="where learning from unlabeled images pays off, measured, as a report folder",
        description="Pretrain, extract, freeze, fine-tune and learn semi-supervised; compare every strategy with "
        "scratch, paired per seed with a 95 % CI, in each setting of the map; write a report folder "
        "(report.md, results.json, results.csv, PNG plots).",
    )
    for field in dataclasses.fields(DemoOptions):
        meta = dict(field.metadata)
        flags = meta.pop("flags", (f"--{field.name.replace('_', '-')}",))
        help_text = meta.pop("help")
        if field.type is bool or field.type == "bool":
            demo.add_argument(*flags, dest=field.name, action="store_true", default=field.default, help=help_text)
            continue
        if meta.get("type") is int:
            meta["type"] = _int_at_least(0 if field.name == "seed" else 1)
        default = list(field.default) if isinstance(field.default, tuple) else field.default
        if "default" not in help_text:
            help_text += " (default: %(default)s)"
        demo.add_argument(*flags, dest=field.name, default=default, help=help_text, **meta)
    return parser


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser().parse_args(argv)
    import matplotlib

    matplotlib.use("Agg")  # a command line has no display
    from tlkeras.demo import DemoOptions, run_demo

    values = {k: v for k, v in vars(args).items() if k != "command"}
    values["fast"] = values["fast"] or os.environ.get("TLKERAS_FAST") == "1"
    try:
        run_demo(DemoOptions(**values), command=" ".join(["tlkeras", *argv]))
    except (ValueError, FileNotFoundError, OSError) as e:
        print(f"tlkeras demo: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("tlkeras demo: interrupted; the report folder was left as it was.", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
