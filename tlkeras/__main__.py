import sys

from tlkeras.cli import main

sys.exit(main())
