"""Entry point. ``egactl --version`` answers before click is even imported."""

import sys


def main() -> None:
    if sys.argv[1:] == ["--version"]:
        from egactl import __version__

        print(f"egactl {__version__}")
        return
    from egactl.cli import main as run

    run()


if __name__ == "__main__":
    main()
