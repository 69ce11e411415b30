"""``python -m tipnlp.cli.main``: the CLI entry point without the console script."""

from tipnlp.cli import app

if __name__ == "__main__":
    app()
