"""Start the StoryChat browser UI: ``python app.py [flags]`` (see ``python app.py --help``)."""

import sys

from storychat.cli import main

if __name__ == "__main__":
    sys.exit(main(["serve", *sys.argv[1:]]))
