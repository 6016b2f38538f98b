"""`python -m ccp.cli`: the same as the `ccp` command."""

import sys

from ccp.cli import main

sys.exit(main())
