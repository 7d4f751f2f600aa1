"""`piano-ai` subcommands: each module has register(subparsers) (argparse only, cheap imports) and
run(args) -> exit status (heavy imports inside). piano_ai.cli lists them in COMMANDS."""
