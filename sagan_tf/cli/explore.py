"""Explore a trained generator in the browser: sagan-explore --model export/models/sagan.

Starts a local web app on an exported generator (sagan-export's --out: the newest version unless
--version says which), on a training run (--logdir: its EMA generator unless --raw) or on a generator
that ships with the package (--pretrained fashion_mnist32). In the page:
pick a class and a seed, move the truncation, interpolate between two seeds and two classes, click
any pixel of an image to see where each attention layer of G looks from there (paper eq. 1, Figures
1 and 5), and download any image or grid as PNG. It listens on 127.0.0.1 unless --host says
otherwise and prints its URL on stdout; Ctrl+C stops it. Needs pip install 'sagan-tf[explore]'.

It answers only requests whose Host header names the address it listens on (with --host
127.0.0.1 also localhost and [::1]): a web page that points its own domain name at the local host
(DNS rebinding) gets 403. --allowed-host NAME adds a name (a reverse proxy's, the machine's name on
the network), --allow-any-host drops the check. At most --max-images images are computed at once
across all requests, in generator calls of at most --batch; a request that does not fit within
--wait seconds gets 503 with Retry-After, and uvicorn answers 503 beyond --max-connections.
"""

from __future__ import annotations

import sys

from sagan_tf.cli.arguments import add_checkpoint, generator_source, parser, positive
from sagan_tf.errors import SaganError, exits_cleanly
from sagan_tf.explore import limits as defaults


def parse_args(argv=None):
    p = parser("explore", __doc__)
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--model", help="sagan-export's --out directory, or one version directory in it")
    source.add_argument("--logdir", help="a training run directory (config.yaml, checkpoints/) instead of an export")
    source.add_argument("--pretrained", metavar="NAME", help="a generator shipped with the package: fashion_mnist32")
    add_checkpoint(p)
    p.add_argument("--version", type=int, help="with --model: the version to load, else the newest")
    p.add_argument("--raw", action="store_true", help="with --logdir: the trained G instead of its EMA")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (0.0.0.0: every network interface of the host)")
    p.add_argument("--port", type=int, default=8080, help="port to listen on (0: any free port)")
    p.add_argument("--allowed-host", action="append", default=[], metavar="NAME",
                   help="also answer requests for this host name (NAME: at any port, NAME:PORT: at that port); repeatable")
    p.add_argument("--allow-any-host", action="store_true",
                   help="answer requests whatever host they name (no protection against DNS rebinding)")
    p.add_argument("--max-images", type=int, default=defaults.MAX_IMAGES,
                   help="images computed at once across all requests; a request holds min(its images, this)")
    p.add_argument("--batch", type=int, default=defaults.BATCH, help="images per generator call at most")
    p.add_argument("--wait", type=float, default=defaults.WAIT_SECONDS,
                   help="seconds a request waits for room among --max-images before it gets 503")
    p.add_argument("--max-connections", type=int, default=defaults.MAX_CONNECTIONS,
                   help="open connections and running requests at most (uvicorn answers 503 beyond)")
    return p.parse_args(argv)


def check_args(args) -> None:
    if args.version is not None and args.model is None:
        raise SaganError("--version selects an export version: it goes with --model, not --logdir")
    positive("--version", args.version)
    if args.checkpoint and args.model is not None:
        raise SaganError("--checkpoint selects a run's checkpoint: it goes with --logdir or --pretrained, not --model")
    if args.raw and args.logdir is None:
        raise SaganError("--raw selects the trained G of a run: it goes with --logdir, not --model or --pretrained")
    if not 0 <= args.port <= 65535:
        raise SaganError(f"--port must be in [0, 65535], got {args.port}")
    for flag in ("--max-images", "--batch", "--max-connections"):
        positive(flag, getattr(args, flag[2:].replace("-", "_")))
    if not 0 <= args.wait <= 3600:
        raise SaganError(f"--wait must be in [0, 3600] seconds, got {args.wait:g}")
    if args.allow_any_host and args.allowed_host:
        raise SaganError("--allow-any-host answers every host: --allowed-host has nothing to add to it")
    from sagan_tf.explore.hosts import split_host

    for name in args.allowed_host:
        if split_host(name) is None:
            raise SaganError(f"--allowed-host takes NAME or NAME:PORT, got {name!r}")


@exits_cleanly
def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    check_args(args)
    source = generator_source(args)
    try:
        import fastapi  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as e:
        raise SaganError(f"sagan-explore needs the web app's packages ({e.name} is missing): "
                         "pip install 'sagan-tf[explore]'") from None
    from sagan_tf.explore.hosts import is_local
    from sagan_tf.explore.limits import Limits
    from sagan_tf.explore.server import bind, make_server, serving_hosts, url

    sock = bind(args.host, args.port)  # a busy port fails now, not after the model has loaded
    hosts = serving_hosts(sock, args.host, args.allowed_host, args.allow_any_host)
    limits = Limits(args.max_images, args.batch, args.wait, args.max_connections)
    from sagan_tf.explore.app import create_app
    from sagan_tf.serving.generators import load_export, load_run

    generator = load_export(args.model, args.version) if args.model else load_run(source.path, args.raw, args.checkpoint)
    address = url(sock)

    def started():
        print(f"sagan-explore: {generator.info.source}; Ctrl+C stops", file=sys.stderr, flush=True)
        if not hosts.any_host and not is_local(args.host):
            print(f"sagan-explore: answers requests for {', '.join(hosts.names())} only; "
                  "--allowed-host NAME adds the name clients use", file=sys.stderr, flush=True)
        print(address, flush=True)

    try:
        make_server(create_app(generator, limits, hosts), on_started=started).run(sockets=[sock])
    except KeyboardInterrupt:  # uvicorn shuts down gracefully, then re-raises Ctrl+C: the normal way to stop
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
