import sys

from storychat.cli import main

sys.exit(main())
