"""`tui-trainer serve`: the app in a web browser, through textual-serve, on 127.0.0.1 only."""

from __future__ import annotations

import argparse

HELP = "Serve the app to a web browser on this machine (127.0.0.1 only; forward it over SSH)."
DEFAULT_PORT = 8000
DESCRIPTION = f"""\
Serve the app at http://127.0.0.1:PORT/ (default {DEFAULT_PORT}) with textual-serve: every browser tab
gets its own app process, as if started in a terminal. Only this machine can connect.

On a remote machine, forward the port over SSH and open it locally:
  ssh -L {DEFAULT_PORT}:127.0.0.1:{DEFAULT_PORT} user@gpu-box    # then browse to http://localhost:{DEFAULT_PORT}/

exit status: 0 stopped with Ctrl-C, 2 the port is not a number in 1-65535 or is already in use."""

HOST = "127.0.0.1"  # never 0.0.0.0: the app can read files and start runs, so it is not for the network


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--port",
        type=int,
        default=DEFAULT_PORT,
        metavar="N",
        help=f"port on 127.0.0.1 (default {DEFAULT_PORT})",
    )


def app_command() -> str:
    """What textual-serve runs for each browser tab: this interpreter, straight into the app."""
    import shlex
    import sys

    return f"{shlex.quote(sys.executable)} -m tui_trainer.commands.serve --child"


def run(args: argparse.Namespace) -> int:
    import socket

    from tui_trainer.errors import UserError

    port = args.port
    if not 1 <= port <= 65535:
        raise UserError(f"--port {port}: expected a port number in 1-65535")
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((HOST, port))
        except OSError as exc:
            raise UserError(
                f"--port {port}: cannot listen on {HOST}:{port} ({exc.strerror or exc}); try --port N"
            ) from None
    from textual_serve.server import Server

    print(f"tui-trainer: serving the app at http://{HOST}:{port}/ (Ctrl-C stops it)", flush=True)
    print(
        f"  from another machine: ssh -L {port}:{HOST}:{port} USER@THIS-HOST, then http://localhost:{port}/",
        flush=True,
    )
    Server(app_command(), host=HOST, port=port, title="tui-trainer").serve()
    return 0


def _child() -> int:
    """One browser tab's app (textual-serve sets the web driver through the environment)."""
    from tui_trainer.app import make_app

    app = make_app()
    app.run()
    return int(app.return_code or 0)


if __name__ == "__main__":
    import sys

    if sys.argv[1:] == ["--child"]:
        sys.exit(_child())
    sys.exit("usage: tui-trainer serve [--port N]")
