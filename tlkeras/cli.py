"""Command line: `tlkeras demo`, `tlkeras pretrain` and `tlkeras results` (also `python -m tlkeras ...`).

`demo`'s options, defaults and help texts come from `tlkeras.study.demo_plan.DemoOptions`, the
one place they are written. Every option and the data budget are checked before
any training; an error exits with status 2 and one line, Ctrl-C with 130.
`pretrain` runs multi-process data-parallel pretraining (`tlkeras.scaling.workers`), its options and data
checked the same way before any worker starts.
"""

import argparse
import dataclasses
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
    from tlkeras.study.demo_plan import DemoOptions

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
        if field.name == "fast":
            demo.add_argument(*flags, dest=field.name, action="store_true", default=None, help=help_text)
            continue
        if callable(meta.get("choices")):  # a registry, asked now: what is registered when the parser is built
            meta["choices"] = list(meta["choices"]())
        if meta.get("type") is int:
            meta["type"] = _int_at_least(meta.pop("minimum", 1))
        default = list(field.default) if isinstance(field.default, tuple) else field.default
        if "default" not in help_text:
            help_text += " (default: %(default)s)"
        demo.add_argument(*flags, dest=field.name, default=default, help=help_text, **meta)
    add_pretrain_parser(commands)
    commands.add_parser(
        "results",
        help="the published runs in results/: list, rerun (printing moved verdicts), render the prose that quotes them",
        add_help=False,
    )
    return parser


def add_pretrain_parser(commands):
    from tlkeras import data
    from tlkeras.scaling.workers import WorkerOptions

    default = WorkerOptions()
    pretrain = commands.add_parser(
        "pretrain",
        help="data-parallel pretraining (and fine-tuning) over several processes, JAX backend",
        description="Pretrain the autoencoder data-parallel over several processes (JAX backend): "
        "--workers N starts N local workers on 127.0.0.1; without it, this process is one worker of a run "
        "over several machines (--coordinator/--num-processes/--process-id or KERAS_DISTRIBUTION_*; "
        "docs/distributed.md). Prints one JSON line per worker.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    positive = _int_at_least(1)
    pretrain.add_argument("--workers", type=positive, help="start this many local worker processes")
    pretrain.add_argument("--cores-per-worker", type=positive, help="with --workers: pin each worker to its cores")
    pretrain.add_argument("--timeout", type=positive, default=3600, help="with --workers: seconds before all stop")
    pretrain.add_argument("--coordinator", help="'host:port' of process 0 (default: $KERAS_DISTRIBUTION_JOB_ADDRESSES)")
    pretrain.add_argument("--num-processes", type=positive, help="(default: $KERAS_DISTRIBUTION_NUM_PROCESSES)")
    pretrain.add_argument("--process-id", type=_int_at_least(0), help="(default: $KERAS_DISTRIBUTION_PROCESS_ID)")
    pretrain.add_argument("--dataset", default=default.dataset, choices=sorted(data.DATASETS))
    pretrain.add_argument("--data", metavar="FILE.npz", help="x_train, y_train, x_test, y_test instead of --dataset")
    pretrain.add_argument("--max-images", type=positive, help="pretrain on the first N training images (default: all)")
    pretrain.add_argument("--epochs", type=positive, default=default.epochs)
    pretrain.add_argument("--batch-size", type=positive, default=default.batch_size, help="the global batch")
    pretrain.add_argument("--filters", type=positive, nargs="+", default=list(default.filters))
    pretrain.add_argument("--latent-dim", type=positive, default=default.latent_dim)
    pretrain.add_argument(
        "--labels-per-class", type=_int_at_least(0), default=0, help="then fine-tune a classifier on N labels per class"
    )
    pretrain.add_argument("--fine-tune-epochs", type=positive, default=default.fine_tune_epochs, help="per phase")
    pretrain.add_argument("--seed", type=_int_at_least(0), default=default.seed)
    pretrain.add_argument("--output", help="process 0 saves the autoencoder here (.keras)")


def pretrain_main(args):
    import json

    from tlkeras.scaling import workers

    fields = {f.name for f in dataclasses.fields(workers.WorkerOptions)}
    options = workers.WorkerOptions(**{k: v for k, v in vars(args).items() if k in fields})
    if args.workers:
        for record in workers.launch_local_workers(options, args.workers, args.timeout, args.cores_per_worker):
            print(json.dumps(record))
        return 0
    record = workers.run_worker(options, args.coordinator, args.num_processes, args.process_id)
    print(json.dumps(record), flush=True)
    return 0


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["results"]:
        import matplotlib

        matplotlib.use("Agg")  # a command line has no display
        from tlkeras.study import published

        return published.main(argv[1:])
    args = build_parser().parse_args(argv)
    if args.command == "pretrain":
        try:
            return pretrain_main(args)
        except (ValueError, FileNotFoundError, OSError, RuntimeError) as e:
            print(f"tlkeras pretrain: error: {e}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            print("tlkeras pretrain: interrupted; every worker was stopped, no model was written.", file=sys.stderr)
            return 130
    import matplotlib

    matplotlib.use("Agg")  # a command line has no display
    from tlkeras.study.demo import run_demo
    from tlkeras.study.demo_plan import DemoOptions

    values = {k: v for k, v in vars(args).items() if k != "command"}
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
